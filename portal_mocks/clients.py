"""Client registrations at the portals and client authentication at the token endpoint.

A client belongs to one portal and one workspace (the workspace whose clock
and seed its grants follow). Clients come from RFC 7591 dynamic registration
(the simulator's own app too) or from `ensure_client` (pre-registered without
HTTP, for tests and benchmarks).

Token-endpoint authentication methods: `none` (public, `client_id` in the
body), `client_secret_basic`, `client_secret_post` (a client with a secret may
use either) and `private_key_jwt` (RS384/ES384 and the other algorithms the
SMART launcher accepts, `jti` replay refused, `exp` at most 5 minutes ahead
on the workspace clock). Every authentication failure is `invalid_client`,
401, with `WWW-Authenticate: Basic` when the Authorization header was used.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from portal_mocks import grants
from portal_mocks.oauth_errors import OAuthError
from portal_mocks.profiles import DATA_ACCESS_TYPES, THIRTEEN_MONTH
from simulator.core.store import dumps, loads, loads_strings
from simulator.core.validation import is_local_host, url_host

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS portal_clients (
    client_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    slug TEXT NOT NULL,
    client_secret TEXT,
    auth_method TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    client_name TEXT,
    scope TEXT,
    jwks TEXT,
    jwks_uri TEXT,
    data_access_type TEXT,
    ensure_key TEXT,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS portal_clients_ensure ON portal_clients (workspace_id, slug, ensure_key);
CREATE TABLE IF NOT EXISTS portal_assertion_jti (
    workspace_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    exp_ms INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
"""

AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post", "private_key_jwt")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
GRANT_TYPES = ("authorization_code", "refresh_token")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
ASSERTION_MAX_AHEAD_MS = 5 * 60 * 1000


@dataclass(frozen=True)
class ClientInfo:
    client_id: str
    client_secret: str | None
    slug: str
    workspace_id: str
    auth_method: str
    redirect_uris: list[str]
    grant_types: list[str] = field(default_factory=lambda: list(GRANT_TYPES))
    client_name: str | None = None
    scope: str | None = None
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    data_access_type: str | None = None
    created_ms: int = 0

    @property
    def confidential(self) -> bool:
        return self.auth_method != "none"

    def registration_response(self) -> dict[str, Any]:
        """RFC 7591 3.2.1 client information response."""
        body: dict[str, Any] = {
            "client_id": self.client_id,
            "client_id_issued_at": self.created_ms // 1000,
        }
        if self.client_secret is not None:
            body["client_secret"] = self.client_secret
            body["client_secret_expires_at"] = 0
        body.update(
            {
                "redirect_uris": self.redirect_uris,
                "token_endpoint_auth_method": self.auth_method,
                "grant_types": self.grant_types,
                "response_types": ["code"],
            }
        )
        for key in ("client_name", "scope", "jwks", "jwks_uri", "data_access_type"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        return body


class RegistrationError(Exception):
    """RFC 7591 3.2.2: `invalid_redirect_uri` or `invalid_client_metadata` (400)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _client(row: Any) -> ClientInfo:
    return ClientInfo(
        client_id=row["client_id"],
        client_secret=row["client_secret"],
        slug=row["slug"],
        workspace_id=row["workspace_id"],
        auth_method=row["auth_method"],
        redirect_uris=loads_strings(row["redirect_uris"]),
        grant_types=loads_strings(row["grant_types"], GRANT_TYPES),
        client_name=row["client_name"],
        scope=row["scope"],
        jwks=loads(row["jwks"]),
        jwks_uri=row["jwks_uri"],
        data_access_type=row["data_access_type"],
        created_ms=row["created_ms"],
    )


def get(rt: Runtime, slug: str, client_id: str | None) -> ClientInfo | None:
    """The client registered at the portal under `client_id`, or None.

    A registration never changes once stored and goes only with a workspace reset, so a
    process that is alone on its database remembers it (`Runtime.memo`, which a reset
    empties); processes sharing a database read it each time, as another one may have
    reset the workspace."""
    if not client_id:
        return None
    key = ("portal_client", slug, client_id)
    remember = not rt.store.shared
    known = rt.memo.get(key) if remember else None
    if known is not None:
        return known
    row = rt.store.one(
        "SELECT * FROM portal_clients WHERE client_id = ? AND slug = ?", (client_id, slug)
    )
    if row is None:
        return None
    client = _client(row)
    if remember:
        rt.memo.keep(key, client)
    return client


def _insert(
    rt: Runtime, ws_id: str, slug: str, info: dict[str, Any], key: str | None
) -> ClientInfo:
    secret = secrets.token_urlsafe(32) if info["auth_method"] in SECRET_METHODS else None
    client_id = str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))
    now = rt.now(ws_id)
    with rt.store.tx():
        rt.store.execute(
            "INSERT INTO portal_clients (client_id, workspace_id, slug, client_secret, auth_method,"
            " redirect_uris, grant_types, client_name, scope, jwks, jwks_uri, data_access_type,"
            " ensure_key, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                client_id,
                ws_id,
                slug,
                secret,
                info["auth_method"],
                dumps(info["redirect_uris"]),
                dumps(info.get("grant_types") or list(GRANT_TYPES)),
                info.get("client_name"),
                info.get("scope"),
                None if info.get("jwks") is None else dumps(info["jwks"]),
                info.get("jwks_uri"),
                info.get("data_access_type"),
                key,
                now,
            ),
        )
    found = get(rt, slug, client_id)
    assert found is not None
    return found


def ensure_client(
    rt: Runtime,
    ws_id: str,
    slug: str,
    *,
    redirect_uris: list[str],
    confidential: bool = True,
) -> ClientInfo:
    """An app pre-registered at a portal: one registration per (workspace, portal, URIs)."""
    uris = [check_redirect_uri(u) for u in redirect_uris]
    key = dumps({"redirect_uris": sorted(uris), "confidential": confidential})
    with rt.store.tx():
        row = rt.store.one(
            "SELECT * FROM portal_clients WHERE workspace_id = ? AND slug = ? AND ensure_key = ?",
            (ws_id, slug, key),
        )
        if row is not None:
            return _client(row)
        return _insert(
            rt,
            ws_id,
            slug,
            {
                "auth_method": "client_secret_basic" if confidential else "none",
                "redirect_uris": uris,
                "client_name": "Medblocks Connect",
                "data_access_type": THIRTEEN_MONTH if slug == "bluebutton" else None,
            },
            key,
        )


def check_redirect_uri(uri: Any) -> str:
    if not isinstance(uri, str) or not uri:
        raise RegistrationError("invalid_redirect_uri", "Each redirect URI must be a string")
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RegistrationError(
            "invalid_redirect_uri", f"Redirect URI must be an absolute http(s) URL: {uri}"
        )
    if parts.fragment or "#" in uri:
        raise RegistrationError(
            "invalid_redirect_uri", f"Redirect URI must not contain a fragment: {uri}"
        )
    return uri


def is_local_url(rt: Runtime, url: str) -> bool:
    """A URL on a loopback host or on this server: the only places an anonymous
    registration may send a browser or make the server fetch from."""
    host = url_host(url)
    if host is None:
        return False
    return is_local_host(host) or url.startswith(rt.base_url.rstrip("/") + "/")


def register(
    rt: Runtime, ws_id: str, slug: str, metadata: Mapping[str, Any], *, anonymous: bool = False
) -> ClientInfo:
    """RFC 7591 dynamic client registration.

    An `anonymous` registration (no initial access token) may name only loopback
    or this server's redirect URIs: otherwise anyone could make the authorize
    endpoint redirect a patient, with a code, to a host of their choosing.
    """
    if not isinstance(metadata, Mapping):
        raise RegistrationError("invalid_client_metadata", "The body must be a JSON object")
    uris = metadata.get("redirect_uris")
    if not isinstance(uris, list) or not uris:
        raise RegistrationError(
            "invalid_redirect_uri", "redirect_uris is required: a non-empty array of URLs"
        )
    uris = [check_redirect_uri(u) for u in uris]
    if anonymous:
        for uri in uris:
            if not is_local_url(rt, uri):
                raise RegistrationError(
                    "invalid_redirect_uri",
                    "Without an initial access token (Authorization: Bearer <workspace API key>)"
                    f" redirect URIs must be on localhost or a loopback address: {uri}",
                )
    method = metadata.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise RegistrationError(
            "invalid_client_metadata",
            f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}",
        )
    grant_types = metadata.get("grant_types", ["authorization_code", "refresh_token"])
    if (
        not isinstance(grant_types, list)
        or "authorization_code" not in grant_types
        or any(g not in GRANT_TYPES for g in grant_types)
    ):
        raise RegistrationError(
            "invalid_client_metadata",
            "grant_types must include authorization_code and may include refresh_token only",
        )
    response_types = metadata.get("response_types", ["code"])
    if response_types != ["code"]:
        raise RegistrationError("invalid_client_metadata", 'response_types must be ["code"]')
    jwks, jwks_uri = metadata.get("jwks"), metadata.get("jwks_uri")
    if method == "private_key_jwt":
        if (jwks is None) == (jwks_uri is None):
            raise RegistrationError(
                "invalid_client_metadata", "private_key_jwt needs exactly one of jwks or jwks_uri"
            )
        if jwks is not None and not (isinstance(jwks, dict) and isinstance(jwks.get("keys"), list)):
            raise RegistrationError("invalid_client_metadata", "jwks must be a JWK Set")
        if jwks_uri is not None and not (
            isinstance(jwks_uri, str) and urlsplit(jwks_uri).scheme in ("http", "https")
        ):
            raise RegistrationError("invalid_client_metadata", "jwks_uri must be an http(s) URL")
        if jwks_uri is not None and not is_local_url(rt, jwks_uri):
            raise RegistrationError(
                "invalid_client_metadata",
                "jwks_uri must be on localhost, a loopback address or this server"
                " (the portal fetches it; send the keys inline as jwks instead)",
            )
    elif jwks is not None or jwks_uri is not None:
        jwks = jwks_uri = None
    for key in ("client_name", "scope"):
        if metadata.get(key) is not None and not isinstance(metadata[key], str):
            raise RegistrationError("invalid_client_metadata", f"{key} must be a string")
    data_access_type = metadata.get("data_access_type")
    if slug == "bluebutton":
        data_access_type = data_access_type or THIRTEEN_MONTH
        if data_access_type not in DATA_ACCESS_TYPES:
            raise RegistrationError(
                "invalid_client_metadata",
                f"data_access_type must be one of {', '.join(DATA_ACCESS_TYPES)}",
            )
    else:
        data_access_type = None
    return _insert(
        rt,
        ws_id,
        slug,
        {
            "auth_method": method,
            "redirect_uris": uris,
            "grant_types": grant_types,
            "client_name": metadata.get("client_name"),
            "scope": metadata.get("scope"),
            "jwks": jwks,
            "jwks_uri": jwks_uri,
            "data_access_type": data_access_type,
        },
        None,
    )


# -- authentication at the token, introspection and revocation endpoints ---------


def _invalid_client(description: str, basic: bool, realm: str) -> OAuthError:
    headers = {"WWW-Authenticate": f'Basic realm="{realm}"'} if basic else {}
    return OAuthError("invalid_client", description, status=401, headers=headers)


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """`Authorization: Basic ...` -> (client_id, secret) (form-urlencoded parts, RFC 6749 2.3.1)."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "Malformed Basic credentials", status=401) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "Malformed Basic credentials", status=401)
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


def authenticate(
    rt: Runtime,
    slug: str,
    authorization: str | None,
    form: Mapping[str, str],
    token_endpoint: str,
    refreshing: Callable[[], grants.Found] | None = None,
) -> tuple[ClientInfo, str]:
    """The calling client and the method it used; raises `invalid_client` / `invalid_request`.

    `refreshing`: for a refresh_token grant, what the presented refresh token is
    (`grants.lookup_with_grant_soon`); a public client that sends no `client_id` is the
    one that token was issued to."""
    basic = parse_basic(authorization)
    has_post_secret = "client_secret" in form
    has_assertion = "client_assertion" in form or "client_assertion_type" in form
    if sum((basic is not None, has_post_secret, has_assertion)) > 1:
        raise OAuthError("invalid_request", "Use exactly one client authentication method")
    realm = slug
    if basic is not None:
        client_id, secret = basic
        if form.get("client_id") and form["client_id"] != client_id:
            raise OAuthError("invalid_request", "client_id in the body differs from Basic auth")
        client = get(rt, slug, client_id)
        if client is None:
            raise _invalid_client("Unknown client", True, realm)
        if client.client_secret is None or not secrets.compare_digest(client.client_secret, secret):
            raise _invalid_client("Invalid client credentials", True, realm)
        return client, "client_secret_basic"
    if has_post_secret:
        client = get(rt, slug, form.get("client_id"))
        if client is None:
            raise _invalid_client("Unknown client", False, realm)
        if client.client_secret is None or not secrets.compare_digest(
            client.client_secret, form.get("client_secret", "")
        ):
            raise _invalid_client("Invalid client credentials", False, realm)
        return client, "client_secret_post"
    if has_assertion:
        return _authenticate_assertion(rt, slug, form, token_endpoint), "private_key_jwt"
    client_id = form.get("client_id") or _refreshing_client(refreshing)
    client = get(rt, slug, client_id)
    if client is None:
        if not client_id:
            raise _invalid_client("Client authentication is required", False, realm)
        raise _invalid_client("Unknown client", False, realm)
    if client.confidential:
        raise _invalid_client("This client must authenticate", False, realm)
    return client, "none"


def _refreshing_client(refreshing: Callable[[], grants.Found] | None) -> str | None:
    """A public client's refresh carries only `grant_type` and `refresh_token` (RFC 6749
    section 6): the client is the one the refresh token was issued to."""
    if refreshing is None:
        return None
    token, grant, _ = refreshing()
    if token is None or token.kind != grants.REFRESH or grant is None:
        return None
    return grant.client_id


def _authenticate_assertion(
    rt: Runtime, slug: str, form: Mapping[str, str], token_endpoint: str
) -> ClientInfo:
    from joserfc import jws, jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise OAuthError(
            "invalid_client", f"client_assertion_type must be {ASSERTION_TYPE}", status=401
        )
    assertion = form.get("client_assertion", "")
    try:
        unverified = jws.extract_compact(assertion.encode())
        header = unverified.headers()
        claims = json.loads(unverified.payload)
    except (JoseError, ValueError, TypeError):
        raise OAuthError("invalid_client", "Malformed client_assertion", status=401) from None
    iss = claims.get("iss")
    client = get(rt, slug, iss if isinstance(iss, str) else None)
    if client is None or client.auth_method != "private_key_jwt":
        raise OAuthError(
            "invalid_client", "Unknown client or not a private_key_jwt client", status=401
        )
    if claims.get("sub") != client.client_id:
        raise OAuthError("invalid_client", "iss and sub must both be the client_id", status=401)
    if form.get("client_id") and form["client_id"] != client.client_id:
        raise OAuthError("invalid_client", "client_id does not match the assertion", status=401)
    alg = header.get("alg")
    if alg not in ASSERTION_ALGS:
        raise OAuthError("invalid_client", f"Unsupported assertion alg {alg}", status=401)
    if client.jwks_uri is not None and header.get("jku") not in (None, client.jwks_uri):
        raise OAuthError("invalid_client", "jku does not match the registered jwks_uri", status=401)
    # Every claim is checked before the keys are fetched: an assertion that could never
    # pass makes the server fetch nothing.
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if token_endpoint not in auds:
        raise OAuthError("invalid_client", "Assertion aud must be the token endpoint", status=401)
    now = rt.now(client.workspace_id)
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        raise OAuthError("invalid_client", "Assertion exp is required", status=401)
    exp_ms = int(exp * 1000)
    if exp_ms <= now:
        raise OAuthError("invalid_client", "Assertion expired", status=401)
    if exp_ms > now + ASSERTION_MAX_AHEAD_MS + 60_000:
        raise OAuthError("invalid_client", "Assertion exp is more than 5 minutes ahead", status=401)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise OAuthError("invalid_client", "Assertion jti is required", status=401)
    # Fetching the keys, finding the key and checking the signature fail with one text,
    # so an answer never tells whether a fetch worked.
    jwks = client.jwks if client.jwks is not None else _fetch_jwks(rt, client.jwks_uri or "")
    kty = "RSA" if alg.startswith("RS") else "EC"
    matches = [
        k
        for k in jwks.get("keys", [])
        if isinstance(k, dict) and k.get("kid") == header.get("kid") and k.get("kty") == kty
    ]
    if len(matches) != 1:
        raise _bad_assertion()
    try:
        key = KeySet.import_key_set({"keys": matches}).keys[0]
        jwt.decode(assertion, key, algorithms=[alg])
    except (JoseError, ValueError, TypeError):
        raise _bad_assertion() from None
    with rt.store.tx():
        rt.store.execute(
            "DELETE FROM portal_assertion_jti WHERE client_id = ? AND exp_ms < ?",
            (client.client_id, now),
        )
        if rt.store.one(
            "SELECT 1 FROM portal_assertion_jti WHERE client_id = ? AND jti = ?",
            (client.client_id, jti),
        ):
            raise OAuthError("invalid_client", "Assertion jti was already used", status=401)
        rt.store.execute(
            "INSERT INTO portal_assertion_jti (workspace_id, client_id, jti, exp_ms) VALUES (?,?,?,?)",
            (client.workspace_id, client.client_id, jti, exp_ms),
        )
    return client


JWKS_MAX_BYTES = 64 * 1024
JWKS_TIMEOUT_S = 5.0


def _bad_assertion() -> OAuthError:
    return OAuthError(
        "invalid_client",
        "The client_assertion is not signed by a key of the client's registered JWK Set",
        status=401,
    )


def _fetch_jwks(rt: Runtime, url: str) -> dict[str, Any]:
    """The client's JWK Set from its `jwks_uri`: a local URL only, at most 64 KB in 5 s."""
    if not is_local_url(rt, url):
        raise _bad_assertion()
    try:
        resp = rt.http.get(url, timeout=min(rt.config.http_timeout, JWKS_TIMEOUT_S), stream=True)
        resp.raise_for_status()
        raw = b""
        for chunk in resp.iter_content(8192):
            raw += chunk
            if len(raw) > JWKS_MAX_BYTES:
                raise ValueError("the JWK Set is too large")
        body = json.loads(raw)
    except Exception:
        raise _bad_assertion() from None
    return body if isinstance(body, dict) else {}
