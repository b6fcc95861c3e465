"""Standalone SMART launches by an independent client (authlib) against every portal."""

from __future__ import annotations

import importlib
import json
import time
from urllib.parse import urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from portalkit import (
    LOCAL_REDIRECT,
    REDIRECT,
    SCOPE,
    SLUGS,
    discover,
    fhir_base,
    new_launch,
    pages,
    register,
)

import portal_mocks
from simulator.testing import Sim


@pytest.fixture
def ws(sim: Sim):
    api, body = sim.new_workspace(seed=11, clock="manual")
    return api, body["api_key"]


def _first_type(slug: str) -> str:
    return "ExplanationOfBenefit" if slug == "bluebutton" else "Observation"


@pytest.mark.parametrize("slug", SLUGS)
def test_authlib_standalone_launch(sim: Sim, ws, slug: str) -> None:
    api, key = ws
    launch = new_launch(sim, slug, key)
    conf = launch.conf
    assert conf["authorization_endpoint"] == f"{sim.base_url}/portals/{slug}/authorize"
    assert conf["token_endpoint"].startswith("http://sim.test/portals/")
    result = launch.sign_in("bob")
    assert result.pages == ["login", "consent"]
    assert result.redirect_url.startswith(REDIRECT + "?")
    assert result.params["state"] == launch.state
    token = launch.fetch_token()
    assert token["token_type"] == "Bearer"
    assert isinstance(token["expires_in"], int)
    assert token["patient"]
    assert "launch/patient" in token["scope"].split()
    assert token["refresh_token"]
    assert token["id_token"]
    expected_ttl = {"summit-epic": 3600, "lakeside-cerner": 570, "bluebutton": 3600}
    assert token["expires_in"] == expected_ttl.get(slug, 3600)

    # FHIR search across pages with the client's own session (bearer header by authlib)
    rtype = _first_type(slug)
    url = f"{launch.fhir}/{rtype}?patient={token['patient']}&_count=40"
    seen, total, nxt = [], None, url
    while nxt:
        resp = launch.oauth.get(nxt)
        if resp.status_code == 503 and slug == "harbor-clinic":  # the flaky clinic
            assert resp.headers["Retry-After"] == "1"
            continue
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"].startswith("application/fhir+json")
        bundle = resp.json()
        total = bundle["total"]
        seen += [e["resource"]["id"] for e in bundle.get("entry", [])]
        nxt = next((x["url"] for x in bundle["link"] if x["relation"] == "next"), None)
        if nxt:
            assert urlsplit(nxt).netloc == "sim.test" and nxt.startswith(launch.fhir + "/")
    assert total and len(seen) == total == len(set(seen)) and total > 40

    refreshed = dict(launch.oauth.refresh_token(conf["token_endpoint"]))
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["expires_in"] == token["expires_in"]
    assert set(refreshed["scope"].split()) <= set(token["scope"].split())
    rotating = slug in ("lakeside-cerner", "bluebutton")
    assert (refreshed["refresh_token"] != token["refresh_token"]) == rotating
    patient = launch.oauth.get(f"{launch.fhir}/Patient/{token['patient']}")
    assert patient.status_code == 200 and patient.json()["id"] == token["patient"]


def test_token_responses_are_not_cached(sim: Sim, ws) -> None:
    launch = new_launch(sim, "summit-epic", ws[1])
    launch.code()
    resp = launch.token_post(
        {
            "grant_type": "authorization_code",
            "code": launch.signin.params["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": launch.code_verifier,
        }
    )
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Pragma"] == "no-cache"
    refreshed = launch.refresh_raw(resp.json()["refresh_token"])
    assert refreshed.status_code == 200
    assert refreshed.headers["Cache-Control"] == "no-store"
    assert refreshed.headers["Pragma"] == "no-cache"
    assert set(refreshed.json()) >= {"access_token", "token_type", "expires_in", "scope"}


def test_public_client_launch(sim: Sim, ws) -> None:
    launch = new_launch(sim, "maple-athena", ws[1], method="none")
    assert "client_secret" not in launch.client
    token = launch.connect("alice")
    assert token["refresh_token"]
    assert launch.oauth.get(f"{launch.fhir}/Condition").status_code == 200
    refreshed = launch.oauth.refresh_token(launch.conf["token_endpoint"])
    assert refreshed["access_token"]


def test_client_secret_post(sim: Sim, ws) -> None:
    launch = new_launch(sim, "harbor-clinic", ws[1], method="client_secret_post")
    token = launch.connect("erin")
    assert token["access_token"]


def test_private_key_jwt_client(sim: Sim, ws) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS384"}, private=True)
    public = KeySet([key]).as_dict(private=False)
    client = register(sim, "summit-epic", ws[1], method="private_key_jwt", jwks=public)
    assert "client_secret" not in client
    conf = discover(sim, "summit-epic")

    def session(**kwargs: object) -> OAuth2Session:
        # a fresh auth per call: authlib keeps the jti in the claims dict it is given
        return OAuth2Session(
            client["client_id"],
            key.as_dict(private=True),
            scope=SCOPE,
            redirect_uri=REDIRECT,
            code_challenge_method="S256",
            token_endpoint_auth_method=PrivateKeyJWT(
                conf["token_endpoint"],
                headers={"kid": "k1", "typ": "JWT"},
                claims={"exp": int(time.time()) + 240},  # SMART: at most 5 minutes ahead
                alg="RS384",
            ),
            **kwargs,
        )

    from portalkit import verifier

    from portal_mocks.testing import sign_in

    oauth = session()
    code_verifier = verifier()
    url, _ = oauth.create_authorization_url(
        conf["authorization_endpoint"],
        code_verifier=code_verifier,
        aud=fhir_base(sim, "summit-epic"),
    )
    result = sign_in(requests.Session(), url, "alice")
    token = oauth.fetch_token(
        conf["token_endpoint"],
        authorization_response=result.redirect_url,
        code_verifier=code_verifier,
    )
    assert token["access_token"]
    refreshed = session(token=token).refresh_token(conf["token_endpoint"])
    assert refreshed["access_token"]

    # the same assertion twice: the second use of its jti is refused
    claims = {
        "iss": client["client_id"],
        "sub": client["client_id"],
        "aud": conf["token_endpoint"],
        "exp": int(time.time()) + 120,
        "jti": "once",
    }
    assertion = jwt.encode(
        {"alg": "RS384", "kid": "k1", "typ": "JWT"}, claims, key, algorithms=["RS384"]
    )
    form = {
        "grant_type": "refresh_token",
        "refresh_token": token["refresh_token"],
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    assert requests.post(conf["token_endpoint"], data=form).status_code == 200
    replay = requests.post(conf["token_endpoint"], data=form)
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"


def test_private_key_jwt_wrong_key_is_invalid_client(sim: Sim, ws) -> None:
    registered = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    client = register(
        sim,
        "summit-epic",
        ws[1],
        method="private_key_jwt",
        jwks=KeySet([registered]).as_dict(private=False),
    )
    conf = discover(sim, "summit-epic")
    now = int(time.time())
    claims = {
        "iss": client["client_id"],
        "sub": client["client_id"],
        "aud": conf["token_endpoint"],
        "exp": now + 120,
        "jti": "j-1",
    }
    assertion = jwt.encode({"alg": "RS384", "kid": "k1"}, claims, other, algorithms=["RS384"])
    resp = requests.post(
        conf["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": "x",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"


def test_id_token_is_signed_rs256_and_names_the_patient(sim: Sim, ws) -> None:
    launch = new_launch(sim, "lakeside-cerner", ws[1])
    token = launch.connect("alice")
    jwks = requests.get(launch.conf["jwks_uri"]).json()
    assert all("d" not in k for k in jwks["keys"])
    decoded = jwt.decode(token["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256"
    claims = decoded.claims
    assert claims["aud"] == launch.client["client_id"]
    assert claims["iss"] == launch.fhir
    assert claims["fhirUser"] == f"{launch.fhir}/Patient/{token['patient']}"
    oidc = requests.get(launch.fhir + "/.well-known/openid-configuration").json()
    assert oidc["jwks_uri"] == launch.conf["jwks_uri"] and oidc["issuer"] == launch.fhir


def test_discovery_document(sim: Sim) -> None:
    for slug in SLUGS:
        resp = requests.get(
            fhir_base(sim, slug) + "/.well-known/smart-configuration",
            headers={"Origin": "https://app.example"},
        )
        assert resp.status_code == 200
        assert resp.headers["Content-Type"].startswith("application/json")
        assert resp.headers["Access-Control-Allow-Origin"] in ("*", "https://app.example")
        doc = resp.json()
        for key in ("authorization_endpoint", "token_endpoint", "registration_endpoint"):
            assert doc[key].startswith(f"{sim.base_url}/portals/{slug}/")
        assert "authorization_code" in doc["grant_types_supported"]
        for cap in (
            "launch-standalone",
            "client-public",
            "client-confidential-symmetric",
            "context-standalone-patient",
            "permission-patient",
        ):
            assert cap in doc["capabilities"]
        if slug == "maple-athena":  # athenahealth leaves it out although PKCE is required
            assert "code_challenge_methods_supported" not in doc
        else:
            assert doc["code_challenge_methods_supported"] == ["S256"]
        assert isinstance(doc["issuer"], str) and isinstance(doc["jwks_uri"], str)


def test_capability_statement(sim: Sim) -> None:
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    for slug in SLUGS:
        resp = requests.get(
            fhir_base(sim, slug) + "/metadata", headers={"Origin": "https://x.test"}
        )
        assert resp.status_code == 200
        assert resp.headers["Access-Control-Allow-Origin"] in ("*", "https://x.test")
        body = resp.json()
        CapabilityStatement.model_validate(body)
        assert body["fhirVersion"] == "4.0.1"
        security = body["rest"][0]["security"]
        ext = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
        assert security["extension"][0]["url"].endswith("/oauth-uris")
        assert ext["authorize"] == f"{sim.base_url}/portals/{slug}/authorize"
        assert ext["token"] == f"{sim.base_url}/portals/{slug}/token"
        types = {r["type"] for r in body["rest"][0]["resource"]}
        if slug == "bluebutton":
            assert types == {"Patient", "Coverage", "ExplanationOfBenefit"}
        else:
            assert {"Observation", "DocumentReference", "Procedure"} <= types


def test_introspection(sim: Sim, ws) -> None:
    launch = new_launch(sim, "summit-epic", ws[1])
    token = launch.connect("alice")
    url = launch.conf["introspection_endpoint"]
    auth = (launch.client["client_id"], launch.client["client_secret"])
    active = requests.post(url, data={"token": token["access_token"]}, auth=auth).json()
    assert active["active"] is True
    assert active["client_id"] == launch.client["client_id"]
    assert active["patient"] == token["patient"]
    assert active["scope"] == token["scope"]
    assert isinstance(active["exp"], int)
    # a resource server may use a bearer token instead of client credentials
    by_bearer = requests.post(
        url,
        data={"token": token["refresh_token"]},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    ).json()
    assert by_bearer["active"] is True
    assert requests.post(url, data={"token": "nope"}, auth=auth).json() == {"active": False}
    assert requests.post(url, data={"token": "nope"}).status_code == 401


def test_revoking_the_refresh_token_revokes_the_grant(sim: Sim, ws) -> None:
    launch = new_launch(sim, "summit-epic", ws[1])
    token = launch.connect("alice")
    auth = (launch.client["client_id"], launch.client["client_secret"])
    resp = requests.post(
        launch.conf["revocation_endpoint"],
        data={"token": token["refresh_token"], "token_type_hint": "refresh_token"},
        auth=auth,
    )
    assert resp.status_code == 200
    assert launch.get("Patient", token["access_token"]).status_code == 401
    refused = launch.refresh_raw(token["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    # unknown tokens are fine too (RFC 7009)
    assert requests.post(launch.conf["revocation_endpoint"], data={"token": "zz"}, auth=auth).ok


def test_revoking_an_access_token_keeps_the_refresh_token(sim: Sim, ws) -> None:
    launch = new_launch(sim, "summit-epic", ws[1])
    token = launch.connect("alice")
    auth = (launch.client["client_id"], launch.client["client_secret"])
    requests.post(
        launch.conf["revocation_endpoint"], data={"token": token["access_token"]}, auth=auth
    )
    assert launch.get("Patient", token["access_token"]).status_code == 401
    assert launch.refresh_raw(token["refresh_token"]).status_code == 200


def test_registration_belongs_to_the_workspace_of_the_key(sim: Sim) -> None:
    api_a, body_a = sim.new_workspace(seed=3, clock="manual")
    launch = new_launch(sim, "lakeside-cerner", body_a["api_key"])
    token = launch.connect("alice")
    api_a.advance(570)
    assert launch.get("Patient", token["access_token"]).status_code == 401
    # a registration without a key belongs to the default workspace, whose clock did not move
    default = new_launch(sim, "lakeside-cerner", None)
    other = default.connect("alice")
    assert default.get("Patient", other["access_token"]).status_code == 200
    grant = portal_mocks.find_grant(
        sim.runtime,
        sim.runtime.default_workspace.id,
        "lakeside-cerner",
        access_token=other["access_token"],
    )
    assert grant is not None and grant.workspace_id == sim.runtime.default_workspace.id


def test_registration_errors(sim: Sim) -> None:
    url = discover(sim, "summit-epic")["registration_endpoint"]
    bad_key = requests.post(
        url, json={"redirect_uris": [REDIRECT]}, headers={"Authorization": "Bearer mb_sk_sbx_nope"}
    )
    assert bad_key.status_code == 401 and bad_key.json()["error"] == "invalid_token"
    fragment = requests.post(url, json={"redirect_uris": ["https://a.example/cb#frag"]})
    assert fragment.status_code == 400 and fragment.json()["error"] == "invalid_redirect_uri"
    missing = requests.post(url, json={"client_name": "x"})
    assert missing.json()["error"] == "invalid_redirect_uri"
    method = requests.post(
        url,
        json={"redirect_uris": [LOCAL_REDIRECT], "token_endpoint_auth_method": "tls_client_auth"},
    )
    assert method.status_code == 400 and method.json()["error"] == "invalid_client_metadata"
    ok = requests.post(
        url, json={"redirect_uris": [LOCAL_REDIRECT], "token_endpoint_auth_method": "none"}
    )
    assert ok.status_code == 201 and ok.headers["Cache-Control"] == "no-store"


def test_ensure_client_is_idempotent(sim: Sim) -> None:
    rt = sim.runtime
    ws = rt.default_workspace.id
    first = portal_mocks.ensure_client(rt, ws, "summit-epic", redirect_uris=[REDIRECT])
    again = portal_mocks.ensure_client(rt, ws, "summit-epic", redirect_uris=[REDIRECT])
    assert first == again and first.client_secret
    public = portal_mocks.ensure_client(
        rt, ws, "summit-epic", redirect_uris=[REDIRECT], confidential=False
    )
    assert public.client_id != first.client_id and public.client_secret is None
    elsewhere = portal_mocks.ensure_client(rt, ws, "bluebutton", redirect_uris=[REDIRECT])
    assert elsewhere.client_id != first.client_id
    with pytest.raises(KeyError):
        portal_mocks.ensure_client(rt, ws, "nowhere", redirect_uris=[REDIRECT])


def test_simulator_scopes_with_basic_auth_at_the_payer(sim: Sim) -> None:
    """The simulator's own registration: client_secret_basic, its fixed scope string."""
    rt = sim.runtime
    ws = rt.default_workspace.id
    info = portal_mocks.ensure_client(rt, ws, "bluebutton", redirect_uris=[REDIRECT])
    client = {"client_id": info.client_id, "client_secret": info.client_secret}
    launch = new_launch(sim, "bluebutton", None)
    launch.client = client
    launch.oauth = OAuth2Session(
        info.client_id,
        info.client_secret,
        scope=SCOPE,
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
    )
    token = launch.connect("mia")
    assert token["patient"].startswith("-")
    granted = token["scope"].split()
    assert {
        "patient/Patient.read",
        "patient/Coverage.read",
        "patient/ExplanationOfBenefit.read",
    } <= set(granted)
    assert token["access_grant_expiration"]
    eobs = pages(
        launch,
        token["access_token"],
        f"{launch.fhir}/ExplanationOfBenefit?patient={token['patient']}",
    )
    assert sum(len(b.get("entry", [])) for b in eobs) == eobs[0]["total"] > 0
    coverage = launch.get("Coverage", token["access_token"], patient=token["patient"]).json()
    assert {e["resource"]["class"][0]["value"] for e in coverage["entry"]} == {
        "Part A",
        "Part B",
        "Part D",
    }
    assert launch.get("Observation", token["access_token"]).status_code == 404


def test_bluebutton_one_time_grant_has_no_refresh_token(sim: Sim, ws) -> None:
    api, key = ws
    launch = new_launch(sim, "bluebutton", key, data_access_type="ONE_TIME")
    token = launch.connect("mia")
    assert "refresh_token" not in token
    assert token["expires_in"] == 36000
    assert "offline_access" not in token["scope"].split()
    api.advance(36000 - 1)
    assert launch.get("Coverage", token["access_token"]).status_code == 200
    api.advance(1)
    assert launch.get("Coverage", token["access_token"]).status_code == 401
    # and chosen at login with `+one_time` on a 13-month registration
    again = new_launch(sim, "bluebutton", key)
    token = again.connect("mia+one_time")
    assert "refresh_token" not in token and token["expires_in"] == 36000


def test_bluebutton_thirteen_month_grant_ends(sim: Sim, ws) -> None:
    api, key = ws
    launch = new_launch(sim, "bluebutton", key)
    token = launch.connect("mia")
    api.advance(396 * 86400)  # past 13 calendar months
    resp = launch.refresh_raw(token["refresh_token"])
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_records_validate_as_fhir_r4b(sim: Sim, ws) -> None:
    launch = new_launch(sim, "summit-epic", ws[1])
    token = launch.connect("alice")
    for rtype in portal_mocks.PORTALS["summit-epic"].resource_types:
        module = importlib.import_module(f"fhir.resources.R4B.{rtype.lower()}")
        for bundle in pages(launch, token["access_token"], f"{launch.fhir}/{rtype}"):
            for entry in bundle.get("entry", []):
                getattr(module, rtype).model_validate(entry["resource"])
                assert entry["fullUrl"] == f"{launch.fhir}/{rtype}/{entry['resource']['id']}"
    bundle = launch.get("Observation", token["access_token"]).json()
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)
    assert json.dumps(bundle)
