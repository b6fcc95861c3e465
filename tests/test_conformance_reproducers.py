"""Defects injected into the simulator are found, shrunk and written as scenario reproducers.

Each defect is a monkeypatch on a simulator function (never a switch in the
product). For each, the exploration must fail naming a reproducer file; the
file validates against `scenarios/scenario.schema.json`; replaying it with the
scenario runner fails while the patch is in place and passes once it is gone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from conformance.explore import explore
from conformance.results import Outcome
from conformance.target import in_process_target
from scenarios.results import ScenarioResult
from scenarios.runner import run_all
from scenarios.validation import load_scenario
from simulator.cli import main
from simulator.domain import connections, sessions
from simulator.domain.webhooks import deliveries, publish

COMPLETED = "patient_session.completed"
REFRESH_FAILED = "connection.token_refresh_failed"


def completion_sent_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    original = publish.emit

    def emit(rt: Any, ws_id: str, event_type: str, data: dict[str, Any]) -> str:
        occurrence = original(rt, ws_id, event_type, data)
        if event_type == COMPLETED:
            original(rt, ws_id, event_type, data)
        return occurrence

    monkeypatch.setattr(publish, "emit", emit)


def refresh_failure_without_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    original = publish.emit

    def emit(rt: Any, ws_id: str, event_type: str, data: dict[str, Any]) -> str:
        if event_type == REFRESH_FAILED:
            return "occ_dropped"
        return original(rt, ws_id, event_type, data)

    monkeypatch.setattr(publish, "emit", emit)


def failed_becomes_active(monkeypatch: pytest.MonkeyPatch) -> None:
    """When a session ends, its failed attempts turn `active`."""
    original = sessions.set_status

    def set_status(rt: Any, ws_id: str, session_id: str, event: str) -> Any:
        session = original(rt, ws_id, session_id, event)
        rt.store.execute(
            "UPDATE connections SET status = 'active' WHERE workspace_id = ? AND session_id = ?"
            " AND status = 'failed'",
            (ws_id, session_id),
        )
        return session

    monkeypatch.setattr(sessions, "set_status", set_status)


def retry_schedule_off_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every retry waits the delay of the step after its own (attempt 2 after 5 min)."""
    shifted = (0, *deliveries.SCHEDULE_MS[2:], deliveries.SCHEDULE_MS[-1])
    monkeypatch.setattr(deliveries, "SCHEDULE_MS", shifted)


def expiry_one_second_late(monkeypatch: pytest.MonkeyPatch) -> None:
    original = sessions.create

    def create(rt: Any, ws_id: str, body: dict[str, Any], *args: Any) -> Any:
        session = original(rt, ws_id, body, *args)
        rt.scheduler.cancel(ws_id, kind=sessions.EXPIRE_JOB, key=session.id)
        rt.scheduler.schedule(
            ws_id,
            sessions.EXPIRE_JOB,
            session.expires_ms + 1000,
            {"session_id": session.id},
            key=session.id,
        )
        return session

    monkeypatch.setattr(sessions, "create", create)


def access_token_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """A patient's active connections show their access token."""
    original = connections.patient_item

    def patient_item(conn: Any) -> dict[str, Any]:
        item = original(conn)
        if conn.status == "active":
            item["access_token"] = "leaked-access-token"
        return item

    monkeypatch.setattr(connections, "patient_item", patient_item)


DEFECTS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "completion_sent_twice": completion_sent_twice,
    "refresh_failure_without_webhook": refresh_failure_without_webhook,
    "failed_becomes_active": failed_becomes_active,
    "retry_schedule_off_by_one": retry_schedule_off_by_one,
    "expiry_one_second_late": expiry_one_second_late,
    "access_token_shown": access_token_shown,
}


# -- the tests -----------------------------------------------------------------------------

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "scenarios" / "scenario.schema.json").read_text()
)
# (defect, seed, examples): budgets small enough to keep the file quick, seeds that reach it
CASES = [
    ("completion_sent_twice", 0, 10),
    ("refresh_failure_without_webhook", 1, 20),
    ("failed_becomes_active", 0, 10),
    ("retry_schedule_off_by_one", 1, 20),
    ("expiry_one_second_late", 2, 20),
    ("access_token_shown", 0, 10),
]


def replay(path: Path) -> ScenarioResult:
    """Run a scenario file in process, on a fresh simulator."""
    return run_all([load_scenario(path)])[0]


@pytest.mark.parametrize(("defect", "seed", "examples"), CASES, ids=[c[0] for c in CASES])
def test_a_defect_is_found_and_its_reproducer_replays_it(
    defect: str, seed: int, examples: int, tmp_path: Path
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        DEFECTS[defect](patch)
        [result] = explore(
            in_process_target(),
            seed=seed,
            examples=examples,
            reproducer_dir=tmp_path,
            shrink_s=2,
        )
        assert result.outcome is Outcome.FAIL, result.message
        assert (result.id, result.area) == ("EXPL-001", "exploration")
        path = Path(result.artifacts["reproducer"])
        assert str(path) in result.message and path.parent == tmp_path
        assert path.name.endswith(".scenario.yaml")
        document = yaml.safe_load(path.read_text())
        jsonschema.validate(document, SCHEMA)
        assert "expect" in document["steps"][-1]
        broken = replay(path)
        assert broken.status == "failed", broken.failure
        assert broken.failure is not None and broken.failure.step == len(document["steps"]) - 1
    fixed = replay(path)
    assert fixed.status == "passed", fixed.failure and fixed.failure.text()


def test_the_command_line_runs_a_reproducer(tmp_path: Path) -> None:
    """`connect-sim scenario run FILE` exits 1 on the defect and 0 once it is gone."""
    with pytest.MonkeyPatch.context() as patch:
        DEFECTS["failed_becomes_active"](patch)
        [result] = explore(
            in_process_target(), seed=0, examples=10, reproducer_dir=tmp_path, shrink_s=2
        )
        path = result.artifacts["reproducer"]
        broken = CliRunner().invoke(main, ["scenario", "run", path])
        assert broken.exit_code == 1, broken.output
    fixed = CliRunner().invoke(main, ["scenario", "run", path])
    assert fixed.exit_code == 0, fixed.output
    assert "1 passed, 0 failed" in fixed.output
