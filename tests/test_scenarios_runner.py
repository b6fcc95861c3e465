"""The runner: failures with file, line, expected, seen and virtual time; eventually; never."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.results import ScenarioResult
from scenarios.runner import run_all
from scenarios.validation import load_scenario

SESSION = """\
  - app: create_session
    with: {patient_id: p1, return_url: "https://app.example/done"}
    save: s
"""


def run(tmp_path: Path, body: str, name: str = "t") -> ScenarioResult:
    path = tmp_path / f"{name}.scenario.yaml"
    path.write_text(f"name: {name}\nsteps:\n{SESSION}{body}")
    (result,) = run_all([load_scenario(path)])
    return result


def test_a_passing_scenario(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "  - expect:\n      app: get_session\n      with: {session_id: '${s.id}'}\n"
        "      json: {status: open, id: '${s.id}', connections: {length: 0}}\n",
    )
    assert result.status == "passed", result.failure and result.failure.text()
    assert [s.status for s in result.steps] == ["passed", "passed"]


def test_wrong_expectation_shows_file_line_expected_seen_and_virtual_time(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "  - clock: {advance: 10m}\n"
        "  - expect:\n      app: get_session\n      with: {session_id: '${s.id}'}\n"
        "      json:\n        status: complete\n",
    )
    assert result.status == "failed"
    failure = result.failure
    assert failure is not None
    assert (failure.file, failure.line, failure.step) == (str(tmp_path / "t.scenario.yaml"), 11, 2)
    assert failure.expected == "equals 'complete'" and failure.seen == "'open'"
    assert failure.virtual_time == "2030-01-01T00:10:00.000Z"
    text = failure.text()
    assert f"{tmp_path / 't.scenario.yaml'}:11:17 (step 3)" in text
    assert "GET /patient-sessions/ps_" in text and "POST /_sim/clock/advance -> 200" in text
    assert result.steps[-1].status == "failed"


def test_a_failing_app_call_without_expect_fails_with_the_response(tmp_path: Path) -> None:
    result = run(tmp_path, "  - app: get_patient\n    with: {patient_id: nobody}\n")
    assert result.status == "failed" and result.failure is not None
    assert result.failure.line == 6 and "answered 404" in result.failure.message
    assert "resource_not_found" in (result.failure.seen or "")


def test_later_steps_are_skipped_after_a_failure(tmp_path: Path) -> None:
    result = run(tmp_path, "  - expect: {status: 201}\n  - clock: {advance: 1m}\n")
    assert [s.status for s in result.steps] == ["passed", "failed", "skipped"]


def test_eventually_passes_at_exactly_the_first_instant(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "  - eventually:\n      within: 2h\n      expect:\n        app: get_session\n"
        "        with: {session_id: '${s.id}'}\n        json: {status: expired}\n",
    )
    assert result.status == "passed", result.failure and result.failure.text()
    assert result.steps[1].virtual_time == "2030-01-01T00:30:00.000Z"  # expires_at, not later


def test_eventually_fails_at_the_deadline_with_the_last_value(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "  - eventually:\n      within: 20m\n      expect:\n        app: get_session\n"
        "        with: {session_id: '${s.id}'}\n        json: {status: expired}\n",
    )
    assert result.status == "failed" and result.failure is not None
    assert result.failure.virtual_time == "2030-01-01T00:20:00.000Z"
    assert result.failure.seen == "'open' (last value, at 2030-01-01T00:20:00.000Z)"
    assert "still not true after 20m" in result.failure.message
    assert result.failure.line == 11


def test_never_fails_at_the_first_instant_it_holds(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "  - never:\n      during: 1d\n      expect:\n        app: get_session\n"
        "        with: {session_id: '${s.id}'}\n        json: {status: expired}\n",
    )
    assert result.status == "failed" and result.failure is not None
    assert result.failure.virtual_time == "2030-01-01T00:30:00.000Z"
    assert "held at 2030-01-01T00:30:00.000Z (30m after the step began)" in result.failure.message


def test_never_passes_when_it_does_not_hold(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "  - never:\n      during: 29m\n      expect:\n        app: get_session\n"
        "        with: {session_id: '${s.id}'}\n        json: {status: expired}\n",
    )
    assert result.status == "passed"
    assert result.steps[1].virtual_time == "2030-01-01T00:29:00.000Z"


@pytest.mark.parametrize(
    ("matcher", "ok"),
    [
        ("{regex: '^ps_'}", True),
        ("{one_of: [a, b]}", False),
        ("{not: x}", True),
        ("{exists: true}", True),
        ("{absent: true}", False),
        ("{length: {gte: 20, lte: 40}}", True),
        ("{contains: ps_}", True),
    ],
)
def test_matchers(tmp_path: Path, matcher: str, ok: bool) -> None:
    result = run(tmp_path, f"  - expect:\n      json:\n        id: {matcher}\n")
    assert result.passed is ok


def test_webhook_arrivals_in_an_inbox(tmp_path: Path) -> None:
    path = tmp_path / "w.scenario.yaml"
    path.write_text(
        "name: w\nsteps:\n  - inbox: {name: box, sequence: [500, 200]}\n"
        "  - app: create_patient\n    with: {patient_id: p1}\n"
        "  - webhook: {fire: records.sync.failed, patient_id: p1,"
        " connection_id: '${sources.summit-epic}'}\n"
        "  - eventually:\n      within: 2m\n      expect:\n        inbox: box\n"
        "        webhooks: {type: records.sync.failed, count: 2, attempt: 2,"
        " signature_valid: true, order: [records.sync.failed, records.sync.failed]}\n"
    )
    (result,) = run_all([load_scenario(path)])
    assert result.passed, result.failure and result.failure.text()
    assert result.steps[-1].virtual_time == "2030-01-01T00:01:00.000Z"  # the +1 min retry
    lanes = {e["lane"] for e in result.timeline}
    assert lanes == {"connection", "webhook"}
