"""A request on a manual clock reads its clock once, from the workspace row of its API key."""

from __future__ import annotations

from simulator.core.timeutil import parse_iso
from simulator.testing import Sim

CLOCK_READ = "SELECT clock_mode, clock_manual_ms, clock_offset_ms FROM workspaces"


def _statements(sim: Sim, call):
    seen: list[str] = []
    sim.runtime.store.trace(seen.append)
    try:
        result = call()
    finally:
        sim.runtime.store.trace(None)
    return result, seen


def _new_session(api):
    return api.post(
        "/patient-sessions",
        {"patient_id": "p1", "return_url": "https://app.example/r", "expires_in": 600},
    )


def test_a_request_on_a_manual_clock_does_not_read_the_clock_again(sim: Sim) -> None:
    api, _ = sim.new_workspace(seed=1, clock="manual")
    now = parse_iso(api.get("/_sim/clock").json["now"])
    resp, seen = _statements(sim, lambda: _new_session(api))
    assert resp.status_code == 200
    assert not [s for s in seen if s.startswith(CLOCK_READ)]
    assert parse_iso(resp.json["expires_at"]) == now + 600_000


def test_a_real_clock_is_read_when_asked(sim: Sim) -> None:
    api, _ = sim.new_workspace(seed=1, clock="real")
    resp, seen = _statements(sim, lambda: _new_session(api))
    assert resp.status_code == 200
    assert [s for s in seen if s.startswith(CLOCK_READ)]


def test_a_move_during_the_request_is_what_the_rest_of_it_sees(sim: Sim) -> None:
    api, _ = sim.new_workspace(seed=1, clock="manual")
    before = parse_iso(api.get("/_sim/clock").json["now"])
    moved = api.advance(90)
    assert parse_iso(moved["now"]) == before + 90_000
    assert parse_iso(api.get("/_sim/clock").json["now"]) == before + 90_000
    reset = api.post("/_sim/reset").json  # the clock goes back to the wall time
    assert parse_iso(reset["clock"]["now"]) < before + 90_000
    assert parse_iso(api.get("/_sim/clock").json["now"]) == parse_iso(reset["clock"]["now"])


def test_nested_requests_keep_the_outer_pin_until_the_outer_request_ends(sim: Sim) -> None:
    api, _ = sim.new_workspace(seed=1, clock="manual")
    session = _new_session(api).json
    connected = api.post(
        f"/_sim/patient-sessions/{session['id']}/connect",
        {"source": "fhirsrc_01JGFJJZ00W9QAJQZQHWWQADWX", "username": "alice"},
    ).json
    assert connected["connection"]["status"] == "active"
    assert not sim.runtime.clocks._pins()  # nothing is left pinned in this thread
