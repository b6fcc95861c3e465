"""The token endpoint's rules: code exchange, refresh, introspection, revocation (no Flask).

* Codes are single use: a second use is `invalid_grant` and revokes every
  token the first use issued (RFC 6749 4.1.2). They expire `code_ttl_s` after
  issue on the workspace clock.
* `redirect_uri` must equal the authorize request's; PKCE S256 is checked.
* A refresh token is issued only when `offline_access` or `online_access` was
  granted (never for a Blue Button one-time grant). Portals with
  `rotate_refresh_tokens` return a new refresh token on each refresh and
  revoke the old one; the others keep the same refresh token.
* A refresh token is bound to its client; `scope` on refresh must be within
  the original grant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from portal_mocks import clients, faults, grants, keys, pkce, scopes
from portal_mocks.authorization import fhir_base
from portal_mocks.clients import ClientInfo
from portal_mocks.grants import Grant, Token
from portal_mocks.oauth_errors import OAuthError
from portal_mocks.profiles import (
    ONE_TIME_GRANT_S,
    RESEARCH_STUDY,
    Portal,
    access_token_ttl_s,
    add_months,
)
from simulator.core.timeutil import parse_iso

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SIM_ERRORS = {
    "request_invalid_token": ("Invalid token", "Invalid token (simulated error)"),
    "request_expired_token": ("Token expired", "Token expired (simulated error)"),
}
ID_TOKEN_TTL_S = 3600


@dataclass
class TokenResult:
    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def token_endpoint(rt: Runtime, slug: str) -> str:
    return f"{rt.base_url}/portals/{slug}/token"


def handle(
    rt: Runtime, portal: Portal, form: Mapping[str, str], authorization: str | None
) -> TokenResult:
    """POST /token for both grant types."""
    grant_type = form.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant_type not in ("authorization_code", "refresh_token"):
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type} is not supported")
    found = None
    if grant_type == "refresh_token":  # read with the client's row
        found = grants.lookup_with_grant_soon(rt, portal.slug, form.get("refresh_token"))
    client, method = clients.authenticate(
        rt, portal.slug, authorization, form, token_endpoint(rt, portal.slug), found
    )
    if grant_type not in client.grant_types:
        raise OAuthError("unauthorized_client", f"This client may not use {grant_type}")
    if found is None:
        return exchange(rt, portal, client, method, form)
    return refresh(rt, portal, client, method, form, found())


def _token_faults(plan: faults.Plan, method: str) -> None:
    names = ["token_invalid_token"]
    if method != "none":
        names.append("auth_invalid_client_secret")
    fired = plan.first_fired(names)
    if fired is None:
        return
    if fired.name == "auth_invalid_client_secret":
        raise OAuthError("invalid_client", "Simulated invalid client secret error", status=401)
    raise OAuthError("invalid_client", "Simulated invalid client error", status=401)


def _delay(rt: Runtime, fault: faults.StoredFault) -> float:
    return float(faults.arg_of(fault, rt.config.http_timeout))


def exchange(
    rt: Runtime, portal: Portal, client: ClientInfo, method: str, form: Mapping[str, str]
) -> TokenResult:
    code = form.get("code")
    if not code:
        raise OAuthError("invalid_request", "code is required")
    coded = grants.by_code(rt, portal.slug, code)
    if coded is None:
        raise OAuthError("invalid_grant", "Invalid authorization code")
    grant, faulted = coded
    if grant.client_id != client.client_id:
        raise OAuthError("invalid_grant", "The code was issued to another client")
    ws = grant.workspace_id
    now = rt.now(ws)
    plan = faults.Plan(rt, ws, portal.slug, grant.id, now, any_stored=faulted)
    _token_faults(plan, method)
    if grant.code_used_ms is not None:
        grants.revoke(rt, grant, "code_reused")
        raise OAuthError("invalid_grant", "The authorization code was already used")
    if grant.code_expires_ms is not None and now >= grant.code_expires_ms:
        raise OAuthError("invalid_grant", "The authorization code has expired")
    redirect_uri = form.get("redirect_uri")
    if not redirect_uri:
        raise OAuthError("invalid_request", "redirect_uri is required")
    if redirect_uri != grant.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorize request")
    pkce.check_verifier(form.get("code_verifier"), grant.code_challenge)
    delay = 0.0
    fired = plan.first_fired(
        ["exchange_invalid_grant", "exchange_invalid_client", "exchange_5xx", "exchange_timeout"]
    )
    if fired is not None:
        if fired.name == "exchange_invalid_grant":
            raise OAuthError("invalid_grant", "The authorization code is invalid or expired")
        if fired.name == "exchange_invalid_client":
            raise OAuthError("invalid_client", "Client authentication failed", status=401)
        if fired.name == "exchange_5xx":
            status = int(faults.arg_of(fired, rt.config.http_timeout))
            error = "temporarily_unavailable" if status == 503 else "server_error"
            headers = {"Retry-After": "1"} if status == 503 else {}
            raise OAuthError(error, "The token service failed", status=status, headers=headers)
        delay = _delay(rt, fired)
    with rt.store.tx():  # the success path writes in one transaction
        spent = grants.spend_code(rt, grant, now)  # the status, read as the code is spent
        if spent is not None:
            grant = _activate(rt, portal, grant, client, now, spent)
            result = _issue(rt, portal, grant, grant.granted_scope, now, plan, refresh_token=None)
    if spent is None:
        grants.revoke(rt, grant, "code_reused")
        raise OAuthError("invalid_grant", "The authorization code was already used")
    if "openid" in grant.granted_scope and (
        "fhirUser" in grant.granted_scope or "profile" in grant.granted_scope
    ):  # signed after the transaction: no store lock held while signing
        body = result.body
        body["id_token"] = id_token(rt, portal, grant, now)
        for key in ("access_grant_expiration", "sim_error"):  # these stay last, as they were
            if key in body:
                body[key] = body.pop(key)
    result.delay_s = delay
    return result


def _activate(
    rt: Runtime, portal: Portal, grant: Grant, client: ClientInfo, now: int, current: str
) -> Grant:
    expires: int | None = None
    if portal.is_payer:
        if grant.one_time:
            expires = now + ONE_TIME_GRANT_S * 1000
        elif client.data_access_type != RESEARCH_STUDY:
            expires = add_months(now, 13)
    return grants.move(
        rt,
        grant,
        "activate",
        at_ms=now,
        current=current,
        activated_ms=now,
        grant_expires_ms=expires,
    )


def _issue(
    rt: Runtime,
    portal: Portal,
    grant: Grant,
    scope: list[str],
    now: int,
    plan: faults.Plan,
    *,
    refresh_token: Token | None,
    rotate: bool = True,
) -> TokenResult:
    ttl_ms = (ONE_TIME_GRANT_S if grant.one_time else access_token_ttl_s(portal, now)) * 1000
    expires = now + ttl_ms
    if grant.grant_expires_ms is not None:
        expires = min(expires, grant.grant_expires_ms)
    sim = plan.present(SIM_ERRORS)
    sim_error = SIM_ERRORS[sim[0].name][0] if sim else None
    wanted = [grants.NewToken(grants.ACCESS, scope, expires, sim_error)]
    wants_refresh = any(s in grant.granted_scope for s in scopes.REFRESH) and not grant.one_time
    new_refresh = wants_refresh and (
        refresh_token is None or (portal.rotate_refresh_tokens and rotate)
    )
    if new_refresh:
        if refresh_token is not None:
            grants.revoke_token(rt, refresh_token, "rotated", now)
        refresh_expires = _refresh_expiry(rt, portal, grant, now, plan)
        wanted.append(grants.NewToken(grants.REFRESH, grant.granted_scope, refresh_expires))
    made = grants.add_tokens(rt, grant, wanted, at_ms=now)  # one statement for both
    access = made[0]
    body: dict[str, Any] = {
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": (expires - now) // 1000,
        "scope": " ".join(scope),
        "patient": grant.fhir_patient_id,
        "need_patient_banner": True,
    }
    if new_refresh:
        refresh_token = made[1]
    if wants_refresh and refresh_token is not None:
        body["refresh_token"] = refresh_token.token
    if portal.is_payer:
        body["access_grant_expiration"] = (
            _bb_instant(grant.grant_expires_ms) if grant.grant_expires_ms else ""
        )
    if sim_error is not None:
        body["sim_error"] = sim_error
    return TokenResult(body)


def _refresh_expiry(
    rt: Runtime, portal: Portal, grant: Grant, now: int, plan: faults.Plan
) -> int | None:
    expires: int | None = now + portal.refresh_token_ttl_s * 1000
    custom = plan.present(["refresh_expires_after"])
    if custom:
        expires = now + int(float(faults.arg_of(custom[0], rt.config.http_timeout)) * 1000)
    if grant.grant_expires_ms is not None:
        expires = min(expires, grant.grant_expires_ms) if expires else grant.grant_expires_ms
    return expires


def _bb_instant(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def id_token(rt: Runtime, portal: Portal, grant: Grant, now: int) -> str:
    base = fhir_base(rt, portal.slug)
    claims: dict[str, Any] = {
        "iss": base,
        "sub": grant.fhir_patient_id,
        "aud": grant.client_id,
        "iat": now // 1000,
        "exp": now // 1000 + ID_TOKEN_TTL_S,
        "fhirUser": f"{base}/Patient/{grant.fhir_patient_id}",
        "preferred_username": grant.persona,
    }
    if grant.nonce:
        claims["nonce"] = grant.nonce
    return keys.sign(rt, portal.slug, claims)


def refresh(
    rt: Runtime,
    portal: Portal,
    client: ClientInfo,
    method: str,
    form: Mapping[str, str],
    found: grants.Found,
) -> TokenResult:
    """The refresh_token grant; `found`: what `grants.lookup_with_grant` answers for the
    form's refresh token."""
    if not form.get("refresh_token"):
        raise OAuthError("invalid_request", "refresh_token is required")
    token, grant, faulted = found
    if token is None or token.kind != grants.REFRESH:
        raise OAuthError("invalid_grant", "Invalid refresh token")
    if grant is None or grant.client_id != client.client_id:
        raise OAuthError("invalid_grant", "The refresh token was issued to another client")
    ws = grant.workspace_id
    now = rt.now(ws)
    plan = faults.Plan(rt, ws, portal.slug, grant.id, now, any_stored=faulted)
    _token_faults(plan, method)
    rotate = True
    if token.revoked_ms is not None and now >= token.revoked_ms:
        successor = _reused(rt, grant, token, now)
        if successor is None:
            raise OAuthError("invalid_grant", "The refresh token has been revoked")
        token, rotate = successor, False  # the answer the client missed, once more
    if token.expired(now):
        raise OAuthError("invalid_grant", "The refresh token has expired")
    if grant.grant_expires_ms is not None and now >= grant.grant_expires_ms:
        raise OAuthError("invalid_grant", "The data access grant has expired")
    delay = _refresh_faults(rt, grant, now, plan)
    asked = scopes.split(form.get("scope")) if form.get("scope") is not None else None
    scope = grant.granted_scope
    if asked is not None:
        narrowed = scopes.narrow(asked, grant.requested_scope, grant.granted_scope, portal)
        if not narrowed:
            raise OAuthError("invalid_scope", "The requested scope exceeds the original grant")
        scope = narrowed
    with rt.store.tx():  # the success path writes in one transaction
        grants.count_refresh(rt, grant, now)
        result = _issue(rt, portal, grant, scope, now, plan, refresh_token=token, rotate=rotate)
    result.delay_s = delay
    return result


# A refresh token just replaced by rotation still works this long (virtual time), as at
# Okta: a client that never received the rotated answer (a crash, a lost response)
# retries with the token it holds and gets the current one back, not a dead connection.
REUSE_WINDOW_MS = 120_000


def _reused(rt: Runtime, grant: Grant, token: Token, now: int) -> Token | None:
    """The refresh token that replaced `token`, while `token` may still be reused."""
    if token.revoked_reason != "rotated" or now - (token.revoked_ms or 0) > REUSE_WINDOW_MS:
        return None
    current = [
        t
        for t in grants.tokens_of(rt, grant, grants.REFRESH)
        if t.revoked_ms is None and t.created_ms == token.revoked_ms
    ]
    return current[-1] if current else None


def _refresh_faults(rt: Runtime, grant: Grant, now: int, plan: faults.Plan) -> float:
    delay = 0.0
    timeout = plan.first_fired(["refresh_timeout"])
    if timeout is not None:
        delay = _delay(rt, timeout)
    for fault in plan.candidates(
        [
            "refresh_503",
            "token_expired_refresh_token",
            "refresh_revoked",
            "refresh_revoked_after",
            "refresh_revoked_at",
        ]
    ):
        name = fault.name
        revoke_at: int | None = None
        if name == "refresh_revoked_after":
            if grant.refresh_count < int(faults.arg_of(fault, rt.config.http_timeout)):
                continue
        elif name == "refresh_revoked_at":
            revoke_at = revocation_instant(grant, faults.arg_of(fault, rt.config.http_timeout))
            if revoke_at is None or now < revoke_at:
                continue
        if not faults.fire(rt, fault):
            continue
        if name == "refresh_503":
            raise OAuthError(
                "temporarily_unavailable",
                "The token service is temporarily unavailable",
                status=503,
                headers={"Retry-After": "1"},
                delay_s=delay,
            )
        if name == "token_expired_refresh_token":
            raise OAuthError("invalid_grant", "Expired refresh token", status=403, delay_s=delay)
        grants.revoke_refresh(rt, grant, name, at_ms=revoke_at)
        raise OAuthError("invalid_grant", "The refresh token has been revoked", delay_s=delay)
    return delay


def revocation_instant(grant: Grant, arg: str) -> int | None:
    """`refresh_revoked_at`'s argument: seconds after the code exchange, or an ISO instant."""
    try:
        seconds = float(arg)
    except ValueError:
        return parse_iso(arg)
    if grant.activated_ms is None:
        return None
    return grant.activated_ms + int(seconds * 1000)


# -- introspection (RFC 7662) and revocation (RFC 7009) ------------------------------


def caller_for_introspection(
    rt: Runtime, portal: Portal, form: Mapping[str, str], authorization: str | None
) -> None:
    """Introspection needs a client authentication or a valid bearer access token."""
    if authorization and authorization.strip().lower().startswith("bearer "):
        token = grants.lookup(rt, portal.slug, authorization.strip()[7:].strip())
        if token is not None and token.kind == grants.ACCESS and token_active(rt, token):
            return
        raise OAuthError("invalid_token", "The bearer token is not valid", status=401)
    clients.authenticate(rt, portal.slug, authorization, form, token_endpoint(rt, portal.slug))


def token_active(rt: Runtime, token: Token) -> bool:
    now = rt.now(token.workspace_id)
    if token.revoked_ms is not None and now >= token.revoked_ms:
        return False
    return not token.expired(now)


def introspect(rt: Runtime, portal: Portal, value: str | None) -> dict[str, Any]:
    if not value:
        raise OAuthError("invalid_request", "token is required")
    token = grants.lookup(rt, portal.slug, value)
    if token is None or not token_active(rt, token):
        return {"active": False}
    grant = grants.get(rt, token.grant_id)
    if grant is None:
        return {"active": False}
    base = fhir_base(rt, portal.slug)
    body: dict[str, Any] = {
        "active": True,
        "scope": " ".join(token.scope),
        "client_id": grant.client_id,
        "token_type": "Bearer" if token.kind == grants.ACCESS else "refresh_token",
        "iat": token.created_ms // 1000,
        "patient": grant.fhir_patient_id,
        "username": grant.persona,
        "iss": base,
        "sub": grant.fhir_patient_id,
        "aud": base,
    }
    if token.expires_ms is not None:
        body["exp"] = token.expires_ms // 1000
    if "openid" in grant.granted_scope:
        body["fhirUser"] = f"{base}/Patient/{grant.fhir_patient_id}"
    if token.sim_error:
        body["sim_error"] = token.sim_error
    return body


def revoke(rt: Runtime, portal: Portal, form: Mapping[str, str], authorization: str | None) -> None:
    """RFC 7009: a refresh token revokes its whole grant, an access token only itself."""
    client, _ = clients.authenticate(
        rt, portal.slug, authorization, form, token_endpoint(rt, portal.slug)
    )
    value = form.get("token")
    if not value:
        raise OAuthError("invalid_request", "token is required")
    token = grants.lookup(rt, portal.slug, value)
    if token is None:
        return
    grant = grants.get(rt, token.grant_id)
    if grant is None or grant.client_id != client.client_id:
        return
    if token.kind == grants.REFRESH:
        grants.revoke(rt, grant, "revoked_by_client")
    else:
        grants.revoke_token(rt, token, "revoked_by_client")
