"""The hosted patient pages at the session URL (`/c/<token>`) and the OAuth callback.

Server-rendered HTML forms that work without JavaScript; the headless patient
drives these same pages over HTTP.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, make_response, redirect, render_template, request
from werkzeug.wrappers import Response

from simulator.core import workspaces
from simulator.core.sources import Source
from simulator.core.store import loads
from simulator.core.webkit import private_page
from simulator.domain import attempts, connections, outside_sources, patients, sessions
from simulator.domain.sessions import Session
from simulator.web import hosted_text
from simulator.web.http import acting_for, runtime

bp = Blueprint("hosted", __name__)
bp.after_request(private_page)

MIN_QUERY = 2

# A rendered page with its status code.
Page = tuple[str, int]


def _page(name: str, status: int = 200, **context: Any) -> Page:
    session = context.get("session")
    if session is not None:
        context.setdefault("app", app_name(session))
        context.setdefault("token", session.token)
    context.setdefault("app", None)
    return render_template(f"hosted/{name}.html", labels=hosted_text, **context), status


def _not_found() -> Page:
    return _page("closed", 404, code="unknown_link", session=None)


def _closed(session: Session, code: str) -> Page:
    return _page("closed", 410, code=code, session=session, return_url=session.return_url)


def app_name(session: Session) -> str:
    """The app the patient is sharing with: the workspace's app name, else the return host."""
    ws = workspaces.get(runtime().store, session.workspace_id)
    return hosted_text.app_name(ws.app_name, session.return_url)


def button_label(session: Session) -> str:
    """The completion screen's return button (see `hosted_text.return_button_text`)."""
    return hosted_text.return_button_text(session.return_button_label, app_name(session))


def _greeting_name(ws: str, session: Session) -> str | None:
    """The patient's name for "Hi …", or None: the app's own patient id is not a name."""
    name = patients.display_name(runtime().store, ws, session.patient_id)
    return None if name == session.patient_id else name


def _latest_by_source(session_attempts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each source's newest attempt in this session."""
    return {a["connection_id"]: a for a in session_attempts}


def _open_session(token: str) -> Session:
    """The open session behind a hosted URL; otherwise stop with the page that says why."""
    session = sessions.by_token(runtime().store, token)
    if session is None:
        abort(make_response(*_not_found()))
    acting_for(session.workspace_id)
    try:
        attempts.require_open(runtime(), session.workspace_id, session)
    except attempts.FlowError as exc:
        abort(make_response(*_closed(session, exc.code)))
    return session


@bp.get("/c/<token>")
def session_page(token: str) -> Page | Response:
    rt = runtime()
    session = _open_session(token)
    ws = session.workspace_id
    catalog = outside_sources.catalog(rt, ws)
    if session.connection_id is not None:  # Direct mode: straight to the portal
        source = catalog.get(session.connection_id)
        return _start(session, source)
    query = (request.args.get("q") or "").strip()
    too_short = 0 < len(query) < MIN_QUERY
    recommended = [catalog.get(i) for i in loads(session.recommended_connection_ids) or []]
    results = catalog.search(q=query) if len(query) >= MIN_QUERY else catalog.search()
    if not query:
        results = [s for s in results if s not in recommended]
    session_attempts = connections.for_session(rt.store, ws, session.id)
    latest = _latest_by_source(session_attempts)
    return _page(
        "picker",
        session=session,
        token=token,
        query=query,
        too_short=too_short,
        recommended=[s for s in recommended if s] if not query else [],
        results=results,
        patient_name=_greeting_name(ws, session),
        attempts=session_attempts,
        connected={src: a["status"] for src, a in latest.items()},
        exit_form=True,
    )


def _start(session: Session, source: Source) -> Page | Response:
    rt = runtime()
    try:
        url = attempts.start_attempt(rt, session.workspace_id, session, source)
    except attempts.FlowError as exc:
        if exc.code in ("session_expired", "session_complete"):
            return _closed(session, exc.code)
        picker = session.connection_id is None
        return _page(
            "error",
            502,
            code=exc.code,
            message=hosted_text.start_failure_text(exc.code, source.name, exc.message),
            detail=exc.message,
            session=session,
            retry_source=source.id,
            session_url=sessions.hosted_url(rt, session.token) if picker else None,
            return_url=None if picker else session.return_url,
        )
    return redirect(url, code=303)


@bp.post("/c/<token>/connect")
def connect(token: str) -> Page | Response:
    rt = runtime()
    session = _open_session(token)
    catalog = outside_sources.catalog(rt, session.workspace_id)
    source = catalog.get(request.form.get("source", ""))
    if source is None or (session.connection_id and source.id != session.connection_id):
        return _page(
            "error",
            400,
            code="unknown_source",
            message="Choose a source from the list.",
            session=session,
            session_url=sessions.hosted_url(rt, token),
        )
    return _start(session, source)


@bp.get("/c/<token>/complete")
def completion(token: str) -> Page:
    rt = runtime()
    session = _open_session(token)
    ws = session.workspace_id
    session_attempts = connections.for_session(rt.store, ws, session.id)
    latest = _latest_by_source(session_attempts)
    shown = [
        {**a, "retried": latest[a["connection_id"]] is not a or a["status"] == "active"}
        for a in session_attempts
    ]
    return _page(
        "complete",
        session=session,
        token=token,
        attempts=shown,
        sources={s.id: s for s in outside_sources.catalog(rt, ws).sources},
        return_text=button_label(session),
        exit_form=False,
    )


@bp.post("/c/<token>/done")
def done(token: str) -> Page | Response:
    rt = runtime()
    session = _open_session(token)
    if session.connection_id is not None:
        return _page(
            "error",
            400,
            code="direct_mode",
            message="This link connects one source and returns on its own.",
            session=session,
            session_url=None,
        )
    return redirect(attempts.finish_picker(rt, session.workspace_id, session), code=303)


@bp.get(attempts.CALLBACK_PATH)
def oauth_callback() -> Page | Response:
    rt = runtime()
    args = {k: v for k, v in request.args.items()}
    attempt = attempts.by_state(rt.store, args.get("state") or "")
    if attempt is not None:
        acting_for(attempt.workspace_id, changed=True)
    outcome = attempts.handle_callback(rt, args)
    if outcome.redirect:
        return redirect(outcome.redirect, code=303)
    context = dict(outcome.context)
    session = context.get("session")
    if session is not None:
        context["return_url"] = session.return_url
    return _page(outcome.page or "error", outcome.status, **context)


def _html(description: str, status: str = "200") -> dict[str, Any]:
    return {
        status: {
            "description": description,
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    }


_TOKEN = [
    {
        "name": "token",
        "in": "path",
        "required": True,
        "description": "The 32-hex token of the session's hosted URL",
        "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    }
]
_REDIRECT = {"303": {"description": "Redirect (to the portal's authorize endpoint or the app)"}}
_CLOSED = {
    **_html("The link is expired or already used; no OAuth starts", "410"),
    **_html("No session has this link", "404"),
}
_FORM_ERROR = _html("Not a source of this session, or Done in Direct mode (a page)", "400")

_CALLBACK_PARAMS = {
    "code": "The authorization code the portal issued (on success)",
    "state": "The attempt's `state`, as sent to the portal's authorize endpoint",
    "error": "The OAuth error code (on failure), e.g. `access_denied`",
    "error_description": "The portal's text about the error",
}

OPENAPI_PATHS = {
    "/c/{token}": {
        "get": {
            "operationId": "hosted.sessionPage",
            "description": "The patient-facing page behind a session's `url`. Picker mode: the app's name, what will be shared and the catalog to search (recommended sources first, sources already connected in this session marked). Direct mode: a 303 straight to the source's SMART authorize endpoint. Works without JavaScript.",
            "summary": "Hosted page: the source picker (Picker) or a redirect to the portal (Direct)",
            "tags": ["Hosted pages"],
            "security": [],
            "parameters": [
                *_TOKEN,
                {
                    "name": "q",
                    "in": "query",
                    "required": False,
                    "description": "Search the catalog by name (2 characters at least)",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {**_html("The picker page"), **_REDIRECT, **_CLOSED},
        }
    },
    "/c/{token}/connect": {
        "post": {
            "operationId": "hosted.connect",
            "description": "Form post from the picker, the completion screen's Try again or the error page: starts an authorization attempt at the chosen source and redirects the browser to its portal.",
            "summary": "Hosted page form: start an attempt at the chosen source",
            "tags": ["Hosted pages"],
            "security": [],
            "parameters": _TOKEN,
            "requestBody": {
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["source"],
                            "properties": {
                                "source": {
                                    "type": "string",
                                    "description": "The chosen source's `fhirsrc_` id",
                                }
                            },
                        }
                    }
                }
            },
            "responses": {**_REDIRECT, **_FORM_ERROR, **_CLOSED},
        }
    },
    "/c/{token}/complete": {
        "get": {
            "operationId": "hosted.completion",
            "description": "Where the patient lands after each portal sign-in in Picker mode: every attempt of the session with its outcome in words, Try again for a failed one, Connect another source and the return button.",
            "summary": "Hosted page: the completion screen (attempts, connect another, Done)",
            "tags": ["Hosted pages"],
            "security": [],
            "parameters": _TOKEN,
            "responses": {**_html("The completion screen"), **_CLOSED},
        }
    },
    "/c/{token}/done": {
        "post": {
            "operationId": "hosted.done",
            "description": "Form post from the completion screen's return button (or the picker's way back): completes the session, sends `patient_session.completed` and redirects to `return_url?patient_id=…&patient_session_id=…`.",
            "summary": "Hosted page form: Done completes the session and returns to the app",
            "tags": ["Hosted pages"],
            "security": [],
            "parameters": _TOKEN,
            "responses": {**_REDIRECT, **_FORM_ERROR, **_CLOSED},
        }
    },
    "/oauth/callback": {
        "get": {
            "operationId": "hosted.oauthCallback",
            "description": "Where the portals send the browser back after sign-in. Checks `state`, exchanges the code (PKCE S256) or records the error, then shows the completion screen (Picker) or returns to the app with `success` (Direct).",
            "summary": "The portals' redirect URI: settles the attempt",
            "tags": ["Hosted pages"],
            "security": [],
            "parameters": [
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "description": text,
                    "schema": {"type": "string"},
                }
                for name, text in _CALLBACK_PARAMS.items()
            ],
            "responses": {
                **_REDIRECT,
                **_html("The sign-in response is unknown or already used", "400"),
                **_CLOSED,
            },
        }
    },
}
