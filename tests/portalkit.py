"""Shared steps for the portal tests: register an app, run a SMART launch, call endpoints raw.

The OAuth client is authlib's `OAuth2Session` (an independent SMART client);
the patient is `portal_mocks.testing.sign_in`, which posts the portal's own
HTML forms. HTTP goes through `requests`, routed in-process by `sim.route_outbound()`
(or over loopback when the Sim is served).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.requests_client import OAuth2Session

from portal_mocks.profiles import PORTALS
from portal_mocks.testing import SignIn, sign_in
from simulator.testing import Sim

SLUGS = list(PORTALS)
REDIRECT = "https://app.example/callback"
# a registration without a key may name only loopback (or this server's) redirect URIs
LOCAL_REDIRECT = "http://localhost:8765/callback"
SCOPE = "launch/patient openid fhirUser offline_access patient/*.read"


def fhir_base(sim: Sim, slug: str) -> str:
    return f"{sim.base_url}/portals/{slug}/fhir"


def discover(sim: Sim, slug: str) -> dict[str, Any]:
    resp = requests.get(fhir_base(sim, slug) + "/.well-known/smart-configuration", timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def register(
    sim: Sim, slug: str, api_key: str | None, *, method: str = "client_secret_basic", **meta: Any
) -> dict[str, Any]:
    redirect = REDIRECT if api_key else LOCAL_REDIRECT
    body = {"redirect_uris": [redirect], "token_endpoint_auth_method": method, **meta}
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    resp = requests.post(discover(sim, slug)["registration_endpoint"], json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def verifier() -> str:
    return secrets.token_urlsafe(48)


def challenge(code_verifier: str) -> str:
    digest = hashlib.sha256(code_verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Launch:
    """One app at one portal: its registration, its authlib session, its PKCE verifier."""

    sim: Sim
    slug: str
    client: dict[str, Any]
    conf: dict[str, Any]
    oauth: OAuth2Session
    code_verifier: str = ""
    state: str = ""
    signin: SignIn | None = None

    @property
    def fhir(self) -> str:
        return fhir_base(self.sim, self.slug)

    def authorize_url(self, **extra: str) -> str:
        self.code_verifier = verifier()
        params = {"aud": self.fhir, **extra}
        url, self.state = self.oauth.create_authorization_url(
            self.conf["authorization_endpoint"], code_verifier=self.code_verifier, **params
        )
        return url

    def sign_in(self, username: str = "alice", decision: str = "approve", **extra: str) -> SignIn:
        self.signin = sign_in(
            requests.Session(), self.authorize_url(**extra), username, decision=decision
        )
        return self.signin

    def code(self, username: str = "alice") -> str:
        result = self.sign_in(username)
        assert "code" in result.params, (result.params, result.errors)
        assert result.params["state"] == self.state
        return result.params["code"]

    def fetch_token(self) -> dict[str, Any]:
        assert self.signin is not None and self.signin.redirect_url
        return dict(
            self.oauth.fetch_token(
                self.conf["token_endpoint"],
                authorization_response=self.signin.redirect_url,
                code_verifier=self.code_verifier,
            )
        )

    def connect(self, username: str = "alice") -> dict[str, Any]:
        self.code(username)
        return self.fetch_token()

    def token_post(self, data: dict[str, str], *, auth: bool = True) -> requests.Response:
        """A raw token-endpoint call with this client's credentials."""
        return raw_token(self.conf, self.client, data, auth=auth)

    def refresh_raw(self, refresh_token: str, **extra: str) -> requests.Response:
        return self.token_post(
            {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
        )

    def get(self, path: str, token: str, **params: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.fhir}/{path}"
        return requests.get(
            url, params=params or None, headers={"Authorization": f"Bearer {token}"}
        )


def raw_token(
    conf: dict[str, Any], client: dict[str, Any], data: dict[str, str], *, auth: bool = True
) -> requests.Response:
    body = dict(data)
    basic = None
    if auth and client.get("client_secret"):
        basic = (client["client_id"], client["client_secret"])
    elif auth:
        body.setdefault("client_id", client["client_id"])
    return requests.post(conf["token_endpoint"], data=body, auth=basic, timeout=30)


def new_launch(
    sim: Sim,
    slug: str,
    api_key: str | None,
    *,
    method: str = "client_secret_basic",
    scope: str = SCOPE,
    **meta: Any,
) -> Launch:
    client = register(sim, slug, api_key, method=method, **meta)
    conf = discover(sim, slug)
    oauth = OAuth2Session(
        client["client_id"],
        client.get("client_secret"),
        scope=scope,
        redirect_uri=client["redirect_uris"][0],
        code_challenge_method="S256",
        token_endpoint_auth_method=method,
    )
    return Launch(sim, slug, client, conf, oauth)


def manual_authorize_url(launch: Launch, **params: str | None) -> str:
    """An authorize URL built by hand (for malformed requests); None drops a parameter."""
    code_verifier = verifier()
    query: dict[str, str | None] = {
        "response_type": "code",
        "client_id": launch.client["client_id"],
        "redirect_uri": REDIRECT,
        "scope": SCOPE,
        "state": "st-" + secrets.token_hex(4),
        "aud": launch.fhir,
        "code_challenge": challenge(code_verifier),
        "code_challenge_method": "S256",
    }
    query.update(params)
    launch.code_verifier = code_verifier
    kept = {k: v for k, v in query.items() if v is not None}
    return f"{launch.conf['authorization_endpoint']}?{urlencode(kept)}"


def pages(launch: Launch, token: str, url: str) -> list[dict[str, Any]]:
    """Every Bundle of a search, following `next` links."""
    bundles = []
    while url:
        resp = launch.get(url, token)
        assert resp.status_code == 200, resp.text
        bundle = resp.json()
        bundles.append(bundle)
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), "")
    return bundles
