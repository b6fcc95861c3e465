"""Direct mode: the link goes straight to the portal and the callback returns to the app."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flowkit import CERNER, EPIC, RETURN_URL, connect, events_of, new_session


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_direct_link_redirects_straight_to_the_portal(sim, api):
    session = new_session(api, connection_id=EPIC)
    resp = sim.client.get(urlsplit(session["url"]).path)
    assert resp.status_code == 303
    location = resp.headers["Location"]
    assert "/portals/summit-epic/" in location
    query = _query(location)
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) >= 22
    assert query["aud"] == ["http://sim.test/portals/summit-epic/fhir"]
    assert query["redirect_uri"] == ["http://sim.test/oauth/callback"]


def test_direct_success_returns_success_and_completes(api):
    session = new_session(api, connection_id=CERNER)
    result = connect(api, session["id"], "alice", source=None)
    assert result["stopped_at"] == "return_url"
    url = urlsplit(result["location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == RETURN_URL
    assert _query(result["location"]) == {
        "patient_id": ["p1"],
        "patient_session_id": [session["id"]],
        "success": ["true"],
        "connection_id": [CERNER],
    }
    body = api.get(f"/patient-sessions/{session['id']}").json
    assert body["status"] == "complete"
    assert body["connection_id"] == CERNER
    assert body["recommended_connection_ids"] is None
    assert [c["status"] for c in body["connections"]] == ["active"]
    assert len(events_of(api, "patient_session.completed")) == 1


def test_direct_denial_returns_user_denied(api):
    session = new_session(api, connection_id=EPIC)
    result = connect(api, session["id"], "alice", source=None, consent="deny")
    query = _query(result["location"])
    assert query["success"] == ["false"]
    assert query["error"] == ["user_denied"]
    assert "connection_id" not in query
    body = api.get(f"/patient-sessions/{session['id']}").json
    assert body["status"] == "complete"
    assert body["connections"][0]["failure_code"] == "access_denied"


def test_direct_link_cannot_be_used_twice(sim, api):
    session = new_session(api, connection_id=EPIC)
    connect(api, session["id"], "alice", source=None)
    again = sim.client.get(urlsplit(session["url"]).path)
    assert again.status_code == 410


def test_direct_session_rejects_another_source_from_the_patient(api):
    session = new_session(api, connection_id=EPIC)
    resp = api.post(
        f"/_sim/patient-sessions/{session['id']}/connect", {"username": "alice", "source": CERNER}
    )
    assert resp.status_code == 400
    assert resp.json["error"]["param"] == "source"


def test_direct_mode_by_fhir_base_url(api):
    session = new_session(api, connection_id="http://sim.test/portals/summit-epic/fhir")
    assert session["connection_id"] == EPIC
