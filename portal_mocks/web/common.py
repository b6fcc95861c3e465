"""What every portal handler shares: the runtime, the portal of the URL, response shapes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from flask import Response, current_app, g, jsonify, request
from werkzeug.http import parse_options_header

from portal_mocks.capability import Documents
from portal_mocks.fhir_search import FhirError, operation_outcome
from portal_mocks.oauth_errors import OAuthError
from portal_mocks.profiles import Portal
from simulator.core.webkit import NO_STORE_HEADERS as NO_STORE_HEADERS
from simulator.core.webkit import no_store as no_store
from simulator.core.webkit import runtime

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

DOCUMENTS_KEY = "portal_documents"
FHIR_JSON = "application/fhir+json; charset=utf-8"
FORM = "application/x-www-form-urlencoded"
MAX_DELAY_S = 120.0


def documents() -> Documents:
    """The portal app's discovery bodies, kept for as long as the app."""
    return current_app.extensions[DOCUMENTS_KEY]


def portal() -> Portal:
    return g.portal


def portal_url() -> str:
    return portal_url_of(runtime(), portal())


def portal_url_of(rt: Runtime, p: Portal) -> str:
    """The base URL of portal `p` on runtime `rt`."""
    return f"{rt.base_url}/portals/{p.slug}"


def fhir_base() -> str:
    return fhir_base_of(runtime(), portal())


def fhir_base_of(rt: Runtime, p: Portal) -> str:
    """The FHIR base URL of portal `p` on runtime `rt`."""
    return f"{portal_url_of(rt, p)}/fhir"


def require_type(p: Portal, resource_type: str) -> None:
    """A resource type portal `p` does not serve is a FHIR 404 `not-supported`."""
    if resource_type not in p.resource_types:
        raise FhirError(
            404, "not-supported", f"Resource type {resource_type} is not supported here"
        )


def local_path(path: str) -> str:
    """A root-relative URL for links inside the portal's own pages."""
    return f"{request.script_root}/{portal().slug}{path}"


def display_name() -> str:
    source = runtime().catalog.by_slug(portal().slug)
    return source.name if source is not None else portal().display_name


def sleep(seconds: float) -> None:
    """A real delay (timeout and slow-page faults): bounded, never inside a transaction."""
    if seconds > 0:
        time.sleep(min(seconds, MAX_DELAY_S))


def _json_body(body: Any) -> Response:
    """A JSON response: `body` by the app's JSON provider, or as is when already wire bytes.

    Wire bytes come from `portal_mocks.wire.encode`, which writes what the
    provider writes; the newline `jsonify` ends its bodies with is added here.
    """
    if isinstance(body, bytes):
        return current_app.response_class(body + b"\n", mimetype=current_app.json.mimetype)
    return jsonify(body)


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    resp = _json_body(body)
    resp.status_code = status
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return no_store(resp)


def oauth_error(err: OAuthError) -> Response:
    sleep(err.delay_s)
    return json_response(err.body(), err.status, err.headers)


def fhir_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    resp = _json_body(body)
    resp.status_code = status
    resp.headers["Content-Type"] = FHIR_JSON
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


def fhir_error(err: FhirError) -> Response:
    sleep(err.delay_s)
    return fhir_response(err.outcome(), err.status, err.headers)


def fhir_outcome(status: int, code: str, text: str) -> Response:
    return fhir_response(operation_outcome(code, text), status)


def form_body() -> dict[str, str]:
    """The request's form body (`form_of`)."""
    return form_of(request.environ)


def form_of(environ: dict[str, Any]) -> dict[str, str]:
    """The form body of a WSGI request as a dict, read as Werkzeug's form parser reads it:
    not a form is `invalid_request`; a body that is not UTF-8 reads as empty; a repeated
    parameter is `invalid_request` (RFC 6749 3.2)."""
    content_type = environ.get("CONTENT_TYPE", "")
    exact = content_type.partition(";")[0] == FORM  # what every parser reads as the form
    if not exact and parse_options_header(content_type)[0].lower() != FORM:
        raise OAuthError("invalid_request", "The body must be application/x-www-form-urlencoded")
    length = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    if length:
        raw = stream.read(int(length)) if length.isdigit() else b""
    else:
        raw = stream.read() if environ.get("wsgi.input_terminated") else b""
    try:
        values = _parameters(raw.decode())
    except ValueError:
        values = {}
    for key, given in values.items():
        if len(given) > 1:
            raise OAuthError("invalid_request", f"Parameter {key} is repeated")
    return {key: given[0] for key, given in values.items()}


def query_of(environ: dict[str, Any]) -> dict[str, list[str]]:
    """A WSGI request's query parameters, each with its values in order (as Werkzeug's
    `request.args.to_dict(flat=False)`)."""
    return _parameters(environ.get("QUERY_STRING", "").encode("latin1").decode())


def _parameters(text: str) -> dict[str, list[str]]:
    """URL-encoded parameters as Werkzeug decodes them (bytes that are not UTF-8 stay
    percent-encoded)."""
    values: dict[str, list[str]] = {}
    if "%" in text or "+" in text:
        pairs = parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
    else:  # nothing to decode: the pairs are the text's, as `parse_qsl` splits them
        pairs = [part.partition("=")[::2] for part in text.split("&") if part]
    for key, value in pairs:
        values.setdefault(key, []).append(value)
    return values


# What a SMART app in a browser needs: any origin may read discovery, tokens and FHIR
# with a bearer token, and none with credentials (no cookie is ever honoured
# cross-origin), so no origin is reflected.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Accept, Prefer",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Expose-Headers": "WWW-Authenticate, Retry-After, Location",
}


def cors(resp: Response) -> Response:
    """The CORS headers (`CORS_HEADERS`)."""
    resp.headers.update(CORS_HEADERS)
    return resp
