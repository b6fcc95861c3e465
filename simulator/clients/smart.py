"""The simulator's SMART App Launch client side: discovery, authorize URL, code exchange,
refresh and revocation, with PKCE S256. Built on Authlib's OAuth2Session.
(Dynamic client registration is `simulator.clients.registration`.)

No Flask and no store here: callers keep the state and must not hold a store
transaction while these functions talk to a portal.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc7636 import create_s256_code_challenge

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


def error_of(resp: requests.Response, description: str) -> SmartError:
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
        return Endpoints(
            authorization_endpoint=doc["authorization_endpoint"],
            token_endpoint=doc["token_endpoint"],
            revocation_endpoint=doc.get("revocation_endpoint"),
            capabilities=tuple(doc.get("capabilities") or ()),
            registration_endpoint=doc.get("registration_endpoint"),
        )
    except (ValueError, KeyError, TypeError):
        raise SmartError("discovery_failed", f"{url} is not a SMART configuration") from None


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


def _token_call(fn, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        token = fn(*args, **kwargs)
    except (OAuth2Error, OAuthError) as exc:
        raise SmartError(exc.error or "oauth_error", exc.description or "") from None
    except requests.Timeout:
        raise SmartError("timeout", "the token endpoint did not answer in time") from None
    except requests.HTTPError as exc:
        if exc.response is None:  # only raise_for_status raises these, always with a response
            raise SmartError("network", str(exc)) from None
        raise error_of(exc.response, "the token endpoint failed") from None
    except requests.RequestException as exc:
        raise SmartError("network", str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise SmartError("bad_response", f"the token response is not JSON: {exc}") from None
    if not isinstance(token, dict) or not token.get("access_token"):
        raise SmartError("bad_response", "the token response has no access_token")
    return dict(token)


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
    oauth = _session(client, redirect_uri, http=http)
    return _token_call(
        oauth.fetch_token,
        endpoints.token_endpoint,
        grant_type="authorization_code",
        code=code,
        redirect_uri=redirect_uri,
        code_verifier=code_verifier,
        timeout=timeout,
    )


def refresh(
    http: requests.Session,
    endpoints: Endpoints,
    client: ClientCredentials,
    *,
    refresh_token: str,
    timeout: float,
) -> dict[str, Any]:
    """Use a refresh token; the answer keeps the old refresh token when none is rotated in."""
    oauth = _session(client, http=http)
    token = _token_call(
        oauth.refresh_token,
        endpoints.token_endpoint,
        refresh_token=refresh_token,
        timeout=timeout,
    )
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
