"""`connect-conformance`: run in process and over HTTP, list, select, reports, exit codes."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from click.testing import CliRunner
from test_foundation_restart import free_port, server

from conformance import cli, registry
from conformance.results import Outcome, Result
from conformance.target import Target

XSD = Path(__file__).with_name("junit-10.xsd")


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`connect-sim serve` as a child process on a free port, ready when /health answers."""
    tmp = tmp_path_factory.mktemp("served")
    port = free_port()
    with server(tmp / "sim.db", port, tmp / "serve.log"):
        yield f"http://127.0.0.1:{port}"


def test_run_in_process_passes_and_writes_reports(tmp_path: Path) -> None:
    junit, report, page = tmp_path / "j.xml", tmp_path / "r.json", tmp_path / "r.html"
    result = invoke(
        "run", "--examples", "0", "--junit", str(junit), "--json", str(report), "--html", str(page)
    )
    assert result.exit_code == 0, result.output
    total = len(registry.collect())
    for item in registry.collect():
        assert item.id in result.output
    assert "Summary" in result.output
    xmlschema.XMLSchema(str(XSD)).validate(str(junit))
    body = json.loads(report.read_text())
    assert body["summary"]["pass"] == total and len(body["results"]) == total
    assert body["meta"]["target"] == "in-process simulator" and body["meta"]["seed"] == 0
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_run_over_http_against_connect_sim_serve(served: str, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    result = invoke("run", "--base-url", served, "--examples", "0", "--json", str(report))
    assert result.exit_code == 0, result.output
    body = json.loads(report.read_text())
    assert body["meta"]["base_url"] == served and body["meta"]["control_plane"] is True
    assert body["summary"]["pass"] == len(registry.collect())
    assert all(x["url"].startswith(served) for r in body["results"] for x in r["exchanges"])


def test_only_and_skip_take_ids_areas_and_globs(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    result = invoke(
        "run",
        "--examples",
        "0",
        "--only",
        "SESS-00*, catalog,ERR-001",
        "--skip",
        "SESS-003,CAT-00[4-7]",
        "--json",
        str(report),
    )
    assert result.exit_code == 0, result.output
    ran = [r["id"] for r in json.loads(report.read_text())["results"]]
    want = [f"SESS-00{n}" for n in (1, 2, 4, 5, 6, 7, 8, 9)] + [f"CAT-00{n}" for n in (1, 2, 3)]
    assert sorted(ran) == sorted([*want, "ERR-001"])


def test_a_selection_of_nothing_is_a_usage_error() -> None:
    result = invoke("run", "--examples", "0", "--only", "NOPE-999")
    assert result.exit_code == 2
    assert "no check matches" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [["--seed", "-1"], ["--examples", "x"], ["--max-steps", "0"], ["--base-url"]],
)
def test_bad_options_are_usage_errors(args: list[str]) -> None:
    result = CliRunner().invoke(cli.main, ["run", *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_list_prints_every_check() -> None:
    result = invoke("list")
    assert result.exit_code == 0
    for item in registry.collect():
        assert item.id in result.output
    assert f"{len(registry.collect())} checks" in result.output


def test_list_json_matches_the_registry() -> None:
    result = invoke("list", "--json")
    rows = json.loads(result.output)
    assert [(r["id"], r["requirement"], r["source"]) for r in rows] == [
        (c.id, c.requirement, c.source) for c in registry.collect()
    ]
    assert {r["needs_control"] for r in rows} == {True, False}
    only = json.loads(invoke("list", "--json", "--only", "records").output)
    assert only and {r["area"] for r in only} == {"records"}


def test_list_markdown_is_one_table_per_area() -> None:
    result = invoke("list", "--markdown", "--only", "CAT-00[12],WH-003")
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert lines[0] == "### catalog" and "### webhooks" in lines
    assert sum(line.startswith("| CAT-") for line in lines) == 2
    assert "'\\*'" in result.output  # a literal * stays literal in Markdown


def _broken_target(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process target, with successful answers missing their X-Request-Id."""
    from simulator.core import webkit

    original = webkit.run_work_due_now

    def drop_request_id(resp: Any) -> None:
        if resp.status_code < 400:
            del resp.headers["X-Request-Id"]
        original(resp)

    monkeypatch.setattr(webkit, "run_work_due_now", drop_request_id)


def test_a_failing_check_exits_1_and_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _broken_target(monkeypatch)
    junit = tmp_path / "j.xml"
    result = invoke("run", "--examples", "0", "--only", "VER-001,PAT-001", "--junit", str(junit))
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "VER-001" in result.output
    text = junit.read_text()
    assert text.count("<failure") == 1 and "X-Request-Id" in text


def test_the_exploration_runs_after_the_checks_and_its_results_count(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []

    def explore(target: Target, **kwargs: Any) -> list[Result]:
        calls.append({"target": target, **kwargs})
        return [Result("EXP-1", "exploration", "model agrees", "§3", Outcome.FAIL, "diverged")]

    fake = types.ModuleType("conformance.explore")
    fake.explore = explore  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "conformance.explore", fake)
    report = tmp_path / "r.json"
    result = invoke(
        "run",
        "--only",
        "VER-004",
        "--examples",
        "3",
        "--max-steps",
        "4",
        "--seed",
        "9",
        "--reproducers",
        str(tmp_path / "repro"),
        "--json",
        str(report),
    )
    assert result.exit_code == 1, result.output
    (call,) = calls
    assert call["seed"] == 9 and call["examples"] == 3 and call["max_steps"] == 4
    assert call["reproducer_dir"] == tmp_path / "repro"
    assert [r["id"] for r in json.loads(report.read_text())["results"]] == ["VER-004", "EXP-1"]


def test_the_real_exploration_runs_and_reports(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    result = invoke(
        "run", "--only", "VER-004", "--examples", "2", "--max-steps", "5", "--json", str(report)
    )
    assert result.exit_code == 0, result.output
    outcomes = {r["id"]: r["outcome"] for r in json.loads(report.read_text())["results"]}
    assert outcomes == {"VER-004": "pass", "EXPL-001": "pass"}


def test_an_unreachable_base_url_is_reported_not_raised() -> None:
    result = CliRunner().invoke(
        cli.main,
        ["run", "--base-url", f"http://127.0.0.1:{free_port()}", "--examples", "0"],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    assert "cannot reach" in result.output and "Traceback" not in result.output


def test_an_unwritable_report_is_a_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "r.json"
    result = invoke("run", "--examples", "0", "--only", "VER-004", "--json", str(missing))
    assert result.exit_code == 1
    assert "cannot write a report" in result.output and "Traceback" not in result.output


def test_grade_receiver_is_a_command_of_the_suite() -> None:
    from click.testing import CliRunner

    from conformance.cli import main

    listed = CliRunner().invoke(main, ["--help"])
    assert "grade-receiver" in listed.output
    refused = CliRunner().invoke(
        main, ["grade-receiver", "--url", "ftp://x", "--secret", "whsec_a"]
    )
    assert refused.exit_code == 2 and "Traceback" not in refused.output
