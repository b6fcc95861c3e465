"""The portals' hottest requests ahead of Flask, as plain WSGI calls.

Every token refresh and code exchange is a POST to a portal's token endpoint, and every
pull pages through FHIR searches (GET /<slug>/fhir/<type>). Flask's request machinery
around those calls (the request context, URL matching, the request and response
objects, the hooks) cost more than the endpoints' own work, so `Front` answers them
straight from the WSGI environ. It reads forms and query strings as Werkzeug does (the
same `parse_qsl` call and decoding) and writes what the app wrote: the status, the JSON
body as `jsonify` writes it, the endpoint's own headers, `no-store` on token answers and
the CORS headers the app's hook adds. The Flask views of the same routes answer with
the same functions (`token`, `search`), so both give the same answer. Everything else,
other methods of these routes included, goes to the Flask app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.http import HTTP_STATUS_CODES

from portal_mocks import access, scopes, tokens, wire
from portal_mocks.fhir_search import FhirError, operation_outcome
from portal_mocks.fhir_search import search as search_record
from portal_mocks.oauth_errors import OAuthError
from portal_mocks.profiles import PORTALS, Portal
from portal_mocks.web.common import (
    CORS_HEADERS,
    FHIR_JSON,
    NO_STORE_HEADERS,
    fhir_base_of,
    form_of,
    query_of,
    require_type,
    sleep,
)

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

log = logging.getLogger(__name__)

Answer = tuple[str, list[tuple[str, str]], bytes]
"""A status line, headers and body."""


class Front:
    """The portal app, with POST /<slug>/token and GET /<slug>/fhir/<type> (a type the
    portal serves; any other path, `metadata` included, is the app's) answered first."""

    def __init__(self, rt: Runtime, app: Any) -> None:
        self._rt = rt
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        answered = self._answer(environ)
        if answered is None:
            return self.app(environ, start_response)
        status, headers, body = answered
        start_response(status, headers)
        return [body]

    def _answer(self, environ: dict[str, Any]) -> Answer | None:
        """The front's answer, or None for a request that is the app's."""
        method = environ.get("REQUEST_METHOD")
        slug, _, rest = environ.get("PATH_INFO", "").lstrip("/").partition("/")
        portal = PORTALS.get(slug)
        if portal is None:
            return None
        if method == "POST" and rest == "token":
            return token(self._rt, portal, environ)
        if method == "GET" and rest.startswith("fhir/") and rest[5:] in portal.resource_types:
            return search(self._rt, portal, rest[5:], environ)
        return None


def token(rt: Runtime, portal: Portal, environ: dict[str, Any]) -> Answer:
    """The token endpoint's answer to the POST in `environ`."""
    try:
        try:
            result = tokens.handle(rt, portal, form_of(environ), environ.get("HTTP_AUTHORIZATION"))
        except OAuthError as err:
            sleep(err.delay_s)
            return _json(err.status, err.body(), {**NO_STORE_HEADERS, **err.headers})
        sleep(result.delay_s)
        return _json(result.status, result.body, {**NO_STORE_HEADERS, **result.headers})
    except Exception:
        log.exception("portal error")
        return _json(500, {"error": "server_error"}, NO_STORE_HEADERS)


def search(
    rt: Runtime,
    portal: Portal,
    resource_type: str,
    environ: dict[str, Any],
    params: dict[str, list[str]] | None = None,
) -> Answer:
    """A FHIR search's answer: GET with the query's parameters, or `params` (a POST)."""
    try:
        try:
            require_type(portal, resource_type)
            if params is None:
                params = query_of(environ)
            token, grant, now, faulted = access.bearer(
                rt, portal, environ.get("HTTP_AUTHORIZATION")
            )
            access.check_scope(portal, token, resource_type, "s")
            plan = access.fault_plan(rt, portal, grant, now, any_stored=faulted)
            delay = access.apply_faults(rt, portal, token, grant, resource_type, plan)
            record = access.record_for(rt, portal, grant, plan, resource_type)
            bundle = search_record(
                record,
                portal,
                resource_type,
                params,
                fhir_base=fhir_base_of(rt, portal),
                now_ms=now,
                category_limits=scopes.category_filters(token.scope, resource_type),
            )
        except FhirError as err:
            sleep(err.delay_s)
            return _fhir(err.status, err.outcome(), err.headers)
        sleep(delay)
        return _fhir(200, bundle.encode(), {})
    except Exception:
        log.exception("portal error")
        return _fhir(500, operation_outcome("exception", "Unexpected server error"), {})


def _json(status: int, body: Any, headers: dict[str, str]) -> Answer:
    return _answer(status, body, {"Content-Type": "application/json", **headers})


def _fhir(status: int, body: Any, headers: dict[str, str]) -> Answer:
    return _answer(status, body, {"Content-Type": FHIR_JSON, **headers})


def _answer(status: int, body: Any, headers: dict[str, str]) -> Answer:
    """The answer as the Flask app wrote it: JSON (or wire bytes) and a newline."""
    data = (body if isinstance(body, bytes) else wire.encode(body)) + b"\n"
    headers = {**headers, **CORS_HEADERS, "Content-Length": str(len(data))}
    line = f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"
    return line, list(headers.items()), data
