"""Token keep-alive, refresh failure and lapse, on the virtual clock."""

from __future__ import annotations

from flowkit import BLUEBUTTON, CERNER, EPIC, active_connection, events_of

DAY = 86400


def _view(api, conn):
    return api.get(f"/_sim/connections/{conn['id']}").json


def _status(api, conn):
    return next(c for c in api.get("/patients/p1").json["connections"] if c["id"] == conn["id"])


def test_cerner_tokens_refreshed_before_each_570_s_expiry_for_30_days(api):
    conn = active_connection(api, "alice", CERNER)
    first = _view(api, conn)["tokens"]
    assert first["access_expires_at"] == _plus(api.now(), 570)
    for _ in range(30):
        api.advance(DAY)
        view = _view(api, conn)
        assert view["status"] == "active"
        # the token in hand is always valid: refreshed before it ran out
        assert view["tokens"]["access_expires_at"] > api.now()
    # refreshed at half the 570 s lifetime (285 s, shorter than the 5 min lead)
    assert _view(api, conn)["tokens"]["refresh_count"] == (30 * DAY) // 285
    assert events_of(api, "connection.token_refresh_failed") == []
    assert events_of(api, "records.sync.failed") == []


def test_refresh_revoked_after_two_ends_refresh_failed_at_the_third(api):
    conn = active_connection(api, "alice+refresh_revoked_after:2", EPIC)
    lead = 3600 - 300
    api.advance(lead)
    api.advance(lead)
    view = _view(api, conn)
    assert view["status"] == "active" and view["tokens"]["refresh_count"] == 2
    api.advance(lead - 1)
    assert _status(api, conn)["status"] == "active"
    api.advance(1)
    entry = _status(api, conn)
    assert entry["status"] == "refresh_failed"
    assert entry["failure_code"] == "invalid_grant"
    assert entry["failure_at"] == api.now()
    view = _view(api, conn)
    assert view["tokens"]["access_token"] is None and view["tokens"]["refresh_token"] is None
    assert view["scheduled"] == []
    (event,) = events_of(api, "connection.token_refresh_failed")
    assert event["data"]["object"] == {
        "id": conn["id"],
        "connection_id": EPIC,
        "status": "refresh_failed",
        "failure_code": "invalid_grant",
        "failure_at": api.now(),
        "created_at": conn["created_at"],
    }
    api.advance(3 * DAY)
    assert len(events_of(api, "connection.token_refresh_failed")) == 1
    assert len(events_of(api, "records.sync.completed")) == 1


def test_transient_refresh_errors_recover_without_a_state_change(api):
    conn = active_connection(api, "alice+refresh_503:2", EPIC)
    api.advance(3300)
    view = _view(api, conn)
    assert view["status"] == "active" and view["tokens"]["refresh_count"] == 0
    assert view["tokens"]["last_refresh_error"] == "temporarily_unavailable"
    api.advance(30 + 60)
    view = _view(api, conn)
    assert view["status"] == "active" and view["tokens"]["refresh_count"] == 1
    assert events_of(api, "connection.token_refresh_failed") == []


def test_control_plane_refresh_failure_revokes_now(api):
    conn = active_connection(api, "alice", EPIC)
    resp = api.post(f"/_sim/connections/{conn['id']}/refresh-failure")
    assert resp.status_code == 200
    assert resp.json["status"] == "refresh_failed"
    assert resp.json["tokens"]["refresh_token"] is None
    assert len(events_of(api, "connection.token_refresh_failed")) == 1
    again = api.post(f"/_sim/connections/{conn['id']}/refresh-failure")
    assert again.status_code == 409


def test_one_time_payer_grant_expires_when_its_access_token_runs_out(api):
    conn = active_connection(api, "mia+one_time", BLUEBUTTON)
    view = _view(api, conn)
    assert view["tokens"]["refresh_token"] is None
    assert view["tokens"]["access_expires_at"] == _plus(api.now(), 10 * 3600)
    api.advance(10 * 3600 - 1)
    assert _status(api, conn)["status"] == "active"
    api.advance(1)
    entry = _status(api, conn)
    assert entry["status"] == "expired"
    assert entry["failure_code"] == "access_expired"
    assert events_of(api, "connection.token_refresh_failed") == []


def test_pull_now_from_the_control_plane(api):
    conn = active_connection(api, "alice", EPIC)
    resp = api.post(f"/_sim/connections/{conn['id']}/pull")
    assert resp.status_code == 200
    assert resp.json["last_pull"]["reason"] == "manual"
    assert len(events_of(api, "records.sync.completed")) == 2


def _plus(iso_now: str, seconds: int) -> str:
    from simulator.core.timeutil import iso, parse_iso

    return iso(parse_iso(iso_now) + seconds * 1000)


def test_refresh_timeout_is_transient_and_recovers(sim, api):
    sim.runtime.config.http_timeout = 0.3
    conn = active_connection(api, "alice+refresh_timeout:0.6", EPIC)
    api.advance(3300)
    view = _view(api, conn)
    assert view["status"] == "active" and view["tokens"]["refresh_count"] == 0
    assert view["tokens"]["last_refresh_error"] == "timeout"
    api.advance(30)
    view = _view(api, conn)
    assert view["status"] == "active" and view["tokens"]["refresh_count"] == 1
    assert events_of(api, "connection.token_refresh_failed") == []


def test_on_demand_policy_refreshes_only_when_a_pull_needs_the_token(sim, api):
    sim.runtime.config.refresh_policy = "on_demand"
    conn = active_connection(api, "alice", CERNER)
    assert [j["kind"] for j in _view(api, conn)["scheduled"]] == ["records.pull"]
    api.advance(DAY)
    view = _view(api, conn)
    assert view["tokens"]["refresh_count"] == 1  # once, for the re-pull
    assert view["last_pull"]["status"] == "completed"
    assert view["status"] == "active"
