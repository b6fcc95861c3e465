"""Every negative case of the SMART authorization server, with the RFC error code and status."""

from __future__ import annotations

import pytest
import requests
from portalkit import (
    REDIRECT,
    Launch,
    challenge,
    manual_authorize_url,
    new_launch,
    raw_token,
    verifier,
)

from portal_mocks.testing import sign_in
from simulator.testing import Sim


@pytest.fixture
def ws(sim: Sim):
    api, body = sim.new_workspace(seed=5, clock="manual")
    return api, body["api_key"]


@pytest.fixture
def epic(sim: Sim, ws) -> Launch:
    return new_launch(sim, "summit-epic", ws[1])


def _exchange(launch: Launch, **overrides: str | None) -> requests.Response:
    data: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": launch.signin.params["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": launch.code_verifier,
    }
    data.update(overrides)
    return launch.token_post({k: v for k, v in data.items() if v is not None})


def _assert_oauth_error(resp: requests.Response, error: str, status: int = 400) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] == error
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Pragma"] == "no-cache"


def _authorize(launch: Launch, username: str = "alice", **params: str | None):
    return sign_in(requests.Session(), manual_authorize_url(launch, **params), username)


# -- PKCE -------------------------------------------------------------------------------


def test_wrong_code_verifier_is_invalid_grant(epic: Launch) -> None:
    epic.code()
    _assert_oauth_error(_exchange(epic, code_verifier=verifier()), "invalid_grant")


def test_missing_code_verifier_is_invalid_request(epic: Launch) -> None:
    epic.code()
    _assert_oauth_error(_exchange(epic, code_verifier=None), "invalid_request")
    _assert_oauth_error(_exchange(epic, code_verifier=""), "invalid_request")


def test_verifier_equal_to_the_challenge_is_refused(epic: Launch) -> None:
    """A `plain` attempt: sending the challenge itself as the verifier."""
    epic.code()
    _assert_oauth_error(
        _exchange(epic, code_verifier=challenge(epic.code_verifier)), "invalid_grant"
    )
    # the right verifier still works afterwards: failed checks do not spend the code
    assert _exchange(epic).status_code == 200


def test_plain_method_is_refused_at_authorize(epic: Launch) -> None:
    v = verifier()
    result = _authorize(epic, code_challenge=v, code_challenge_method="plain")
    assert result.params["error"] == "invalid_request"
    assert "S256" in result.params["error_description"]
    assert "code" not in result.params


def test_missing_challenge_is_refused_at_authorize(epic: Launch) -> None:
    result = _authorize(epic, code_challenge=None, code_challenge_method=None)
    assert result.params["error"] == "invalid_request"
    assert result.pages == []


# -- codes -----------------------------------------------------------------------------------


def test_reused_code_is_invalid_grant_and_revokes_its_tokens(epic: Launch) -> None:
    epic.code()
    first = _exchange(epic)
    assert first.status_code == 200
    tokens = first.json()
    assert epic.get("Patient", tokens["access_token"]).status_code == 200
    _assert_oauth_error(_exchange(epic), "invalid_grant")
    assert epic.get("Patient", tokens["access_token"]).status_code == 401
    _assert_oauth_error(epic.refresh_raw(tokens["refresh_token"]), "invalid_grant")


def test_expired_code_is_invalid_grant(epic: Launch, ws) -> None:
    api, _ = ws
    epic.code()
    api.advance(60)
    _assert_oauth_error(_exchange(epic), "invalid_grant")


def test_code_just_before_expiry_works(epic: Launch, ws) -> None:
    api, _ = ws
    epic.code()
    api.advance(59)
    assert _exchange(epic).status_code == 200


def test_unknown_code_is_invalid_grant(epic: Launch) -> None:
    epic.code()
    _assert_oauth_error(_exchange(epic, code="BAD_CODE"), "invalid_grant")


def test_code_of_another_client_is_invalid_grant(sim: Sim, ws, epic: Launch) -> None:
    epic.code()
    other = new_launch(sim, "summit-epic", ws[1])
    resp = raw_token(
        epic.conf,
        other.client,
        {
            "grant_type": "authorization_code",
            "code": epic.signin.params["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": epic.code_verifier,
        },
    )
    _assert_oauth_error(resp, "invalid_grant")


# -- redirect URIs and clients ----------------------------------------------------------------


def test_mismatched_redirect_uri_at_token_is_invalid_grant(sim: Sim, ws) -> None:
    launch = new_launch(sim, "summit-epic", ws[1])
    launch.code()
    _assert_oauth_error(_exchange(launch, redirect_uri=REDIRECT + "/other"), "invalid_grant")
    _assert_oauth_error(_exchange(launch, redirect_uri=None), "invalid_request")


def test_unregistered_redirect_uri_is_an_error_page_not_a_redirect(epic: Launch) -> None:
    resp = requests.get(
        manual_authorize_url(epic, redirect_uri="https://evil.example/cb"), allow_redirects=False
    )
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert "redirect_uri" in resp.text
    assert 'id="portal-error"' in resp.text


def test_unknown_client_at_authorize_is_an_error_page(epic: Launch) -> None:
    resp = requests.get(manual_authorize_url(epic, client_id="nobody"), allow_redirects=False)
    assert resp.status_code == 400 and "Location" not in resp.headers


def test_wrong_client_secret_is_invalid_client_401_with_basic_challenge(epic: Launch) -> None:
    epic.code()
    resp = requests.post(
        epic.conf["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": epic.signin.params["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": epic.code_verifier,
        },
        auth=(epic.client["client_id"], "not-the-secret"),
    )
    _assert_oauth_error(resp, "invalid_client", 401)
    assert resp.headers["WWW-Authenticate"].startswith("Basic")


def test_unknown_client_at_token_is_invalid_client(epic: Launch) -> None:
    resp = requests.post(
        epic.conf["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": "nobody"},
    )
    _assert_oauth_error(resp, "invalid_client", 401)
    basic = requests.post(
        epic.conf["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=("nobody", "secret"),
    )
    _assert_oauth_error(basic, "invalid_client", 401)
    assert basic.headers["WWW-Authenticate"].startswith("Basic")


def test_confidential_client_without_credentials_is_invalid_client(epic: Launch) -> None:
    resp = requests.post(
        epic.conf["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": "x",
            "client_id": epic.client["client_id"],
        },
    )
    _assert_oauth_error(resp, "invalid_client", 401)


def test_two_client_authentication_methods_is_invalid_request(epic: Launch) -> None:
    resp = requests.post(
        epic.conf["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": "x",
            "client_id": epic.client["client_id"],
            "client_secret": epic.client["client_secret"],
        },
        auth=(epic.client["client_id"], epic.client["client_secret"]),
    )
    _assert_oauth_error(resp, "invalid_request")


# -- token endpoint request shape -------------------------------------------------------------


def test_token_request_shape_errors(epic: Launch) -> None:
    _assert_oauth_error(epic.token_post({}), "invalid_request")
    _assert_oauth_error(epic.token_post({"grant_type": "password"}), "unsupported_grant_type")
    _assert_oauth_error(epic.token_post({"grant_type": "refresh_token"}), "invalid_request")
    repeated = requests.post(
        epic.conf["token_endpoint"],
        data=[("grant_type", "refresh_token"), ("grant_type", "refresh_token")],
        auth=(epic.client["client_id"], epic.client["client_secret"]),
    )
    _assert_oauth_error(repeated, "invalid_request")
    as_json = requests.post(
        epic.conf["token_endpoint"],
        json={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(epic.client["client_id"], epic.client["client_secret"]),
    )
    _assert_oauth_error(as_json, "invalid_request")


# -- authorize request errors on the redirect --------------------------------------------------


def test_bad_audience_gets_no_code(epic: Launch) -> None:
    result = _authorize(epic, aud="https://other.example/fhir")
    assert result.params["error"] == "invalid_request"
    assert result.params["error_description"] == "Bad audience value"
    assert "code" not in result.params and "state" in result.params


def test_aud_ignores_scheme_and_localhost(sim: Sim, ws) -> None:
    launch = new_launch(sim, "summit-epic", ws[1])
    result = _authorize(launch, aud=launch.fhir.replace("http://", "https://") + "/")
    assert "code" in result.params


def test_missing_state_is_invalid_request_without_state(epic: Launch) -> None:
    result = _authorize(epic, state=None)
    assert result.params == {
        "error": "invalid_request",
        "error_description": "state is required",
    }


def test_unsupported_response_type(epic: Launch) -> None:
    result = _authorize(epic, response_type="token")
    assert result.params["error"] == "unsupported_response_type"


def test_scope_with_nothing_grantable_is_invalid_scope(epic: Launch) -> None:
    result = _authorize(epic, scope="system/*.read user/*.write")
    assert result.params["error"] == "invalid_scope"
    assert _authorize(epic, scope=None).params["error"] == "invalid_scope"


def test_state_is_echoed_exactly(epic: Launch) -> None:
    odd = "a b+c/d?e=f&g%h"
    result = _authorize(epic, state=odd)
    assert result.params["state"] == odd and result.params["code"]


def test_authorize_accepts_post(epic: Launch) -> None:
    url = manual_authorize_url(epic)
    endpoint, _, query = url.partition("?")
    from urllib.parse import parse_qsl

    resp = requests.post(endpoint, data=dict(parse_qsl(query)), allow_redirects=False)
    assert resp.status_code == 200 and 'id="login-form"' in resp.text


def test_cerner_errors_carry_an_error_uri_and_no_description(sim: Sim, ws) -> None:
    launch = new_launch(sim, "lakeside-cerner", ws[1])
    result = _authorize(launch, aud="https://other.example/fhir")
    assert result.params["error"] == "invalid_request"
    assert "error_description" not in result.params
    assert result.params["error_uri"].startswith("https://authorization.cerner.com/errors/")


# -- the patient at the login and consent pages -------------------------------------------------


def test_deny_button_redirects_access_denied_with_state(epic: Launch) -> None:
    result = epic.sign_in("alice", decision="deny")
    assert result.params["error"] == "access_denied"
    assert result.params["state"] == epic.state
    assert result.pages == ["login", "consent"]


def test_wrong_password_and_unknown_persona_show_the_login_page_again(epic: Launch) -> None:
    session = requests.Session()
    result = sign_in(session, epic.authorize_url(), "alice", password="wrong")
    assert result.redirect_url is None and result.pages == ["login"]
    assert result.errors == ["The username or password is incorrect."]
    result = sign_in(session, epic.authorize_url(), "<b>zed</b>")
    assert "&lt;b&gt;zed&lt;/b&gt;" in result.last_page.text
    assert "<b>zed</b>" not in result.last_page.text
    result = sign_in(session, epic.authorize_url(), "alice+no_such_fault")
    assert result.errors and "Unknown fault 'no_such_fault'" in result.errors[0]


def test_a_sign_in_expires_after_30_minutes(epic: Launch, ws) -> None:
    api, _ = ws
    session = requests.Session()
    page = session.get(epic.authorize_url(), allow_redirects=False)
    assert page.status_code == 200
    api.advance(1800)
    from portal_mocks.testing import parse_forms

    form = next(f for f in parse_forms(page.text)[0] if f.id == "login-form")
    resp = session.post(
        page.url.replace("/authorize", "/login").split("?")[0],
        data={**form.fields, "username": "alice", "password": "x"},
    )
    assert resp.status_code == 400 and "expired" in resp.text


# -- tokens at the FHIR API and on refresh ----------------------------------------------------


def test_expired_access_token_is_401_invalid_token(epic: Launch, ws) -> None:
    api, _ = ws
    token = epic.connect("alice")
    api.advance(3599)
    assert epic.get("Patient", token["access_token"]).status_code == 200
    api.advance(1)
    resp = epic.get("Patient", token["access_token"])
    assert resp.status_code == 401
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    assert resp.json()["resourceType"] == "OperationOutcome"
    assert resp.json()["issue"][0]["code"] == "expired"


def test_missing_bearer_is_401_without_error_code(epic: Launch) -> None:
    resp = requests.get(f"{epic.fhir}/Patient")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="summit-epic"'
    assert resp.json()["resourceType"] == "OperationOutcome"


def test_revoked_refresh_token_is_invalid_grant(epic: Launch, sim: Sim, ws) -> None:
    import portal_mocks

    token = epic.connect("alice")
    api, body = ws
    ws_id = sim.runtime.store.scalar(
        "SELECT workspace_id FROM portal_clients WHERE client_id = ?", (epic.client["client_id"],)
    )
    assert portal_mocks.revoke_grant(
        sim.runtime, ws_id, "summit-epic", refresh_token=token["refresh_token"]
    )
    _assert_oauth_error(epic.refresh_raw(token["refresh_token"]), "invalid_grant")
    assert epic.get("Patient", token["access_token"]).status_code == 401


def test_refresh_token_of_another_client_is_invalid_grant(sim: Sim, ws, epic: Launch) -> None:
    token = epic.connect("alice")
    other = new_launch(sim, "summit-epic", ws[1])
    _assert_oauth_error(other.refresh_raw(token["refresh_token"]), "invalid_grant")


def test_scope_outside_the_grant(sim: Sim, ws) -> None:
    launch = new_launch(
        sim, "summit-epic", ws[1], scope="launch/patient offline_access patient/Observation.rs"
    )
    token = launch.connect("bob")
    assert token["scope"] == "launch/patient offline_access patient/Observation.rs"
    assert launch.get("Observation", token["access_token"]).status_code == 200
    resp = launch.get("Condition", token["access_token"])
    assert resp.status_code == 403
    assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]
    assert resp.json()["issue"][0]["code"] == "forbidden"
    wider = launch.refresh_raw(token["refresh_token"], scope="patient/Condition.rs")
    _assert_oauth_error(wider, "invalid_scope")
    narrower = launch.refresh_raw(token["refresh_token"], scope="patient/Observation.r")
    assert narrower.status_code == 200 and narrower.json()["scope"] == "patient/Observation.r"
    reads_only = narrower.json()["access_token"]
    assert launch.get("Observation", reads_only).status_code == 403  # search needs `s`


def test_v1_and_v2_scopes(sim: Sim, ws) -> None:
    v1 = new_launch(sim, "summit-epic", ws[1], scope="patient/Condition.read openid fhirUser")
    token = v1.connect("alice")
    assert token["scope"] == "launch/patient openid fhirUser patient/Condition.read"
    assert "refresh_token" not in token  # no offline_access
    assert v1.get("Condition", token["access_token"]).status_code == 200
    assert v1.get("Observation", token["access_token"]).status_code == 403
    v2 = new_launch(
        sim,
        "summit-epic",
        ws[1],
        scope="launch/patient patient/*.cruds patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
    )
    token = v2.connect("bob")
    assert "patient/*.rs" in token["scope"].split()


def test_granular_category_scope_filters_results(sim: Sim, ws) -> None:
    category = "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"
    launch = new_launch(
        sim,
        "summit-epic",
        ws[1],
        scope=f"launch/patient patient/Observation.rs?category={category}",
    )
    token = launch.connect("bob")
    bundle = launch.get("Observation", token["access_token"], _count=100).json()
    cats = {c["coding"][0]["code"] for e in bundle["entry"] for c in e["resource"]["category"]}
    assert cats == {"vital-signs"}
