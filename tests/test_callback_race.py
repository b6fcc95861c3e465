"""A callback's `state` is single use even when two callbacks race (no check-then-act)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flowkit import EPIC, new_session

from simulator.clients import smart
from simulator.domain import attempts
from simulator.testing import Api, Sim


def test_two_callbacks_with_one_state_exchange_the_code_once(
    sim: Sim, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_handle, real_by_state, real_exchange = (
        attempts.handle_callback,
        attempts.by_state,
        smart.exchange_code,
    )
    seen: dict[str, Any] = {}
    exchanges: list[str] = []
    second: list[attempts.Outcome] = []

    def recording(rt: Any, args: dict[str, str]) -> attempts.Outcome:
        seen["args"] = dict(args)
        return real_handle(rt, args)

    def read_before_the_first_used_it(store: Any, state: str) -> attempts.Attempt | None:
        row = real_by_state(store, state)
        return None if row is None else dataclasses.replace(row, state_used_ms=None)

    def exchange(*args: Any, **kwargs: Any) -> Any:
        exchanges.append(kwargs["code"])
        if len(exchanges) == 1:
            # the same browser redirect delivered twice: the second request read the
            # attempt before the first marked its state used
            monkeypatch.setattr(attempts, "by_state", read_before_the_first_used_it)
            second.append(real_handle(sim.runtime, seen["args"]))
            monkeypatch.setattr(attempts, "by_state", real_by_state)
        return real_exchange(*args, **kwargs)

    monkeypatch.setattr(attempts, "handle_callback", recording)
    monkeypatch.setattr(smart, "exchange_code", exchange)
    session = new_session(api)
    result = api.connect(session["id"], source=EPIC)

    assert len(exchanges) == 1, exchanges
    assert second and second[0].status == 400
    assert "already used" in second[0].context["message"]
    assert result["connection"]["status"] == "active"
    statuses = [
        c["status"] for c in api.get(f"/patient-sessions/{session['id']}").json["connections"]
    ]
    assert statuses == ["active"]
