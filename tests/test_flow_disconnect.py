"""Disconnecting a connection, and the promise that tokens never leave the simulator."""

from __future__ import annotations

import re

from flowkit import EPIC, active_connection, connect, done, new_session


def test_disconnect_revokes_and_marks_disconnected(api):
    conn = active_connection(api)
    resp = api.delete(f"/patients/p1/connections/{conn['id']}")
    assert resp.status_code == 200
    assert resp.json == {"id": conn["id"], "resource_type": "connection", "disconnected": True}
    entry = api.get("/patients/p1").json["connections"][0]
    assert entry["status"] == "disconnected"
    view = api.get(f"/_sim/connections/{conn['id']}").json
    assert view["tokens"]["access_token"] is None
    assert view["tokens"]["refresh_token"] is None
    assert view["scheduled"] == []
    again = api.delete(f"/patients/p1/connections/{conn['id']}")
    assert again.status_code == 409


def test_disconnect_unknown_or_foreign_connection_is_404(sim, api):
    conn = active_connection(api)
    assert api.delete("/patients/p1/connections/conn_nope").status_code == 404
    other, _ = sim.new_workspace(seed=1)
    other.post("/patients", {"patient_id": "p1"})
    assert other.delete(f"/patients/p1/connections/{conn['id']}").status_code == 404
    assert api.get("/patients/p1").json["connections"][0]["status"] == "active"


TOKENISH = re.compile(r"(access_token|refresh_token)\W+[:=]\W*[A-Za-z0-9_\-\.]{16,}")


def test_no_response_or_page_contains_a_token(sim, api):
    """Every API answer and hosted page of a whole flow is searched for the real token values."""
    bodies: list[str] = []
    session = new_session(api)
    bodies.append(sim.client.get(session["url"].replace("http://sim.test", "")).get_data(True))
    result = connect(api, session["id"], "alice", EPIC)
    conn_id = result["connection"]["id"]
    bodies.append(str(result))
    bodies.append(
        sim.client.get(session["url"].replace("http://sim.test", "") + "/complete").get_data(True)
    )
    bodies.append(str(done(api, session["id"])))
    for path in (
        "/patients/p1",
        f"/patient-sessions/{session['id']}",
        "/patients/p1/patient-sessions",
        "/patients/p1/records",
        f"/_sim/connections/{conn_id}",
        "/_sim/events",
    ):
        resp = api.get(path)
        assert resp.status_code == 200, path
        bodies.append(resp.get_data(as_text=True))
    stored = sim.runtime.store.all(
        "SELECT access_token, refresh_token FROM connection_tokens WHERE attempt_id IN"
        " (SELECT attempt_id FROM connections WHERE id = ?)",
        (conn_id,),
    )
    secrets = [v for row in stored for v in row if v]
    assert len(secrets) >= 2, "the flow should have stored an access and a refresh token"
    for body in bodies:
        for secret in secrets:
            assert secret not in body
        assert not TOKENISH.search(body)
