"""Every portal-side failure of the flow ends the attempt with the right code, both modes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flowkit import EPIC, connect, new_session

AUTHORIZE_ERRORS = [
    ("invalid_scope", "invalid_scope"),
    ("server_error", "server_error"),
    ("temporarily_unavailable", "temporarily_unavailable"),
    ("auth_invalid_client_id", "invalid_client"),
    ("auth_invalid_redirect_uri", "invalid_request"),
    ("auth_invalid_scope", "invalid_scope"),
]
EXCHANGE_ERRORS = [
    "exchange_invalid_grant",
    "exchange_invalid_client",
    "exchange_5xx",
    "auth_invalid_client_secret",
    "token_invalid_token",
]


@pytest.mark.parametrize(("fault", "code"), AUTHORIZE_ERRORS)
def test_portal_authorize_errors_fail_the_attempt_with_the_portal_code(api, fault, code):
    session = new_session(api)
    result = connect(api, session["id"], f"alice+{fault}", EPIC)
    assert result["connection"]["status"] == "failed"
    assert result["connection"]["failure_code"] == code
    assert result["connection"]["id"] is None


@pytest.mark.parametrize(("fault", "code"), AUTHORIZE_ERRORS[:3])
def test_direct_portal_errors_return_oauth_callback_failed(api, fault, code):
    session = new_session(api, connection_id=EPIC)
    result = connect(api, session["id"], f"alice+{fault}", source=None)
    query = parse_qs(urlsplit(result["location"]).query)
    assert query["success"] == ["false"]
    assert query["error"] == ["oauth_callback_failed"]
    assert query["error_description"][0].startswith(code)


@pytest.mark.parametrize("fault", EXCHANGE_ERRORS)
def test_token_exchange_failures_are_token_exchange_failed(api, fault):
    session = new_session(api)
    result = connect(api, session["id"], f"alice+{fault}", EPIC)
    assert result["connection"]["status"] == "failed"
    assert result["connection"]["failure_code"] == "token_exchange_failed"


def test_direct_token_exchange_failure_return(api):
    session = new_session(api, connection_id=EPIC)
    result = connect(api, session["id"], "alice+exchange_invalid_grant", source=None)
    query = parse_qs(urlsplit(result["location"]).query)
    assert query["success"] == ["false"] and query["error"] == ["token_exchange_failed"]


def test_token_exchange_timeout(sim, api):
    sim.runtime.config.http_timeout = 0.3
    session = new_session(api)
    result = connect(api, session["id"], "alice+exchange_timeout:0.6", EPIC)
    assert result["connection"]["failure_code"] == "token_exchange_failed"


def test_fault_chosen_on_the_control_plane_applies_to_the_next_login(api):
    resp = api.post("/_sim/portals/summit-epic/faults", {"fault": "server_error", "times": 1})
    assert resp.status_code == 200, resp.json
    session = new_session(api)
    first = connect(api, session["id"], "alice", EPIC)["connection"]
    second = connect(api, session["id"], "alice", EPIC)["connection"]
    assert (first["status"], first["failure_code"]) == ("failed", "server_error")
    assert second["status"] == "active"


def test_wrong_password_leaves_the_patient_at_the_portal(api):
    session = new_session(api)
    result = connect(api, session["id"], "alice", EPIC, password="wrong")
    assert result["connection"] is None
    assert result["stopped_at"] == "portal"
    assert api.get(f"/patient-sessions/{session['id']}").json["connections"] == []
