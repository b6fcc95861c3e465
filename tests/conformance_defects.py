"""Defects injected into the simulator (by monkeypatching its functions) for exploration tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from simulator.domain import sessions
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


DEFECTS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "completion_sent_twice": completion_sent_twice,
    "refresh_failure_without_webhook": refresh_failure_without_webhook,
    "failed_becomes_active": failed_becomes_active,
    "retry_schedule_off_by_one": retry_schedule_off_by_one,
    "expiry_one_second_late": expiry_one_second_late,
}
