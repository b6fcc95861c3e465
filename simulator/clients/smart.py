"""The simulator's SMART App Launch client side: discovery, authorize URL, code exchange,
refresh and revocation, with PKCE S256. Built on Authlib's OAuth2Session.
(Dynamic client registration is `simulator.clients.registration`.)

No Flask and no store here: callers keep the state and must not hold a store
transaction while these functions talk to a portal.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from simulator.clients.fhir import max_age
from simulator.core import transport
from simulator.core.query import urlencode

DEFAULT_SCOPE = "launch/patient openid fhirUser offline_access patient/*.read"


@dataclass(frozen=True)
class Endpoints:
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None
    capabilities: tuple[str, ...]
    registration_endpoint: str | None = None


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str | None


class SmartError(Exception):
    """A failed exchange with a portal.

    `code` is the OAuth error code when the portal sent one, else `http_<status>`,
    `timeout`, `network` or `bad_response`. `transient` marks errors worth retrying.
    """

    def __init__(self, code: str, description: str = "", *, status: int | None = None) -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description
        self.status = status

    @property
    def transient(self) -> bool:
        if self.code in ("timeout", "network", "temporarily_unavailable", "server_error"):
            return True
        return self.status is not None and (self.status >= 500 or self.status == 429)


def new_state() -> str:
    """An opaque `state` with well over 122 bits of entropy."""
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    """A PKCE code_verifier: 64 characters from the unreserved set."""
    return generate_token(64)


def code_challenge(verifier: str) -> str:
    return create_s256_code_challenge(verifier)


def send(
    http: requests.Session, method: str, url: str, what: str, **kwargs: Any
) -> requests.Response:
    """One call to a SMART server; a timeout or a network failure is a SmartError about `what`."""
    try:
        return http.request(method, url, **kwargs)
    except requests.Timeout:
        raise SmartError("timeout", f"{what} at {url} timed out") from None
    except requests.RequestException as exc:
        raise SmartError("network", f"{what} at {url} failed: {exc}") from None


def error_of(resp: requests.Response | transport.Reply, description: str) -> SmartError:
    """A failed answer as a SmartError: the body's OAuth `error`, else `http_<status>`."""
    code = f"http_{resp.status_code}"
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        code = body["error"]
        description = str(body.get("error_description") or description)
    return SmartError(code, description, status=resp.status_code)


def discover(http: requests.Session, fhir_base_url: str, timeout: float) -> Endpoints:
    """Read `[base]/.well-known/smart-configuration`."""
    return discover_with_max_age(http, fhir_base_url, timeout)[0]


def discover_with_max_age(
    http: requests.Session, fhir_base_url: str, timeout: float
) -> tuple[Endpoints, int | None]:
    """`discover`, and the seconds its answer may be kept (`Cache-Control: max-age`;
    None: it may not be kept)."""
    url = fhir_base_url.rstrip("/") + "/.well-known/smart-configuration"
    resp = send(
        http, "GET", url, "discovery", headers={"Accept": "application/json"}, timeout=timeout
    )
    if resp.status_code != 200:
        raise SmartError(
            "discovery_failed", f"{url} answered {resp.status_code}", status=resp.status_code
        )
    try:
        doc = resp.json()
        endpoints = Endpoints(
            authorization_endpoint=doc["authorization_endpoint"],
            token_endpoint=doc["token_endpoint"],
            revocation_endpoint=doc.get("revocation_endpoint"),
            capabilities=tuple(doc.get("capabilities") or ()),
            registration_endpoint=doc.get("registration_endpoint"),
        )
    except (ValueError, KeyError, TypeError):
        raise SmartError("discovery_failed", f"{url} is not a SMART configuration") from None
    return endpoints, max_age(resp.headers.get("Cache-Control"))


def _session(
    client: ClientCredentials,
    redirect_uri: str | None = None,
    scope: str | None = None,
    http: requests.Session | None = None,
) -> OAuth2Session:
    """An Authlib session for one call; it uses `http`'s transports (in-process ones too)."""
    oauth = OAuth2Session(
        client_id=client.client_id,
        client_secret=client.client_secret,
        token_endpoint_auth_method="client_secret_basic" if client.client_secret else "none",
        code_challenge_method="S256",
        redirect_uri=redirect_uri,
        scope=scope,
    )
    oauth.trust_env = False  # portals are reached directly; no proxy lookup per call
    if http is not None:
        # `http`'s transports (pools, in-process routes), shared: never close this session
        oauth.adapters = http.adapters
    return oauth


def authorization_url(
    endpoints: Endpoints,
    client: ClientCredentials,
    *,
    redirect_uri: str,
    scope: str,
    state: str,
    code_verifier: str,
    aud: str,
) -> str:
    with _session(client, redirect_uri, scope) as oauth:
        url, _ = oauth.create_authorization_url(
            endpoints.authorization_endpoint, state=state, code_verifier=code_verifier, aud=aud
        )
    return url


# What Authlib's OAuth2Session sent, byte for byte: these headers, Basic client authentication
# (or `client_id` last in the body for a public client) and the parameters in this order.
_TOKEN_HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
}


def _token_request(
    http: requests.Session,
    url: str,
    client: ClientCredentials,
    params: list[tuple[str, str]],
    timeout: float,
) -> dict[str, Any]:
    """POST a token request and read the answer as Authlib's client did, without building a
    client session per call.

    A 5xx, or a 4xx whose body is not a JSON object, is `error_of` the response (its status
    kept); a JSON `error` is that OAuth error (no status); another body that is not a JSON
    object is `bad_response`; an answer without `access_token` is `bad_response`.
    """
    headers = dict(_TOKEN_HEADERS)
    if client.client_secret:
        basic = f"{client.client_id}:{client.client_secret}".encode("latin1")
        headers["Authorization"] = "Basic " + base64.b64encode(basic).decode("ascii")
    else:
        params = [*params, ("client_id", client.client_id)]
    try:
        # the form encoded here as requests would encode it (UTF-8, `+` for spaces)
        resp = transport.call(
            http, "POST", url, data=urlencode(params), headers=headers, timeout=timeout
        )
    except requests.Timeout:
        raise SmartError("timeout", "the token endpoint did not answer in time") from None
    except requests.RequestException as exc:
        raise SmartError("network", str(exc)) from None
    if resp.status_code >= 500:
        raise error_of(resp, "the token endpoint failed")
    try:
        token = resp.json()
    except ValueError:
        token = None
    if not isinstance(token, dict):
        if resp.status_code >= 400:
            raise error_of(resp, "the token endpoint failed")
        raise SmartError(
            "bad_response",
            "the token response is not JSON: Token endpoint response is not a JSON object"
            f" (HTTP {resp.status_code}).",
        )
    if "error" in token:
        raise SmartError(token["error"] or "oauth_error", token.get("error_description") or "")
    if not token.get("access_token"):
        raise SmartError("bad_response", "the token response has no access_token")
    return token


def exchange_code(
    http: requests.Session,
    endpoints: Endpoints,
    client: ClientCredentials,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    timeout: float,
) -> dict[str, Any]:
    """Trade an authorization code (and the PKCE verifier) for tokens."""
    params = [
        ("grant_type", "authorization_code"),
        ("redirect_uri", redirect_uri),
        ("code", code),
        ("code_verifier", code_verifier),
    ]
    return _token_request(http, endpoints.token_endpoint, client, params, timeout)


def refresh(
    http: requests.Session,
    endpoints: Endpoints,
    client: ClientCredentials,
    *,
    refresh_token: str,
    timeout: float,
) -> dict[str, Any]:
    """Use a refresh token; the answer keeps the old refresh token when none is rotated in."""
    params = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)]
    token = _token_request(http, endpoints.token_endpoint, client, params, timeout)
    token.setdefault("refresh_token", refresh_token)
    return token


def revoke(
    http: requests.Session,
    endpoints: Endpoints,
    client: ClientCredentials,
    *,
    token: str,
    token_type_hint: str,
    timeout: float,
) -> bool:
    """RFC 7009 revocation; True when the portal accepted it."""
    if not endpoints.revocation_endpoint:
        return False
    auth = (client.client_id, client.client_secret) if client.client_secret else None
    data = {"token": token, "token_type_hint": token_type_hint}
    if auth is None:
        data["client_id"] = client.client_id
    try:
        resp = http.post(endpoints.revocation_endpoint, data=data, auth=auth, timeout=timeout)
    except requests.RequestException:
        return False
    return resp.status_code == 200
