"""Picker mode end to end through the headless patient, on the virtual clock."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flowkit import ATHENA, CERNER, EPIC, RETURN_URL, connect, done, events_of, new_session

from simulator.core.timeutil import iso, parse_iso


def test_approve_activates_a_connection_and_done_returns(api):
    session = new_session(api, metadata={"order": "42"})
    result = connect(api, session["id"], "alice", EPIC)
    conn = result["connection"]
    assert conn["status"] == "active"
    assert conn["id"].startswith("conn_") and len(conn["id"]) == 31
    assert conn["connection_id"] == EPIC
    assert conn["failure_code"] is None and conn["failure_at"] is None
    assert result["stopped_at"] == "completion"

    patient = api.get("/patients/p1").json
    entry = patient["connections"][0]
    assert entry["id"] == conn["id"]
    assert entry["patient_session_id"] == session["id"]
    assert "offline_access" in entry["scopes"]
    assert api.get(f"/patient-sessions/{session['id']}").json["status"] == "open"

    finished = done(api, session["id"])
    assert finished["stopped_at"] == "return_url"
    url = urlsplit(finished["return_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == RETURN_URL
    assert parse_qs(url.query) == {"patient_id": ["p1"], "patient_session_id": [session["id"]]}
    completed = api.get(f"/patient-sessions/{session['id']}").json
    assert completed["status"] == "complete"
    assert [c["id"] for c in completed["connections"]] == [conn["id"]]

    fired = events_of(api, "patient_session.completed")
    assert len(fired) == 1
    assert fired[0]["data"]["object"]["id"] == session["id"]
    assert fired[0]["data"]["object"]["metadata"] == {"order": "42"}


def test_deny_fails_the_attempt_with_access_denied(api):
    session = new_session(api)
    result = connect(api, session["id"], "alice", EPIC, consent="deny")
    conn = result["connection"]
    assert conn == {
        "id": None,
        "connection_id": EPIC,
        "status": "failed",
        "failure_code": "access_denied",
        "failure_at": api.now(),
        "created_at": api.now(),
    }
    patient = api.get("/patients/p1").json
    assert patient["connections"][0]["status"] == "failed"
    assert patient["connections"][0]["id"] is None


def test_several_sources_in_one_session_in_order(api):
    session = new_session(api)
    first = connect(api, session["id"], "alice", EPIC)["connection"]
    api.advance(5)
    second = connect(api, session["id"], "bob", CERNER, consent="deny")["connection"]
    api.advance(5)
    third = connect(api, session["id"], "alice", ATHENA)["connection"]
    listed = api.get(f"/patient-sessions/{session['id']}").json["connections"]
    assert [c["connection_id"] for c in listed] == [EPIC, CERNER, ATHENA]
    assert [c["status"] for c in listed] == ["active", "failed", "active"]
    patient = api.get("/patients/p1").json
    assert [c["connection_id"] for c in patient["connections"]] == [ATHENA, CERNER, EPIC]
    assert first["id"] != third["id"]
    assert second["id"] is None


def test_done_with_zero_connections_completes(api):
    session = new_session(api, return_button_label="Acme Health")
    finished = done(api, session["id"])
    assert finished["return_url"].startswith(RETURN_URL + "?")
    body = api.get(f"/patient-sessions/{session['id']}").json
    assert body["status"] == "complete" and body["connections"] == []
    assert len(events_of(api, "patient_session.completed")) == 1


def test_link_used_after_completion_shows_a_closed_page(sim, api):
    session = new_session(api)
    done(api, session["id"])
    page = sim.client.get(urlsplit(session["url"]).path)
    assert page.status_code == 410
    assert "already been used" in page.get_data(as_text=True)
    again = connect(api, session["id"], "alice", EPIC)
    assert again["connection"] is None and again["status_code"] == 410
    assert api.get(f"/patient-sessions/{session['id']}").json["connections"] == []


def test_link_used_after_expiry_shows_a_closed_page(sim, api):
    session = new_session(api, expires_in=60)
    api.advance(60)
    page = sim.client.get(urlsplit(session["url"]).path)
    assert page.status_code == 410
    assert "expired" in page.get_data(as_text=True)
    result = connect(api, session["id"], "alice", EPIC)
    assert result["connection"] is None
    assert result["session"]["status"] == "expired"


def test_state_expired_when_the_patient_waits_at_the_portal(sim, api):
    session = new_session(api, expires_in=3600)
    opened = api.post(f"/_sim/patient-sessions/{session['id']}/abandon", {"source": EPIC}).json
    assert opened["stopped_at"] == "portal"
    login_url = opened["location"]
    api.advance(10 * 60)  # the state lives 10 virtual minutes
    # the patient comes back and finishes at the portal with the same page
    from simulator.clients.patient import Browser

    browser = Browser("http://sim.test")
    browser.get(login_url)
    browser.submit(
        browser.form(form_id="login-form"), {"username": "alice", "password": "password"}
    )
    browser.submit(browser.form(form_id="consent-form"), button=("decision", "approve"))
    listed = api.get(f"/patient-sessions/{session['id']}").json["connections"]
    assert len(listed) == 1
    assert listed[0]["status"] == "failed"
    assert listed[0]["failure_code"] == "oauth_state_expired"


def test_attempt_in_flight_at_expiry_cannot_activate(api):
    session = new_session(api, expires_in=120)
    opened = api.post(f"/_sim/patient-sessions/{session['id']}/abandon", {"source": EPIC}).json
    api.advance(120)
    from simulator.clients.patient import Browser

    browser = Browser("http://sim.test")
    browser.get(opened["location"])
    browser.submit(
        browser.form(form_id="login-form"), {"username": "alice", "password": "password"}
    )
    browser.submit(browser.form(form_id="consent-form"), button=("decision", "approve"))
    assert browser.response.status_code == 410
    body = api.get(f"/patient-sessions/{session['id']}").json
    assert body["status"] == "expired"
    assert [c["status"] for c in body["connections"]] == ["expired"]
    assert all(c["status"] != "active" for c in api.get("/patients/p1").json["connections"])


def test_reused_or_unknown_callback_changes_nothing(api):
    from simulator.clients.patient import Browser

    session = new_session(api)
    browser = Browser("http://sim.test")
    browser.get(session["url"])
    browser.submit(browser.form(field_value=("source", EPIC)))
    browser.submit(browser.form(form_id="login-form"), {"username": "alice", "password": "pw"})
    browser.submit(browser.form(form_id="consent-form"), button=("decision", "approve"))
    callback = next(step.url for step in browser.trail if "/oauth/callback" in step.url)
    before = api.get(f"/patient-sessions/{session['id']}").json["connections"]
    assert [c["status"] for c in before] == ["active"]

    replay = Browser("http://sim.test").get(callback)
    assert replay.status_code == 400
    assert "already used" in replay.text
    unknown = Browser("http://sim.test").get("http://sim.test/oauth/callback?state=nope&code=x")
    assert unknown.status_code == 400 and "oauth_state_expired" in unknown.text
    assert api.get(f"/patient-sessions/{session['id']}").json["connections"] == before


def test_reconnecting_the_same_source_supersedes_the_old_link(api):
    first = new_session(api)
    old = connect(api, first["id"], "alice", EPIC)["connection"]
    done(api, first["id"])
    second = new_session(api)
    new = connect(api, second["id"], "alice", EPIC)["connection"]
    statuses = {c["id"]: c["status"] for c in api.get("/patients/p1").json["connections"]}
    assert statuses == {new["id"]: "active", old["id"]: "disconnected"}


def test_picker_return_url_keeps_its_own_query(api):
    session = new_session(api, return_url="https://app.example/back?tab=records&patient_id=x")
    finished = done(api, session["id"])
    query = parse_qs(urlsplit(finished["return_url"]).query)
    assert query == {
        "tab": ["records"],
        "patient_id": ["p1"],
        "patient_session_id": [session["id"]],
    }


def test_generation_b_session_returns_patient_flow_id(sim):
    api, _ = sim.new_workspace(seed=1, clock="manual", naming="B")
    resp = api.post("/patient-flows", {"patient_id": "p1", "return_url": RETURN_URL})
    flow_id = resp.json["id"]
    assert flow_id.startswith("pf_")
    finished = done(api, flow_id)
    query = parse_qs(urlsplit(finished["return_url"]).query)
    assert query["patient_flow_id"] == [flow_id]
    assert [e["type"] for e in events_of(api)] == ["patient_flow.completed"]


def test_pytest_helper_wraps_the_headless_patient(api):
    session = new_session(api)
    result = api.connect(session["id"], "alice", EPIC)
    assert result["connection"]["status"] == "active"
    assert api.done(session["id"])["return_url"].startswith(RETURN_URL)
    other = new_session(api, "p2")
    assert api.abandon(other["id"], EPIC)["stopped_at"] == "portal"


def test_a_patient_lingering_at_the_portal_past_the_state_lifetime_fails_state_expired(api):
    session = new_session(api, expires_in=3600)
    late = connect(api, session["id"], "alice", EPIC, linger_seconds=600)
    assert late["connection"]["status"] == "failed"
    assert late["connection"]["failure_code"] == "oauth_state_expired"
    in_time = connect(api, session["id"], "alice", EPIC, linger_seconds=599)
    assert in_time["connection"]["status"] == "active"
    assert api.now() == iso(parse_iso(session["created_at"]) + 1199_000)
