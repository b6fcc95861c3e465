"""HealthApp against the simulator: success, denial, expiry, refresh failure, webhook retries.

Each test drives the app's pages with Flask's test client (the patient's browser on
our side), the simulator's headless patient (the browser on Connect's and the
portal's side) and the simulator's virtual clock.
"""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient


def start(browser: FlaskClient, sim: Any, patient: str, source: str | None = None) -> dict:
    """Press a Connect button in HealthApp; answers the patient session it started."""
    form = {"source": sim.source(source)} if source else {}
    resp = browser.post(f"/patients/{patient}/sessions", data=form)
    assert resp.status_code == 303
    session = sim.last_session(patient)
    assert resp.location == session["url"]  # the patient is sent to Connect's hosted link
    return session


def status(browser: FlaskClient, patient: str) -> dict:
    resp = browser.get(f"/patients/{patient}/status")
    assert resp.status_code == 200
    return resp.json


def test_direct_mode_success_shows_the_connection_records_and_webhooks(
    app: Flask, browser: FlaskClient, sim: Any, patient: str
) -> None:
    session = start(browser, sim, patient, "summit-epic")
    landing = sim.patient.complete(session, username="alice")
    query = parse_qs(urlsplit(landing).query)
    assert landing.startswith(app.config["PUBLIC_URL"] + "/return?")
    assert query["success"] == ["true"] and query["patient_session_id"] == [session["id"]]

    page = browser.get(landing)
    assert page.status_code == 200
    assert "Your records from Summit Valley Health (Epic MyChart)" in page.text

    now = status(browser, patient)
    assert now["connected"] == ["Summit Valley Health (Epic MyChart)"]
    assert now["records"]["count"] > 0 and "Patient" in now["records"]["types"]
    assert now["sessions"][0]["outcome"] == "connected"
    assert now["sessions"][0]["status"] == "complete"
    # the simulator delivered these to HealthApp's own /webhooks, signed; it stored them
    assert "patient_session.completed" in now["events"]
    assert "records.sync.completed" in now["events"]
    assert "Summit Valley Health" in browser.get(f"/patients/{patient}").text


def test_picker_mode_success_after_done(browser: FlaskClient, sim: Any, patient: str) -> None:
    session = start(browser, sim, patient)
    landing = sim.patient.complete(session, username="bob", source="lakeside-cerner")
    assert "success" not in parse_qs(urlsplit(landing).query)  # Picker mode has no flag
    page = browser.get(landing)
    assert "Lakeside Medical Center (Oracle Health)" in page.text
    assert status(browser, patient)["connected"] == ["Lakeside Medical Center (Oracle Health)"]


def test_denial_in_direct_mode(browser: FlaskClient, sim: Any, patient: str) -> None:
    session = start(browser, sim, patient, "maple-athena")
    result = sim.patient.deny(session)
    assert result["stopped_at"] == "return_url"
    assert parse_qs(urlsplit(result["location"]).query)["error"] == ["user_denied"]
    page = browser.get(result["location"])
    assert "You declined to share your records" in page.text
    (attempt,) = status(browser, patient)["connections"]
    assert attempt["status"] == "failed" and attempt["failure_code"] == "access_denied"


def test_denial_in_picker_mode(browser: FlaskClient, sim: Any, patient: str) -> None:
    session = start(browser, sim, patient)
    sim.patient.deny(session, source="summit-epic")
    page = browser.get(sim.patient.done(session))
    assert "did not complete (access_denied)" in page.text
    assert status(browser, patient)["connected"] == []


def test_a_forged_success_link_is_not_trusted(browser: FlaskClient, sim: Any, patient: str) -> None:
    session = start(browser, sim, patient, "summit-epic")
    denied = sim.patient.deny(session)["location"]
    forged = denied.replace("success=false", "success=true").split("&error=")[0]
    assert "could not confirm" in browser.get(forged).text
    other = browser.get(f"/return?patient_id={patient}&patient_session_id=ps_not_ours")
    assert other.status_code == 400


def test_an_unused_link_expires_on_the_virtual_clock(
    browser: FlaskClient, sim: Any, patient: str
) -> None:
    session = start(browser, sim, patient, "summit-epic")
    sim.patient.abandon(session, source="summit-epic")  # opens the portal, walks away
    sim.clock.advance("29m")
    assert status(browser, patient)["sessions"][0]["status"] == "open"
    sim.clock.advance("1m")  # 30 minutes: the default expires_in
    assert status(browser, patient)["sessions"][0]["status"] == "expired"
    assert "link expired" in browser.get(f"/patients/{patient}").text


def connected(browser: FlaskClient, sim: Any, patient: str, username: str = "alice") -> str:
    """Connect Summit Valley in Direct mode; answers the `conn_` id."""
    session = start(browser, sim, patient, "summit-epic")
    assert browser.get(sim.patient.complete(session, username=username)).status_code == 200
    (conn,) = status(browser, patient)["connections"]
    assert conn["status"] == "active"
    return conn["id"]


def test_refresh_failure_forced_now_asks_the_patient_to_reconnect(
    browser: FlaskClient, sim: Any, patient: str
) -> None:
    conn_id = connected(browser, sim, patient)
    assert "reconnect" not in browser.get(f"/patients/{patient}").text
    sim.refresh_failure(conn_id)  # the portal revokes the grant; the refresh is rejected
    now = status(browser, patient)
    assert "connection.token_refresh_failed" in now["events"]
    assert now["reconnect"] == ["Summit Valley Health (Epic MyChart)"]
    assert 'id="reconnect"' in browser.get(f"/patients/{patient}").text


def test_refresh_failure_from_the_failure_catalog_on_the_clock(
    browser: FlaskClient, sim: Any, patient: str
) -> None:
    # `+refresh_revoked`: the portal will reject the next refresh of this grant
    connected(browser, sim, patient, username="alice+refresh_revoked")
    sim.clock.advance("50m")  # Summit's tokens last 1 h: no refresh yet
    assert status(browser, patient)["reconnect"] == []
    sim.clock.advance("10m")  # refreshed 5 min before expiry: rejected
    now = status(browser, patient)
    assert now["reconnect"] == ["Summit Valley Health (Epic MyChart)"]
    assert now["events"].count("connection.token_refresh_failed") == 1


def test_a_failed_webhook_is_retried_after_the_clock_moves(
    app: Flask, browser: FlaskClient, sim: Any, patient: str
) -> None:
    session = start(browser, sim, patient, "summit-epic")
    blocker = sqlite3.connect(app.config["DATABASE"])
    blocker.execute("BEGIN EXCLUSIVE")  # HealthApp's database is busy: its receiver answers 500
    try:
        landing = sim.patient.complete(session)
    finally:
        blocker.rollback()
        blocker.close()
    webhook_id = app.config["WEBHOOK_ID"]
    (pending,) = [e for e in sim.deliveries(webhook_id) if e["type"] == "patient_session.completed"]
    assert pending["attempts"] == 1 and pending["last_status_code"] == 500
    assert pending["delivered_at"] is None and pending["next_attempt_at"] is not None
    assert "patient_session.completed" not in status(browser, patient)["events"]

    sim.clock.advance("1m")  # the second attempt of the schedule
    (delivered,) = [
        e for e in sim.deliveries(webhook_id) if e["type"] == "patient_session.completed"
    ]
    assert delivered["attempts"] == 2 and delivered["last_status_code"] == 200
    assert status(browser, patient)["events"].count("patient_session.completed") == 1
    assert browser.get(landing).status_code == 200


def test_redelivered_and_forged_webhooks(app: Flask, browser: FlaskClient, sim: Any) -> None:
    webhook_id = app.config["WEBHOOK_ID"]
    sim.put(f"/_sim/webhooks/{webhook_id}/chaos", {"duplicate": 1})  # every event sent twice
    resp = browser.post("/patients", data={"patient_id": "user_7"})
    assert resp.status_code == 303
    session = start(browser, sim, "user_7", "summit-epic")
    browser.get(sim.patient.complete(session))
    assert status(browser, "user_7")["events"].count("patient_session.completed") == 1

    sim.put(f"/_sim/webhooks/{webhook_id}/chaos", {"bad_signature": 1})
    sim.fire("patient_session.completed", object_id=session["id"])
    forged = sim.call("GET", f"/_sim/webhooks/{webhook_id}/attempts")["data"][0]
    assert forged["chaos"] and forged["status_code"] == 400
    assert forged["response_body"] and "no_matching_signature" in forged["response_body"]

    sim.put(f"/_sim/webhooks/{webhook_id}/chaos", {"stale_timestamp": 1})
    sim.fire("patient_session.completed", object_id=session["id"])
    stale = sim.call("GET", f"/_sim/webhooks/{webhook_id}/attempts")["data"][0]
    assert stale["status_code"] == 400
    assert "timestamp_outside_tolerance" in stale["response_body"]
