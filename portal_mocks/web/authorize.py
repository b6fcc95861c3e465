"""The authorize endpoint (GET and POST) and the login and consent pages.

Pages work without JavaScript: the login page is `<form id="login-form">`
(username, password, hidden `txn`), the consent page `<form id="consent-form">`
with two submit buttons `decision=approve` and `decision=deny`. Every value
shown on a page is HTML-escaped (Jinja autoescape).
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request

from portal_mocks import authorization, personas, scopes
from portal_mocks.authorization import Outcome
from portal_mocks.web.common import display_name, local_path, no_store, portal, runtime
from simulator.core.webkit import private_page

bp = Blueprint("portal_authorize", __name__, url_prefix="/<slug>")


def _page(template: str, status: int = 200, **context: object) -> Response:
    p = portal()
    html = render_template(template, portal_name=display_name(), colour=p.colour, **context)
    return private_page(Response(html, status=status, mimetype="text/html"))


def _render(outcome: Outcome) -> Response:
    if outcome.kind == "redirect":
        assert outcome.url is not None
        return no_store(redirect(outcome.url, 302))
    if outcome.kind == "error_page":
        return _page("error.html", outcome.status, message=outcome.message or "Error")
    client_name = (outcome.client.client_name if outcome.client else None) or "An app"
    assert outcome.grant is not None
    if outcome.kind == "login":
        return _page(
            "login.html",
            outcome.status,
            action=local_path("/login"),
            txn=outcome.grant.id,
            error=outcome.message,
            username=outcome.username,
            client_name=client_name,
            personas=list(personas.PERSONAS),
        )
    return _page(
        "consent.html",
        outcome.status,
        action=local_path("/consent"),
        txn=outcome.grant.id,
        username=outcome.username,
        client_name=client_name,
        scopes=[(s, scopes.describe(s)) for s in outcome.scopes],
        one_time=outcome.grant.one_time,
    )


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    params = request.args if request.method == "GET" else request.form
    return _render(authorization.begin(runtime(), portal(), params.to_dict(flat=True)))


@bp.get("/login")
def login_page() -> Response:
    outcome = authorization.resume(runtime(), portal(), request.args.get("txn"), "login")
    return _render(outcome)


@bp.post("/login")
def login() -> Response:
    form = request.form
    outcome = authorization.login(
        runtime(),
        portal(),
        form.get("txn"),
        form.get("username", ""),
        form.get("password", ""),
    )
    if outcome.kind == "consent" and outcome.grant is not None:
        return no_store(redirect(local_path(f"/consent?txn={outcome.grant.id}"), 303))
    return _render(outcome)


@bp.get("/consent")
def consent_page() -> Response:
    outcome = authorization.resume(runtime(), portal(), request.args.get("txn"), "consent")
    return _render(outcome)


@bp.post("/consent")
def consent() -> Response:
    form = request.form
    outcome = authorization.decide(runtime(), portal(), form.get("txn"), form.get("decision", ""))
    return _render(outcome)
