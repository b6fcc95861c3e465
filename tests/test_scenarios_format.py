"""Scenario files: loading with line numbers, the JSON Schema, and plain-words problems."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest

from scenarios.durations import DurationError, format_duration, parse_duration
from scenarios.loader import load_text
from scenarios.references import ReferenceError_, resolve
from scenarios.schema import build_schema, shipped_schema
from scenarios.validation import InvalidScenario, load_scenario

GOOD = """\
name: a session expires
steps:
  - app: create_session
    with: {patient_id: p1, return_url: "https://app.example/done"}
    save: s
  - clock: {advance: 30m}
  - expect:
      app: get_session
      with: {session_id: "${s.id}"}
      json: {status: expired}
"""


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "bad.scenario.yaml"
    path.write_text(text)
    with pytest.raises(InvalidScenario) as info:
        load_scenario(path)
    return [str(p) for p in info.value.problems]


def test_durations() -> None:
    assert parse_duration("90m") == 90 * 60_000
    assert parse_duration("1d2h") == 26 * 3_600_000
    assert parse_duration("1h30m15s500ms") == 5_415_500
    assert parse_duration(1.5) == 1500
    assert format_duration(26 * 3_600_000 + 1) == "1d2h1ms"
    for bad in ("90", "9x", "m", "-1s", ""):
        with pytest.raises(DurationError):
            parse_duration(bad)


def test_references_keep_types_and_format_into_text() -> None:
    saved = {"s": {"id": "ps_1", "items": [{"n": 3}], "ok": True}}
    assert resolve("${s.items[0].n}", saved.__getitem__) == 3
    assert resolve("id=${s.id} ok=${s.ok}", saved.__getitem__) == "id=ps_1 ok=true"
    assert resolve({"k": ["${s.id}"]}, saved.__getitem__) == {"k": ["ps_1"]}
    with pytest.raises(ReferenceError_, match="s.items\\[5\\]"):
        resolve("${s.items[5]}", saved.__getitem__)


def test_loader_keeps_lines_and_columns_of_values_and_keys() -> None:
    doc = load_text(GOOD, "f.yaml")
    assert doc.where(("steps", 1, "clock", "advance")) == (6, 22)
    assert doc.where(("steps", 2, "expect", "json"), key=True) == (10, 7)
    assert doc.where(("steps", 9)) == doc.where(("steps",))


def test_a_good_file_validates(tmp_path: Path) -> None:
    path = tmp_path / "good.scenario.yaml"
    path.write_text(GOOD)
    scenario = load_scenario(path)
    assert scenario.name == "a session expires" and len(scenario.steps) == 3
    jsonschema.validate(load_text(GOOD).data, build_schema())


def test_shipped_schema_file_is_the_built_schema() -> None:
    assert shipped_schema() == build_schema()
    jsonschema.Draft202012Validator.check_schema(shipped_schema())


def test_bad_yaml(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, "name: x\nsteps:\n  - clock: {advance: [1,\n")
    assert problem.startswith(f"{tmp_path / 'bad.scenario.yaml'}:4:")
    assert "not valid YAML" in problem


def test_unknown_step_kind_names_the_nearest(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, "name: x\nsteps:\n  - clok: {advance: 1m}\n")
    assert problem.endswith(
        "bad.scenario.yaml:3:5: unknown step kind 'clok' (did you mean 'clock'?); step kinds"
        " are app, request, patient, clock, fault, inbox, webhook, expect, eventually, never"
    )


def test_wrong_type(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, "name: x\nsteps:\n  - fault: {inject: deny, times: two}\n")
    assert problem.endswith(":3:34: steps[0].fault.times must be a whole number, not text")


def test_bad_duration(tmp_path: Path) -> None:
    text = "name: x\nsteps:\n  - eventually:\n      within: 2hours\n      expect: {status: 200}\n"
    (problem,) = _problems(tmp_path, text)
    assert ":4:15: steps[0].eventually.within: '2hours' is not a duration" in problem


def test_unknown_reference(tmp_path: Path) -> None:
    text = (
        "name: x\nsteps:\n  - app: create_session\n    with: {patient_id: p1}\n    save: sess\n"
        "  - app: get_session\n    with: {session_id: '${ses.id}'}\n"
    )
    (problem,) = _problems(tmp_path, text)
    assert problem.endswith(
        ":7:24: unknown ${ses}: no earlier step saves 'ses' (did you mean 'sess'?)"
    )


def test_a_reference_to_a_later_save_is_unknown(tmp_path: Path) -> None:
    text = (
        "name: x\nsteps:\n  - app: get_session\n    with: {session_id: '${s.id}'}\n"
        "  - app: create_session\n    save: s\n"
    )
    (problem,) = _problems(tmp_path, text)
    assert ":4:24: unknown ${s}" in problem


def test_every_problem_is_listed_one_per_line(tmp_path: Path) -> None:
    text = (
        "name: 3\nsteps:\n  - clok: {}\n  - clock: {advance: 9x}\n"
        "  - patient: connect\n    session: x\n    username: alice\n    sorce: epic\n"
    )
    problems = _problems(tmp_path, text)
    lines = [re.search(r"\.yaml:(\d+):\d+: ", p).group(1) for p in problems]
    assert lines == ["1", "3", "4", "8"]
    assert "name must be text, not a whole number" in problems[0]
    assert "unknown field 'sorce' in steps[2] (did you mean 'source'?)" in problems[3]
