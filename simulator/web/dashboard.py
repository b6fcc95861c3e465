"""The dashboard: `/` signs in with a workspace's API key, `/dashboard/<ws_id>` shows it.

Server-rendered HTML that works without JavaScript (a small script may reload the
page). The key is entered once and kept in an HttpOnly, SameSite=Strict cookie whose
path is the workspace's own (`/dashboard/<ws_id>`), so a browser sends it only to that
workspace's pages; every request checks it against the workspace again, so a key
reaches only its own workspace, and a rotated key signs the browser out.

The page's forms (clock moves, sign-out) carry a token derived from the key and the
workspace (compared in constant time), and a POST from another origin is refused.
The clock buttons make the same scheduler calls as `POST /_sim/clock/advance` and
`/_sim/clock/run-until-idle`, then redirect back (POST, redirect, GET).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from simulator.core import workspaces
from simulator.core.clock import ClockError
from simulator.core.jobs import MoveCancelled
from simulator.core.timeutil import DAY, HOUR, SECOND
from simulator.core.webkit import private_page
from simulator.web import dashboard_data
from simulator.web.control.clock import DEFAULT_IDLE_LIMIT_S
from simulator.web.http import acting_for, runtime

bp = Blueprint("dashboard", __name__)

COOKIE = "connect_sim_dashboard"
# The clock buttons: form value -> (label, seconds to advance; None runs until idle).
MOVES: dict[str, tuple[str, int | None]] = {
    "1h": ("+1 h", HOUR // SECOND),
    "1d": ("+1 d", DAY // SECOND),
    "30d": ("+30 d", 30 * DAY // SECOND),
    "idle": ("Run until idle", None),
}
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self';"
    " form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

Page = tuple[str, int]


@bp.after_request
def _private(resp: Response) -> Response:
    private_page(resp)
    resp.headers["Content-Security-Policy"] = CSP
    # never a Referer to another site, but this site's own forms keep their Origin
    # (under `no-referrer` a browser sends `Origin: null`, which the forms refuse)
    resp.headers["Referrer-Policy"] = "same-origin"
    return resp


# -- who is signed in ----------------------------------------------------------------------


def _path(ws_id: str) -> str:
    return f"/dashboard/{ws_id}"


def _signed_in_key(ws_id: str) -> str | None:
    """The API key in this workspace's cookie, when it is this workspace's key now."""
    store = runtime().store
    for key in request.cookies.getlist(COOKIE):
        ws = workspaces.by_key(store, key) if key else None
        if ws is not None and hmac.compare_digest(ws.id.encode(), ws_id.encode()):
            return key
    return None


def form_token(api_key: str, ws_id: str) -> str:
    """The token the workspace page's forms carry (only a holder of the key can make it)."""
    message = f"connect-sim dashboard form:{ws_id}".encode()
    return hmac.new(api_key.encode(), message, hashlib.sha256).hexdigest()


def _same_origin() -> bool:
    """False for a POST a browser says came from another site."""
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    allowed = {request.host_url.rstrip("/"), _origin_of(runtime().base_url)}
    return origin.rstrip("/") in allowed


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _signin(status: int, error: str | None = None, ws_id: str | None = None) -> Page:
    return render_template("dashboard/signin.html", error=error, workspace_id=ws_id), status


def _refused(message: str, status: int, ws_id: str | None = None) -> Page:
    back = url_for("dashboard.workspace", ws_id=ws_id) if ws_id else url_for("dashboard.home")
    return render_template("dashboard/refused.html", message=message, back=back), status


def _form_error(ws_id: str) -> Page | None:
    """The page to answer instead, when this POST may not act on the workspace."""
    if not _same_origin():
        return _refused("This form was sent from another site.", 403)
    key = _signed_in_key(ws_id)
    if key is None:
        return _signin(401, "Sign in with this workspace's API key first.", ws_id)
    sent = request.form.get("token", "")
    if not hmac.compare_digest(sent.encode(), form_token(key, ws_id).encode()):
        return _refused("This form is out of date; reload the dashboard and try again.", 403, ws_id)
    return None


# -- pages ---------------------------------------------------------------------------------


@bp.get("/")
def home() -> Page:
    return _signin(200)


@bp.post("/dashboard/sign-in")
def sign_in() -> Page | Response:
    if not _same_origin():
        return _refused("This form was sent from another site.", 403)
    key = request.form.get("api_key", "").strip()
    wanted = request.form.get("workspace_id") or None
    if not key:
        return _signin(400, "Enter the workspace's API key.", wanted)
    ws = workspaces.by_key(runtime().store, key)
    if ws is None:
        return _signin(401, "That API key does not open any workspace.", wanted)
    if wanted is not None and not hmac.compare_digest(ws.id.encode(), wanted.encode()):
        return _signin(401, "That API key belongs to another workspace.", wanted)
    resp = redirect(url_for("dashboard.workspace", ws_id=ws.id), code=303)
    resp.set_cookie(
        COOKIE,
        key,
        path=_path(ws.id),
        httponly=True,
        samesite="Strict",
        secure=request.is_secure or runtime().base_url.startswith("https://"),
    )
    return resp


def _moved_note() -> str | None:
    """What the last clock button did (read back from the redirect's query)."""
    move = request.args.get("moved")
    ran = request.args.get("ran", "")
    if move not in MOVES or not ran.isdigit():
        return None
    stopped = " (stopped early)" if request.args.get("cancelled") == "1" else ""
    jobs = "1 job" if ran == "1" else f"{int(ran)} jobs"
    return f"{MOVES[move][0]}: {jobs} ran{stopped}."


@bp.get("/dashboard/<ws_id>")
def workspace(ws_id: str) -> Page:
    key = _signed_in_key(ws_id)
    if key is None:
        return _signin(401, "Sign in with this workspace's API key to see it.", ws_id)
    rt = runtime()
    ws = workspaces.get(rt.store, ws_id)
    return render_template(
        "dashboard/workspace.html",
        ws=ws,
        view=dashboard_data.overview(rt, ws_id),
        token=form_token(key, ws_id),
        moves=MOVES,
        note=_moved_note(),
        error=request.args.get("error") == "clock",
    ), 200


@bp.post("/dashboard/<ws_id>/clock")
def move_clock(ws_id: str) -> Page | Response:
    refused = _form_error(ws_id)
    if refused is not None:
        return refused
    move = request.form.get("move", "")
    if move not in MOVES:
        return _refused("Unknown clock move; use the dashboard's buttons.", 400, ws_id)
    acting_for(ws_id)
    scheduler = runtime().scheduler
    seconds = MOVES[move][1]
    cancelled = False
    try:
        if seconds is None:
            ran = scheduler.run_until_idle(ws_id, DEFAULT_IDLE_LIMIT_S * SECOND)
        else:
            ran = scheduler.advance(ws_id, seconds)
    except MoveCancelled as stopped:
        ran, cancelled = stopped.ran, True
    except ClockError as exc:
        return _refused(str(exc), 400, ws_id)
    query: dict[str, Any] = {"moved": move, "ran": ran}
    if cancelled:
        query["cancelled"] = 1
    return redirect(url_for("dashboard.workspace", ws_id=ws_id, **query), code=303)


@bp.post("/dashboard/<ws_id>/sign-out")
def sign_out(ws_id: str) -> Page | Response:
    refused = _form_error(ws_id)
    if refused is not None:
        return refused
    resp = redirect(url_for("dashboard.home"), code=303)
    resp.delete_cookie(COOKIE, path=_path(ws_id), httponly=True, samesite="Strict")
    return resp


# -- OpenAPI -------------------------------------------------------------------------------


def _html(description: str, status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, "content": {"text/html": {"schema": {}}}}}


_WS = [
    {
        "name": "ws_id",
        "in": "path",
        "required": True,
        "description": "The workspace's id (its API key, kept in the dashboard cookie, opens it)",
        "schema": {"type": "string"},
    }
]
_SIGNED_IN = (
    "Needs the dashboard cookie that `POST /dashboard/sign-in` sets (HttpOnly, SameSite=Strict,"
    " path `/dashboard/{ws_id}`); without it the answer is the sign-in page, 401."
)
_FORM_REFUSED = {
    **_html("The sign-in page: not signed in to this workspace", "401"),
    **_html("Sent from another site, or without the page's form token", "403"),
}


def _form(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": required,
                    "properties": properties,
                }
            }
        },
    }


_TOKEN_FIELD = {"type": "string", "description": "The form token printed in the page"}

OPENAPI_PATHS = {
    "/": {
        "get": {
            "operationId": "dashboard.home",
            "description": "The dashboard's front page: a form that takes a workspace's API key once and opens that workspace's page. HTML, works without JavaScript.",
            "summary": "Dashboard: the sign-in page (enter a workspace's API key)",
            "tags": ["Dashboard"],
            "security": [],
            "responses": _html("The sign-in page"),
        }
    },
    "/dashboard/sign-in": {
        "post": {
            "operationId": "dashboard.signIn",
            "summary": "Dashboard form: open a workspace with its API key",
            "description": "Sets the workspace's dashboard cookie and redirects to its page. "
            "A key of no workspace (or of another workspace than `workspace_id`) is the "
            "sign-in page again with 401; the key is never shown back.",
            "tags": ["Dashboard"],
            "security": [],
            "requestBody": _form(
                {
                    "api_key": {
                        "type": "string",
                        "pattern": "\\S",
                        "description": "The workspace's API key (surrounding spaces ignored)",
                    },
                    "workspace_id": {
                        "type": "string",
                        "description": "When given, the key must be this workspace's",
                    },
                },
                ["api_key"],
            ),
            "responses": {
                "303": {"description": "Signed in: to the workspace's page"},
                **_html("No key entered", "400"),
                **_html("The key opens no workspace (or another one)", "401"),
                **_html("Sent from another site", "403"),
            },
        }
    },
    "/dashboard/{ws_id}": {
        "get": {
            "operationId": "dashboard.workspace",
            "summary": "Dashboard: a workspace's clock, sessions, connections, events, webhooks",
            "description": _SIGNED_IN,
            "tags": ["Dashboard"],
            "security": [],
            "parameters": _WS,
            "responses": {
                **_html("The workspace page"),
                **_html("The sign-in page: not signed in to this workspace", "401"),
            },
        }
    },
    "/dashboard/{ws_id}/clock": {
        "post": {
            "operationId": "dashboard.moveClock",
            "summary": "Dashboard form: advance the clock (+1 h, +1 d, +30 d) or run until idle",
            "description": _SIGNED_IN
            + " The same moves as `POST /_sim/clock/advance` and `/_sim/clock/run-until-idle`.",
            "tags": ["Dashboard"],
            "security": [],
            "parameters": _WS,
            "requestBody": _form(
                {
                    "move": {
                        "type": "string",
                        "enum": list(MOVES),
                        "description": "Which button: how far to move the clock, or run until idle",
                    },
                    "token": _TOKEN_FIELD,
                },
                ["move", "token"],
            ),
            "responses": {
                "303": {"description": "Moved: back to the workspace page"},
                **_html("Not one of the moves, or the clock refused it", "400"),
                **_FORM_REFUSED,
            },
        }
    },
    "/dashboard/{ws_id}/sign-out": {
        "post": {
            "operationId": "dashboard.signOut",
            "summary": "Dashboard form: forget this workspace's key in this browser",
            "description": _SIGNED_IN,
            "tags": ["Dashboard"],
            "security": [],
            "parameters": _WS,
            "requestBody": _form({"token": _TOKEN_FIELD}, ["token"]),
            "responses": {"303": {"description": "Signed out: to `/`"}, **_FORM_REFUSED},
        }
    },
}
