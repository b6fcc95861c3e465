"""POST /<slug>/token ahead of Flask: the portals' hottest request, as a plain WSGI call.

Every token refresh the simulator makes, and every code exchange, is a POST to a
portal's token endpoint. Flask's request machinery around that call (the request
context, URL matching, the request and response objects, the hooks) cost more than the
endpoint's own work, so `TokenFront` answers it straight from the WSGI environ with the
same parsing (`urllib.parse.parse_qsl` as Werkzeug's form parser calls it) and the same
answer: status, JSON body (as `jsonify` writes it), `Cache-Control: no-store`,
`Pragma: no-cache`, the endpoint's own headers and the CORS headers. Everything else,
the token endpoint's other methods included, goes to the Flask app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.http import HTTP_STATUS_CODES

from portal_mocks import tokens, wire
from portal_mocks.oauth_errors import OAuthError
from portal_mocks.profiles import PORTALS, Portal
from portal_mocks.web.common import CORS_HEADERS, NO_STORE_HEADERS, form_of, sleep

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

log = logging.getLogger(__name__)


class TokenFront:
    """The portal app, with POST /<slug>/token answered before it."""

    def __init__(self, rt: Runtime, app: Callable[..., Iterable[bytes]]) -> None:
        self._rt = rt
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            slug, _, rest = environ.get("PATH_INFO", "").lstrip("/").partition("/")
            portal = PORTALS.get(slug)
            if portal is not None and rest == "token":
                status, headers, body = respond(self._rt, portal, environ)
                start_response(status, headers)
                return [body]
        return self.app(environ, start_response)


def respond(rt: Runtime, portal: Portal, environ: dict[str, Any]) -> tuple[str, list, bytes]:
    """The token endpoint's answer to the POST in `environ`: status line, headers, body."""
    try:
        try:
            result = tokens.handle(rt, portal, form_of(environ), environ.get("HTTP_AUTHORIZATION"))
        except OAuthError as err:
            sleep(err.delay_s)
            return answer(err.status, err.body(), err.headers)
        sleep(result.delay_s)
        return answer(result.status, result.body, result.headers)
    except Exception:
        log.exception("portal error")
        return answer(500, {"error": "server_error"}, {})


def answer(status: int, body: Any, extra: dict[str, str]) -> tuple[str, list, bytes]:
    """The status line, headers and bytes of a JSON answer, as the Flask view sent them."""
    data = wire.encode(body) + b"\n"
    headers = {"Content-Type": "application/json", "Content-Length": str(len(data))}
    headers.update(NO_STORE_HEADERS)
    headers.update(extra)
    headers.update(CORS_HEADERS)
    line = f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"
    return line, list(headers.items()), data
