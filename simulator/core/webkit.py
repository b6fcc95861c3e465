"""Flask plumbing shared by every app of the process: the simulator's and the portals'.

- the runtime of the app (`runtime()`, stored under `RUNTIME_KEY`);
- request ids and the error envelope for every non-2xx (`install_error_handling`),
  with the work a changing request made due running before it answers;
- the caller's workspace from `Authorization: Bearer <API key>` (`workspace_id()`);
- validated JSON bodies (`json_body`);
- the helpers that keep a blueprint's `OPENAPI_PATHS` declarations short.

Handlers stay thin: parse with `json_body`, find the caller's workspace with
`workspace_id()`, call a domain function, return its dict.
"""

from __future__ import annotations

import json
import logging
import math
import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from simulator.core import api_keys, pagination, workspaces
from simulator.core.errors import ApiError, ConnectionDrop, envelope
from simulator.core.validation import validate

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

log = logging.getLogger(__name__)

RUNTIME_KEY = "connect_sim"


def runtime() -> Runtime:
    return current_app.extensions[RUNTIME_KEY]


def request_id() -> str:
    if "request_id" not in g:
        g.request_id = str(uuid.uuid4())
    return g.request_id


# -- the error envelope ----------------------------------------------------------------------


def error_response(err: ApiError) -> Response:
    resp = jsonify(
        envelope(
            type_=err.type,
            code=err.code,
            message=err.message,
            param=err.param,
            request_id=request_id(),
        )
    )
    resp.status_code = err.status
    for name, value in err.headers.items():
        resp.headers[name] = value
    return resp


def _http_exception(exc: HTTPException) -> Response:
    if isinstance(exc, RequestEntityTooLarge) or exc.code == 413:
        return error_response(ApiError("payload_too_large", "The request body is over 1 MB"))
    if exc.code == 404:
        return error_response(
            ApiError("resource_not_found", f"No route for {request.method} {request.path}")
        )
    if exc.code == 405:
        allowed = getattr(exc, "valid_methods", None) or []
        return error_response(
            ApiError(
                "bad_request",
                f"Method {request.method} is not allowed on {request.path}",
                status=405,
                headers={"Allow": ", ".join(allowed)} if allowed else None,
            )
        )
    return error_response(
        ApiError("bad_request", exc.description or exc.name, status=exc.code or 400)
    )


DROP_CONNECTION = "connect_sim.drop_connection"
"""Set in the environ of a call that must get no answer: the server closes the socket."""


def _no_answer() -> Iterator[bytes]:
    raise ConnectionAbortedError("the simulator dropped the connection (a forced fault)")
    yield b""  # a generator: the error is raised when the server reads the body


def _dropped(exc: ConnectionDrop) -> Response:
    """A response the server never sends: `serving` closes the connection when it sees
    the environ flag; any other WSGI server meets `ConnectionAbortedError` (an
    `OSError`) reading the body before a byte is written, and drops the connection."""
    request.environ[DROP_CONNECTION] = True
    return Response(_no_answer(), status=500)


def _unexpected(exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return error_response(
        ApiError("internal_error", "An unexpected error occurred; the request id identifies it")
    )


def install_error_handling(app: Flask) -> None:
    app.register_error_handler(ApiError, error_response)
    app.register_error_handler(ConnectionDrop, _dropped)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)

    @app.before_request
    def _begin_clock_reads() -> None:
        runtime().clocks.request_began()
        request.environ[_CLOCK_READS] = True

    @app.teardown_request
    def _unpin_clock(exc: BaseException | None) -> None:
        clocks = runtime().clocks
        if request.environ.pop(_CLOCK_READS, False):
            clocks.request_ended()
        else:
            clocks.read_again()
        pinned = request.environ.pop(_CLOCK_PIN, None)
        if pinned is not None:
            clocks.unpin(*pinned)

    @app.after_request
    def _finish(resp: Response) -> Response:
        resp.headers["X-Request-Id"] = request_id()
        run_work_due_now(resp)
        return resp


# What keeps an answer out of every cache (tokens, codes, a patient's pages).
NO_STORE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def no_store(resp: Response) -> Response:
    """Never cached (tokens, codes, a patient's pages)."""
    resp.headers.update(NO_STORE_HEADERS)
    return resp


def private_page(resp: Response) -> Response:
    """Headers for a page that holds a patient's data or a secret in its URL: never
    cached, never framed (clickjacking), and its URL never sent on as a referrer."""
    no_store(resp)
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def run_work_due_now(resp: Response) -> None:
    """Work that a changing request made due at the current instant runs before it answers.

    The clock does not move: a webhook attempt or a pull due "now" happens now,
    in either clock mode, and the caller sees its effects on its next request.
    """
    ws = g.get("workspace_id")
    changing = request.method not in ("GET", "HEAD", "OPTIONS") or g.get("changed", False)
    if ws is None or not changing or resp.status_code >= 500:
        return
    try:
        runtime().scheduler.try_run_due(ws)
    except Exception:  # the request itself succeeded; jobs record their own failures
        log.exception("running due work after %s %s", request.method, request.path)


# -- JSON bodies -----------------------------------------------------------------------------

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _encodable(body: Any) -> bool:
    """False when a decoded string holds a lone surrogate (it cannot be stored as UTF-8)."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class NonFiniteNumber(ValueError):
    """`NaN`, `Infinity` or `-Infinity` in a request body: Python reads them, JSON has none."""


def _non_finite(name: str) -> Any:
    raise NonFiniteNumber(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 overflows to infinity
        raise NonFiniteNumber(text)
    return value


def json_body(schema: dict[str, Any] | None = None, *, optional: bool = False) -> dict[str, Any]:
    """The decoded JSON object of the request, validated against `schema`."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if optional:
            body: Any = {}
        else:
            raise ApiError("bad_request", "A JSON request body is required")
    else:
        try:
            body = json.loads(raw, parse_constant=_non_finite, parse_float=_finite_float)
        except NonFiniteNumber as exc:
            raise ApiError(
                "bad_request",
                f"The request body is not valid JSON: {exc} is not a JSON number"
                " (send a finite number)",
            ) from None
        except (ValueError, RecursionError):
            raise ApiError("bad_request", "The request body is not valid JSON") from None
        if _SURROGATE_ESCAPE.search(raw) and not _encodable(body):
            raise ApiError("bad_request", "The request body has an unpaired \\u surrogate escape")
    if schema is None:
        if not isinstance(body, dict):
            raise ApiError("bad_request", "The request body must be a JSON object")
        return body
    ws = g.get("workspace")
    return validate(body, schema, strict=ws is not None and ws.strict)


# -- the caller's workspace ------------------------------------------------------------------


_CLOCK_PIN = "connect_sim.clock_pin"
# Set when the request told the clocks it began (`Clocks.request_began`).
_CLOCK_READS = "connect_sim.clock_reads"


def authenticate() -> str:
    """The workspace id of the caller's API key; 401 otherwise."""
    if "workspace_id" in g:
        return g.workspace_id
    header = request.headers.get("Authorization", "")
    if not header.strip():
        raise ApiError("missing_api_key", "No API key provided; send 'Authorization: Bearer <key>'")
    scheme, _, key = header.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise ApiError("invalid_api_key", "API key invalid: use 'Authorization: Bearer <key>'")
    store = runtime().store
    ws = workspaces.by_key(store, key)
    permissions = "read_write"
    if ws is None:
        minted = api_keys.by_secret(store, key)
        if minted is None:
            raise ApiError("invalid_api_key", "API key invalid")
        ws = workspaces.get(store, minted.workspace_id)
        permissions = api_keys.admit(store, minted, runtime().now(ws.id))
    g.workspace_id = ws.id
    g.workspace = ws
    g.key_permissions = permissions
    pagination.set_scope(ws.cursor_scope)
    clocks = runtime().clocks
    if ws.clock_mode == "manual" and not clocks.is_pinned(ws.id):
        # a manual clock moves only through `Clocks.move_to`, which moves the pin too:
        # the request reads its clock from the row just read, not once per `now`
        # kept in the request's environ: a nested in-process request to this app shares `g`
        request.environ[_CLOCK_PIN] = (ws.id, clocks.pin(ws.id, ws.clock_manual_ms))
    return ws.id


def workspace_id() -> str:
    return authenticate()


def workspace() -> workspaces.Workspace:
    """The caller's workspace (its settings as read when the request authenticated)."""
    ws_id = authenticate()
    ws = g.get("workspace")
    if ws is None or ws.id != ws_id:  # acting for a workspace without its key
        ws = g.workspace = workspaces.get(runtime().store, ws_id)
    return ws


def key_permissions() -> str:
    """`read_write` or `read_only`: what the caller's API key may do (after `authenticate`)."""
    return g.get("key_permissions", "read_write")


def acting_for(ws_id: str, *, changed: bool = False) -> None:
    """A request without an API key (a hosted page, a callback) acts for this workspace.

    `changed` marks a GET that changed state, so work it made due now runs too.
    """
    g.workspace_id = ws_id
    if changed:
        g.changed = True


# -- declaring routes in OpenAPI (`OPENAPI_PATHS`) -------------------------------------------

PUBLIC: list[dict[str, Any]] = []


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    """`responses` with one JSON 200."""
    return {"200": {"description": description, "content": json_content(schema)}}


def request_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": json_content(schema)}


def path_param(name: str, description: str | None = None) -> dict[str, Any]:
    param: dict[str, Any] = {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    if description:
        param["description"] = description
    return param
