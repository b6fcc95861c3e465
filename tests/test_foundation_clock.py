"""The virtual clock per workspace and the jobs it runs (session expiry first)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from werkzeug.test import Client

from simulator.compose import build_runtime
from simulator.core.config import Config
from simulator.core.runtime import Ticker
from simulator.core.timeutil import iso, parse_iso
from simulator.domain import sessions
from simulator.testing import Api, Sim
from simulator.web.app import create_app

RETURN_URL = "https://app.example/done"


def new_session(api: Api, patient_id: str = "p1", **fields) -> dict:
    resp = api.post(
        "/patient-sessions", {"patient_id": patient_id, "return_url": RETURN_URL, **fields}
    )
    assert resp.status_code == 200, resp.json
    return resp.json


def status_of(api: Api, session_id: str) -> str:
    return api.get(f"/patient-sessions/{session_id}").json["status"]


def clock_ms(api: Api) -> int:
    return parse_iso(api.get("/_sim/clock").json["now"])


@pytest.fixture
def expiries(sim: Sim) -> list[tuple[str, int]]:
    """Every session expiry as it happens: (session id, the workspace clock at that moment)."""
    seen: list[tuple[str, int]] = []
    sim.runtime.hooks.subscribe(
        sessions.EXPIRED, lambda rt, ws, sid: seen.append((sid, rt.now(ws)))
    )
    return seen


def test_session_is_open_one_second_before_expiry_and_expired_at_it(api: Api) -> None:
    session = new_session(api, expires_in=60)
    created = parse_iso(session["created_at"])
    assert parse_iso(session["expires_at"]) == created + 60_000

    assert api.advance(59)["jobs_run"] == 0
    assert clock_ms(api) == created + 59_000
    assert status_of(api, session["id"]) == "open"

    result = api.advance(1)
    assert result == {"now": iso(created + 60_000), "mode": "manual", "jobs_run": 1}
    assert status_of(api, session["id"]) == "expired"


def test_day_long_advance_expires_a_thousand_sessions_each_once_at_its_own_instant(
    sim: Sim, api: Api, expiries: list[tuple[str, int]]
) -> None:
    rng = random.Random(7)
    expected: dict[str, int] = {}
    for i in range(1000):
        session = new_session(api, f"patient-{i % 50}", expires_in=rng.randint(60, 86400))
        expected[session["id"]] = parse_iso(session["expires_at"])
    start = clock_ms(api)

    result = api.advance(24 * 3600)

    assert result["jobs_run"] == 1000
    assert parse_iso(result["now"]) == start + 24 * 3600 * 1000
    counts = Counter(sid for sid, _ in expiries)
    assert set(counts) == set(expected) and set(counts.values()) == {1}
    # each job saw the clock at its own due time, and they ran in due order
    assert all(at == expected[sid] for sid, at in expiries)
    assert [at for _, at in expiries] == sorted(at for _, at in expiries)
    statuses = sim.runtime.store.all(
        "SELECT status, COUNT(*) AS n FROM patient_sessions GROUP BY status"
    )
    assert {r["status"]: r["n"] for r in statuses} == {"expired": 1000}
    jobs = sim.runtime.store.all(
        "SELECT state, COUNT(*) AS n FROM jobs WHERE kind = ? GROUP BY state",
        (sessions.EXPIRE_JOB,),
    )
    assert {r["state"]: r["n"] for r in jobs} == {"done": 1000}
    # nothing runs twice
    assert api.advance(7 * 24 * 3600)["jobs_run"] == 0
    assert api.post("/_sim/clock/run-until-idle").json["jobs_run"] == 0
    assert len(expiries) == 1000


def test_get_clock_reports_mode_and_now(sim: Sim) -> None:
    api, created = sim.new_workspace(clock="manual")
    body = api.get("/_sim/clock").json
    assert body == created["clock"]
    assert body["mode"] == "manual"
    assert api.get("/_sim/clock").json == body  # a manual clock does not move by itself


def test_set_moves_forward_to_an_instant_and_runs_what_falls_due(api: Api) -> None:
    session = new_session(api, expires_in=600)
    target = parse_iso(session["expires_at"]) + 1234
    resp = api.post("/_sim/clock/set", {"now": iso(target)})
    assert resp.status_code == 200
    assert resp.json == {"now": iso(target), "mode": "manual", "jobs_run": 1}
    assert status_of(api, session["id"]) == "expired"
    # setting the current instant again is allowed and runs nothing
    assert api.post("/_sim/clock/set", {"now": iso(target)}).json["jobs_run"] == 0


def test_set_backwards_is_a_400_with_a_clear_message_and_moves_nothing(api: Api) -> None:
    before = clock_ms(api)
    resp = api.post("/_sim/clock/set", {"now": iso(before - 1)})
    assert resp.status_code == 400
    error = resp.json["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "invalid_data",
        "now",
    )
    assert "only moves forward" in error["message"] and iso(before) in error["message"]
    assert clock_ms(api) == before


@pytest.mark.parametrize(
    "body",
    [{"seconds": -1}, {"seconds": "10"}, {}, {"seconds": 1, "extra": 1}, {"seconds": None}],
)
def test_advance_rejects_bad_bodies(api: Api, body: dict) -> None:
    before = clock_ms(api)
    resp = api.post("/_sim/clock/advance", body)
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "invalid_data"
    assert clock_ms(api) == before


def test_fractional_seconds_advance_by_milliseconds(api: Api) -> None:
    before = clock_ms(api)
    api.advance(0.25)
    assert clock_ms(api) == before + 250


def test_run_until_idle_runs_everything_within_the_limit_and_stops_at_the_last_job(
    api: Api,
) -> None:
    short = new_session(api, expires_in=60)
    medium = new_session(api, expires_in=3600)
    long = new_session(api, expires_in=86400)

    limited = api.post("/_sim/clock/run-until-idle", {"max_seconds": 3600}).json
    assert limited["jobs_run"] == 2
    assert limited["now"] == medium["expires_at"]
    assert [status_of(api, s["id"]) for s in (short, medium, long)] == [
        "expired",
        "expired",
        "open",
    ]

    rest = api.post("/_sim/clock/run-until-idle").json  # default limit: 7 days
    assert rest["jobs_run"] == 1 and rest["now"] == long["expires_at"]
    idle = api.post("/_sim/clock/run-until-idle").json
    assert idle == {"now": long["expires_at"], "mode": "manual", "jobs_run": 0}


def test_mode_switch_keeps_the_instant_and_real_mode_follows_wall_time(sim: Sim) -> None:
    api, _ = sim.new_workspace(clock="manual")
    api.advance(3600)
    frozen = clock_ms(api)

    switched = api.post("/_sim/clock/mode", {"mode": "real"}).json
    assert switched["mode"] == "real" and switched["jobs_run"] == 0
    assert abs(parse_iso(switched["now"]) - frozen) < 1000
    assert api.get("/_sim/clock").json["mode"] == "real"
    # real mode: wall time plus the offset, so the clock stays an hour ahead of wall time
    ahead = clock_ms(api) - sim.runtime.wall()
    assert 3_598_000 < ahead < 3_601_000

    back = api.post("/_sim/clock/mode", {"mode": "manual"}).json
    assert back["mode"] == "manual"
    assert clock_ms(api) == parse_iso(back["now"])

    bad = api.post("/_sim/clock/mode", {"mode": "sideways"})
    assert bad.status_code == 400 and bad.json["error"]["param"] == "mode"


def test_advancing_in_real_mode_moves_the_offset_and_runs_jobs(sim: Sim) -> None:
    api, _ = sim.new_workspace(clock="real")
    session = new_session(api, expires_in=120)
    result = api.advance(120)
    assert result["mode"] == "real" and result["jobs_run"] == 1
    assert status_of(api, session["id"]) == "expired"


def test_clocks_of_workspaces_are_independent(sim: Sim) -> None:
    one, _ = sim.new_workspace(clock="manual")
    two, _ = sim.new_workspace(clock="manual")
    s1 = new_session(one, expires_in=60)
    s2 = new_session(two, expires_in=60)
    before = clock_ms(two)
    one.advance(3600)
    assert status_of(one, s1["id"]) == "expired"
    assert status_of(two, s2["id"]) == "open"
    assert clock_ms(two) == before


def test_jobs_due_at_one_instant_run_in_insertion_order(sim: Sim) -> None:
    ws = sim.runtime.default_workspace.id
    sim_api = sim.api()  # the default workspace, manual clock in tests
    ran: list[int] = []
    sim.runtime.scheduler.register("test.mark", lambda rt, job: ran.append(job.payload["n"]))
    due = sim.runtime.now(ws) + 5000
    for n in (3, 1, 2):
        sim.runtime.scheduler.schedule(ws, "test.mark", due, {"n": n})
    sim.runtime.scheduler.schedule(ws, "test.mark", due - 1, {"n": 0})
    assert sim_api.advance(5)["jobs_run"] == 4
    assert ran == [0, 3, 1, 2]


def test_real_mode_follows_wall_time_and_the_ticker_runs_due_jobs() -> None:
    """Real mode with a fake wall clock: no sleeping, the ticker's work is called directly."""
    wall = [1_800_000_000_000]
    rt = build_runtime(
        Config(default_clock="real", default_api_key="mb_sk_sbx_real_mode"), wall=lambda: wall[0]
    )
    try:
        api = Api(Client(create_app(rt)), "mb_sk_sbx_real_mode")
        session = new_session(api, expires_in=60)
        assert parse_iso(session["created_at"]) == wall[0]
        ticker = Ticker(rt, interval=60)  # not started: tick() is called by hand
        wall[0] += 59_000
        assert ticker.tick() == 0 and status_of(api, session["id"]) == "open"
        assert clock_ms(api) == wall[0]
        wall[0] += 1_000
        assert ticker.tick() == 1
        assert status_of(api, session["id"]) == "expired"
    finally:
        rt.close()
