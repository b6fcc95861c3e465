"""The authorize step: request checks, the login form and the consent decision (no Flask).

Each step returns an `Outcome` the HTTP layer renders: a page (login,
consent, error) or a redirect to the client (a code, or an RFC 6749 error).
Client and redirect-URI problems never redirect (RFC 6749 4.1.2.1): they are
an error page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from portal_mocks import clients, faults, grants, personas, pkce, records, scopes, uploads
from portal_mocks.clients import ClientInfo
from portal_mocks.grants import Grant
from portal_mocks.oauth_errors import OAuthError, add_query, error_redirect
from portal_mocks.profiles import ONE_TIME, Portal
from simulator.core import workspaces

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

AUTHORIZE_FAULTS = {
    "invalid_scope": ("invalid_scope", "The requested scope is invalid"),
    "server_error": ("server_error", "The authorization server encountered an error"),
    "temporarily_unavailable": (
        "temporarily_unavailable",
        "The authorization server is temporarily unavailable",
    ),
    "auth_invalid_client_id": ("invalid_client", "Simulated invalid client_id parameter error"),
    "auth_invalid_redirect_uri": (
        "invalid_request",
        "Simulated invalid redirect_uri parameter error",
    ),
    "auth_invalid_scope": ("invalid_scope", "Simulated invalid scope error"),
}


@dataclass
class Outcome:
    kind: str  # login | consent | redirect | error_page
    grant: Grant | None = None
    client: ClientInfo | None = None
    url: str | None = None
    message: str | None = None
    status: int = 200
    username: str = ""
    scopes: list[str] = field(default_factory=list)


def portal_url(rt: Runtime, slug: str) -> str:
    return f"{rt.base_url}/portals/{slug}"


def fhir_base(rt: Runtime, slug: str) -> str:
    return f"{portal_url(rt, slug)}/fhir"


def _normal_aud(url: str) -> str:
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if host == "localhost":
        host = "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{parts.path.rstrip('/')}"


def aud_matches(rt: Runtime, slug: str, aud: str) -> bool:
    """The launcher's rule: `aud` is the FHIR base; scheme ignored, localhost = 127.0.0.1."""
    return _normal_aud(aud) == _normal_aud(fhir_base(rt, slug))


def _redirect_error(
    portal: Portal, client: ClientInfo, redirect_uri: str, error: str, desc: str, state: str | None
) -> Outcome:
    url = error_redirect(
        portal,
        redirect_uri,
        error,
        desc,
        state,
        client_id=client.client_id,
        instance=grants.new_secret(12),
    )
    return Outcome("redirect", client=client, url=url, status=302)


def begin(rt: Runtime, portal: Portal, params: Mapping[str, str]) -> Outcome:
    """GET or POST /authorize: check the request, then show the login page."""
    client = clients.get(rt, portal.slug, params.get("client_id"))
    if client is None:
        message = "The client_id is missing or unknown to this portal."
        return Outcome("error_page", message=message, status=400)
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri or redirect_uri not in client.redirect_uris:
        message = "The redirect_uri is missing or does not match one registered for this app."
        return Outcome("error_page", client=client, message=message, status=400)
    state = params.get("state")

    def fail(error: str, desc: str, with_state: bool = True) -> Outcome:
        return _redirect_error(
            portal, client, redirect_uri, error, desc, state if with_state else None
        )

    if params.get("response_type") != "code":
        return fail("unsupported_response_type", "response_type must be code")
    if not state:
        return fail("invalid_request", "state is required", with_state=False)
    aud = params.get("aud") or params.get("resource")
    if not aud:
        return fail("invalid_request", "aud is required (the FHIR base URL)")
    if not aud_matches(rt, portal.slug, aud):
        return fail("invalid_request", "Bad audience value")
    try:
        pkce.check_challenge(params.get("code_challenge"), params.get("code_challenge_method"))
    except OAuthError as err:
        return fail(err.error, err.description or err.error)
    requested = scopes.split(params.get("scope"))
    if not requested:
        return fail("invalid_scope", "scope is required")
    if not scopes.is_grantable(requested, portal):
        return fail("invalid_scope", "None of the requested scopes can be granted")
    ws = client.workspace_id
    now = rt.now(ws)
    fired = faults.first_fired(rt, ws, portal.slug, None, AUTHORIZE_FAULTS, now)
    if fired is not None:
        return fail(*AUTHORIZE_FAULTS[fired.name])
    grant = grants.start(
        rt,
        ws_id=ws,
        slug=portal.slug,
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=requested,
        aud=aud,
        state=state,
        code_challenge=params["code_challenge"],
        nonce=params.get("nonce"),
        login_ttl_s=portal.login_ttl_s,
    )
    return Outcome("login", grant=grant, client=client)


def _pending(rt: Runtime, portal: Portal, grant_id: str | None, status: str) -> Outcome | Grant:
    grant = grants.get(rt, grant_id)
    if grant is None or grant.slug != portal.slug:
        return Outcome("error_page", message="This sign-in request is unknown.", status=400)
    if grant.status != status:
        return Outcome(
            "error_page", message="This sign-in request was already completed.", status=400
        )
    if rt.now(grant.workspace_id) >= grant.login_expires_ms:
        return Outcome(
            "error_page", message="This sign-in request has expired; start again.", status=400
        )
    return grant


def login(
    rt: Runtime, portal: Portal, grant_id: str | None, username: str, password: str
) -> Outcome:
    """POST of the login form: persona + faults from the username, then the consent page."""
    found = _pending(rt, portal, grant_id, "login")
    if isinstance(found, Outcome):
        return found
    grant = found
    client = clients.get(rt, portal.slug, grant.client_id)

    def again(message: str) -> Outcome:
        return Outcome(
            "login", grant=grant, client=client, message=message, status=200, username=username
        )

    if not username.strip():
        return again("Enter your username.")
    if not personas.check_password(password):
        return again("The username or password is incorrect.")
    try:
        persona_name, chosen = faults.parse_login(username, portal.slug)
    except faults.FaultError as exc:
        return again(str(exc))
    ws = grant.workspace_id
    seed = workspaces.get(rt.store, ws).seed
    persona = personas.get(persona_name)
    if persona is not None:
        persona_id, patient_id = persona.username, records.patient_id(seed, portal, persona)
    else:
        upload = uploads.at_portal(rt, ws, persona_name, portal.slug)
        if upload is None:
            return again(f"No account named '{persona_name}' at this portal.")
        persona_id, patient_id = upload.username, upload.patient_id
    for request in chosen:
        faults.add(rt, ws, portal.slug, request, grant_id=grant.id, source="login")
    now = rt.now(ws)
    one_time = bool(client and client.data_access_type == ONE_TIME) or bool(
        faults.present(rt, ws, portal.slug, grant.id, ["one_time"], now)
    )
    grant = grants.move(
        rt,
        grant,
        "sign_in",
        username=username,
        persona=persona_id,
        fhir_patient_id=patient_id,
        one_time=one_time and portal.is_payer,
    )
    fired = faults.first_fired(
        rt, ws, portal.slug, grant.id, AUTHORIZE_FAULTS, now, only_grant=True
    )
    if fired is not None and client is not None:
        grants.move(rt, grant, "fail", error=AUTHORIZE_FAULTS[fired.name][0])
        return _redirect_error(
            portal, client, grant.redirect_uri, *AUTHORIZE_FAULTS[fired.name], grant.state
        )
    return Outcome(
        "consent",
        grant=grant,
        client=client,
        username=username,
        scopes=consent_scopes(grant, portal),
    )


def consent_scopes(grant: Grant, portal: Portal) -> list[str]:
    granted = scopes.negotiate(grant.requested_scope, portal)
    if grant.one_time:
        granted = [s for s in granted if s not in scopes.REFRESH]
    return granted


def decide(rt: Runtime, portal: Portal, grant_id: str | None, decision: str) -> Outcome:
    """POST of the consent form: approve -> a code on the redirect; deny -> access_denied."""
    found = _pending(rt, portal, grant_id, "consent")
    if isinstance(found, Outcome):
        return found
    grant = found
    client = clients.get(rt, portal.slug, grant.client_id)
    if client is None:
        return Outcome("error_page", message="This app is no longer registered.", status=400)
    now = rt.now(grant.workspace_id)
    denied = decision != "approve"
    if not denied and faults.first_fired(
        rt, grant.workspace_id, portal.slug, grant.id, ["deny"], now
    ):
        denied = True
    if denied:
        grants.move(rt, grant, "deny", error="access_denied")
        return _redirect_error(
            portal,
            client,
            grant.redirect_uri,
            "access_denied",
            "The patient denied the request",
            grant.state,
        )
    grant = grants.issue_code(rt, grant, consent_scopes(grant, portal), portal.code_ttl_s)
    url = add_query(grant.redirect_uri, {"code": grant.code or "", "state": grant.state or ""})
    return Outcome("redirect", grant=grant, client=client, url=url, status=302)


def resume(rt: Runtime, portal: Portal, grant_id: str | None, status: str) -> Outcome:
    """GET of the login or consent page of a pending sign-in (reload, back button)."""
    found = _pending(rt, portal, grant_id, status)
    if isinstance(found, Outcome):
        return found
    client = clients.get(rt, portal.slug, found.client_id)
    if status == "login":
        return Outcome("login", grant=found, client=client)
    return Outcome(
        "consent",
        grant=found,
        client=client,
        username=found.username or "",
        scopes=consent_scopes(found, portal),
    )
