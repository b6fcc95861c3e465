"""Mock SMART on FHIR portals: authorization servers + FHIR R4 servers, one Flask app.

Each portal lives under `/<slug>/` of this app, which the simulator mounts at
`/portals` (so a portal is `{base_url}/portals/<slug>/`, its FHIR base
`{base_url}/portals/<slug>/fhir`). Portals: `summit-epic`, `lakeside-cerner`,
`maple-athena`, `harbor-clinic`, `bluebutton` (see `profiles`).

Per portal:

* `GET  fhir/.well-known/smart-configuration`, `fhir/.well-known/openid-configuration`,
  `jwks`, `fhir/metadata` (CapabilityStatement with the oauth-uris extension)
* `GET|POST authorize` -> login page -> `POST login` -> `GET consent` -> `POST consent`
* `POST token` (authorization_code, refresh_token), `POST introspect`, `POST revoke`,
  `POST register` (RFC 7591; `Authorization: Bearer <workspace API key or registration
  token>` picks the workspace; the simulator registers its own app there this way)
* `GET fhir/<Type>`, `POST fhir/<Type>/_search`, `GET fhir/<Type>/<id>`

Login conventions (see `personas` and `faults`):

* username `<persona>[+<fault>[:<arg>]]...`, persona one of alice, bob, carol,
  dora, erin, mia (e.g. `alice+deny`, `alice+refresh_revoked_after:2`,
  `bob+fhir_500:Observation`);
* password: anything non-empty except `wrong`.

Python helpers for the portals' own control plane, tests and benchmarks (the simulator
reaches the portals over HTTP only):

* `ensure_client(runtime, ws_id, slug, *, redirect_uris, confidential=True) -> ClientInfo`
  registers an app at a portal without HTTP (idempotent per workspace, portal and URIs).
* `find_grant(runtime, ws_id, slug, *, refresh_token=None, access_token=None) -> Grant | None`
* `revoke_grant(runtime, ws_id, slug, *, refresh_token=None, access_token=None) -> bool`
  revokes the whole grant behind a token (every access and refresh token).
* `add_grant_fault(runtime, ws_id, slug, fault, arg=None, *, refresh_token=None,
  access_token=None, times=None, probability=None, at_ms=None) -> StoredFault`
  adds a catalog fault to one existing grant (e.g. `refresh_revoked`,
  `refresh_503` with arg "2", `fhir_429`).
* `add_portal_fault(runtime, ws_id, slug, fault, arg=None, ...)`, `list_portal_faults`,
  `clear_portal_faults`: the workspace-wide faults behind `/_sim/portals/<slug>/faults`.
* `fault_catalog(runtime)`: the catalog as served by `/_sim/faults/catalog`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask, g, request

from portal_mocks import access, clients, faults, grants, keys, uploads
from portal_mocks.capability import Documents
from portal_mocks.clients import ClientInfo
from portal_mocks.faults import FaultError, StoredFault
from portal_mocks.grants import Grant
from portal_mocks.profiles import PORTALS
from simulator.core.webkit import RUNTIME_KEY

# The portals' tables, created on the runtime's store when the portals are mounted.
SCHEMAS = (
    access.SCHEMA,
    clients.SCHEMA,
    faults.SCHEMA,
    grants.SCHEMA,
    keys.SCHEMA,
    uploads.SCHEMA,
)

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

__all__ = [
    "PORTALS",
    "ClientInfo",
    "FaultError",
    "Grant",
    "StoredFault",
    "add_grant_fault",
    "add_portal_fault",
    "clear_portal_faults",
    "create_app",
    "create_wsgi",
    "ensure_client",
    "fault_catalog",
    "find_grant",
    "list_portal_faults",
    "revoke_grant",
]


NO_CORS = ("portal_registration.register",)


def create_wsgi(runtime: Runtime) -> Any:
    """Every mock portal as one WSGI app: `create_app`'s, with token requests and FHIR
    searches answered ahead of Flask (`web/front.py`, the same answers)."""
    from portal_mocks.web.front import Front

    return Front(runtime, create_app(runtime))


def create_app(runtime: Runtime) -> Flask:
    """Every mock portal, each under `/<slug>/` (mounted at `/portals` by the simulator)."""
    from portal_mocks.fhir_search import FhirError
    from portal_mocks.oauth_errors import OAuthError
    from portal_mocks.web import (
        authorize,
        common,
        discovery,
        fhir,
        introspection,
        registration,
        revocation,
        token,
    )

    runtime.store.ensure_schema(SCHEMAS)
    app = Flask(__name__)
    app.extensions[RUNTIME_KEY] = runtime
    app.extensions[common.DOCUMENTS_KEY] = Documents()
    app.json.sort_keys = False
    app.json.compact = True
    app.url_map.strict_slashes = False
    for module in (discovery, authorize, token, introspection, revocation, registration, fhir):
        app.register_blueprint(module.bp)

    @app.url_value_preprocessor
    def _portal_from_url(endpoint: str | None, values: dict[str, Any] | None) -> None:
        if values is None or "slug" not in values:
            return
        slug = values.pop("slug")
        portal = PORTALS.get(slug)
        if portal is None:
            from flask import abort

            abort(404)
        g.portal = portal

    @app.after_request
    def _cors(resp):  # type: ignore[no-untyped-def]
        # not the login pages, not registration (an app registers from its server)
        if not resp.mimetype.startswith("text/html") and request.endpoint not in NO_CORS:
            common.cors(resp)
        return resp

    @app.errorhandler(404)
    def _not_found(exc):  # type: ignore[no-untyped-def]
        if "/fhir/" in (_path := _request_path()):
            return common.fhir_outcome(404, "not-found", f"No route for {_path}")
        return common.json_response(
            {"error": "not_found", "error_description": f"No route for {_path}"}, 404
        )

    @app.errorhandler(405)
    def _not_allowed(exc):  # type: ignore[no-untyped-def]
        return common.json_response(
            {"error": "invalid_request", "error_description": "Method not allowed"}, 405
        )

    @app.errorhandler(OAuthError)
    def _oauth(err: OAuthError):  # type: ignore[no-untyped-def]
        return common.oauth_error(err)

    @app.errorhandler(FhirError)
    def _fhir(err: FhirError):  # type: ignore[no-untyped-def]
        return common.fhir_error(err)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        from werkzeug.exceptions import HTTPException

        if isinstance(exc, HTTPException):
            return exc
        app.logger.exception("portal error")
        if "/fhir/" in _request_path():
            return common.fhir_outcome(500, "exception", "Unexpected server error")
        return common.json_response({"error": "server_error"}, 500)

    return app


def _request_path() -> str:
    from flask import request

    return request.path


def ensure_client(
    runtime: Runtime,
    ws_id: str,
    slug: str,
    *,
    redirect_uris: list[str],
    confidential: bool = True,
) -> ClientInfo:
    """An app registered at a portal without HTTP (idempotent)."""
    _portal(slug)
    return clients.ensure_client(
        runtime, ws_id, slug, redirect_uris=redirect_uris, confidential=confidential
    )


def _portal(slug: str) -> None:
    if slug not in PORTALS:
        raise KeyError(f"Unknown portal '{slug}'")


def find_grant(
    runtime: Runtime,
    ws_id: str,
    slug: str,
    *,
    refresh_token: str | None = None,
    access_token: str | None = None,
) -> Grant | None:
    return grants.find(runtime, ws_id, slug, refresh_token=refresh_token, access_token=access_token)


def revoke_grant(
    runtime: Runtime,
    ws_id: str,
    slug: str,
    *,
    refresh_token: str | None = None,
    access_token: str | None = None,
) -> bool:
    """Revoke the whole grant behind a token (as the patient revoking the app at the portal)."""
    grant = find_grant(runtime, ws_id, slug, refresh_token=refresh_token, access_token=access_token)
    if grant is None:
        return False
    grants.revoke(runtime, grant, "revoked_by_patient")
    return True


def add_grant_fault(
    runtime: Runtime,
    ws_id: str,
    slug: str,
    fault: str,
    arg: str | None = None,
    *,
    refresh_token: str | None = None,
    access_token: str | None = None,
    times: int | None = None,
    probability: float | None = None,
    at_ms: int | None = None,
) -> StoredFault:
    """Add a catalog fault to the existing grant behind a token; raises FaultError/KeyError."""
    grant = find_grant(runtime, ws_id, slug, refresh_token=refresh_token, access_token=access_token)
    if grant is None:
        raise KeyError("No grant of this workspace at this portal has that token")
    request = faults.check(fault, None if arg is None else str(arg), slug)
    return faults.add(
        runtime,
        ws_id,
        slug,
        request,
        grant_id=grant.id,
        times=times,
        probability=probability,
        at_ms=at_ms,
        source="api",
    )


def add_portal_fault(
    runtime: Runtime,
    ws_id: str,
    slug: str,
    fault: str,
    arg: str | None = None,
    *,
    times: int | None = None,
    probability: float | None = None,
    at_ms: int | None = None,
) -> StoredFault:
    """A fault for every login and grant of the workspace at a portal; raises FaultError."""
    _portal(slug)
    request = faults.check(fault, None if arg is None else str(arg), slug)
    return faults.add(
        runtime, ws_id, slug, request, times=times, probability=probability, at_ms=at_ms
    )


def list_portal_faults(runtime: Runtime, ws_id: str, slug: str) -> list[StoredFault]:
    _portal(slug)
    return faults.listing(runtime, ws_id, slug)


def clear_portal_faults(
    runtime: Runtime, ws_id: str, slug: str, fault_id: int | None = None
) -> int:
    _portal(slug)
    return faults.clear(runtime, ws_id, slug, fault_id)


def fault_catalog(runtime: Runtime) -> list[dict[str, Any]]:
    return faults.catalog_api(runtime.config.http_timeout)
