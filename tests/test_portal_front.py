"""Token requests and FHIR searches answered ahead of Flask (`Front`) give the answers
Flask's own machinery gives (Werkzeug's form and query parsers, `jsonify`, the app's
hooks and error handlers): status, headers and body, for errors, a refresh and searches."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, Response, request
from portalkit import new_launch
from werkzeug.test import Client

import portal_mocks
from portal_mocks import access, fhir_search, scopes, tokens
from portal_mocks.fhir_search import FhirError
from portal_mocks.oauth_errors import OAuthError
from portal_mocks.web import common, front
from simulator.testing import Sim

SLUG = "summit-epic"
FORM = "application/x-www-form-urlencoded"


def _through_flask() -> Response:
    """The token endpoint written on Flask's request and response objects: the reference."""
    form = request.form
    try:
        if request.mimetype != FORM:
            raise OAuthError(
                "invalid_request", "The body must be application/x-www-form-urlencoded"
            )
        for key in form:
            if len(form.getlist(key)) > 1:
                raise OAuthError("invalid_request", f"Parameter {key} is repeated")
        result = tokens.handle(
            common.runtime(),
            common.portal(),
            {k: form[k] for k in form},
            request.headers.get("Authorization"),
        )
    except OAuthError as err:
        return common.oauth_error(err)
    return common.json_response(result.body, result.status, result.headers)


def _search_through_flask(resource_type: str) -> Response:
    """A FHIR search written on Flask's request and response objects: the reference."""
    rt, p = common.runtime(), common.portal()
    try:
        if resource_type not in p.resource_types:
            raise FhirError(
                404, "not-supported", f"Resource type {resource_type} is not supported here"
            )
        params = request.args.to_dict(flat=False)
        token, grant, now, faulted = access.bearer(rt, p, request.headers.get("Authorization"))
        access.check_scope(p, token, resource_type, "s")
        plan = access.fault_plan(rt, p, grant, now, any_stored=faulted)
        delay = access.apply_faults(rt, p, token, grant, resource_type, plan)
        record = access.record_for(rt, p, grant, plan, resource_type)
        bundle = fhir_search.search(
            record,
            p,
            resource_type,
            params,
            fhir_base=common.fhir_base(),
            now_ms=now,
            category_limits=scopes.category_filters(token.scope, resource_type),
        )
    except FhirError as err:
        return common.fhir_error(err)
    common.sleep(delay)
    return common.fhir_response(bundle.encode())


def _reference(sim: Sim) -> Flask:
    app = portal_mocks.create_app(sim.runtime)
    app.view_functions["portal_token.token"] = _through_flask
    app.view_functions["portal_fhir.search_type"] = _search_through_flask
    return app


@pytest.fixture
def apps(sim: Sim) -> tuple[Client, Client]:
    """The reference, and the portals as the simulator serves them (behind the front)."""
    served = portal_mocks.create_wsgi(sim.runtime)
    assert isinstance(served, front.Front)
    return Client(_reference(sim)), Client(served)


def _answer(client: Client, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    resp = client.open(f"/{SLUG}/token", **kwargs)
    return resp.status_code, dict(resp.headers), resp.get_data()


ERRORS = [
    {"method": "POST", "data": "", "content_type": FORM},  # no grant_type
    {"method": "POST", "data": "grant_type=password", "content_type": FORM},
    {"method": "POST", "data": "grant_type=x&grant_type=y", "content_type": FORM},
    {"method": "POST", "data": '{"grant_type": "refresh_token"}', "content_type": "text/json"},
    {"method": "POST", "data": b"grant_type=\xff\xfe", "content_type": FORM},  # not UTF-8
    {"method": "POST", "data": "grant_type=refresh_token&refresh_token=nope", "content_type": FORM},
    {
        "method": "POST",
        "data": "grant_type=refresh_token&refresh_token=nope",
        "content_type": FORM + "; charset=UTF-8",
        "headers": {"Authorization": "Basic bm9ib2R5Ondyb25n"},  # nobody:wrong
    },
    {"method": "POST", "data": "grant_type=authorization_code&code=%ZZ", "content_type": FORM},
    {"method": "POST", "data": "grant_type=%FF%FE", "content_type": FORM},  # echoed as sent
    {"method": "POST", "data": "%FF=1&%FF=2", "content_type": FORM},
    {"method": "GET"},  # not a POST: the app's own 405
    {"method": "OPTIONS"},  # the app's own preflight answer
]


@pytest.mark.parametrize("request_", ERRORS, ids=range(len(ERRORS)))
def test_the_front_answers_as_the_flask_view(
    apps: tuple[Client, Client], request_: dict[str, Any]
) -> None:
    plain, front = apps
    assert _answer(front, **request_) == _answer(plain, **request_)


def test_a_refresh_through_the_front_answers_as_through_the_view(sim: Sim) -> None:
    sim.route_outbound()
    key = sim.new_workspace(seed=5)[1]["api_key"]
    launch = new_launch(sim, SLUG, key, method="none")
    token = launch.connect("alice")
    plain = Client(_reference(sim))
    front = Client(portal_mocks.create_wsgi(sim.runtime))
    answers = []
    refresh_token = token["refresh_token"]
    for client in (plain, front):
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        resp = client.post(f"/{SLUG}/token", data=form)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        body = resp.get_json()
        refresh_token = body.get("refresh_token", refresh_token)
        headers = dict(resp.headers)
        headers.pop("Content-Length")
        answers.append((headers, sorted(body), resp.get_data().endswith(b"}\n")))
    assert answers[0] == answers[1]
    assert answers[1][0]["Cache-Control"] == "no-store"
    assert answers[1][0]["Access-Control-Allow-Origin"] == "*"


def test_an_unexpected_error_is_a_json_500(
    apps: tuple[Client, Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(tokens, "handle", broken)
    plain, front = apps
    request_ = {"method": "POST", "data": "grant_type=refresh_token", "content_type": FORM}
    status, headers, body = _answer(front, **request_)
    assert (status, body) == (500, b'{"error":"server_error"}\n')
    assert headers["Cache-Control"] == "no-store"
    assert _answer(plain, **request_) == (status, headers, body)


def test_the_flask_view_answers_with_the_front(sim: Sim) -> None:
    """Without the front (the portal app alone) a POST gets the same answer."""
    plain = Client(portal_mocks.create_app(sim.runtime))
    reference = Client(_reference(sim))
    for request_ in ERRORS:
        assert _answer(plain, **request_) == _answer(reference, **request_)


def test_fhir_searches_through_the_front_answer_as_through_flask(sim: Sim) -> None:
    sim.route_outbound()
    key = sim.new_workspace(seed=5)[1]["api_key"]
    launch = new_launch(sim, SLUG, key, method="none")
    bearer = {"Authorization": "Bearer " + launch.connect("alice")["access_token"]}
    reference = Client(_reference(sim))
    served = Client(portal_mocks.create_wsgi(sim.runtime))
    fhir = f"/{SLUG}/fhir"
    asked = [
        (f"{fhir}/Observation?_count=3", bearer),
        (f"{fhir}/Observation?_count=3&_count=", bearer),  # repeated, one blank
        (f"{fhir}/Observation?category=laboratory&category=vital-signs&_count=50", bearer),
        (f"{fhir}/Observation?category=laboratory&_count=2&page=%FF", bearer),
        (f"{fhir}/Condition?patient=nobody&unknown=x", bearer),
        (f"{fhir}/Observation?_count=abc", bearer),
        (f"{fhir}/Observation", {}),  # no bearer token
        (f"{fhir}/Observation", {"Authorization": "Bearer wrong"}),
        (f"{fhir}/Spaceship", bearer),  # not a type this portal serves: the app's route
        (f"{fhir}/metadata", {}),  # the app's own route, never a search
        (f"/{SLUG}/fhir/Observation/", bearer),
    ]
    for path, headers in asked:
        want = reference.get(path, headers=headers)
        got = served.get(path, headers=headers)
        assert (got.status_code, dict(got.headers), got.get_data()) == (
            want.status_code,
            dict(want.headers),
            want.get_data(),
        ), path
    first = served.get(asked[0][0], headers=bearer)
    assert first.status_code == 200 and first.get_json()["resourceType"] == "Bundle"
