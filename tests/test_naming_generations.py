"""A workspace speaks one naming generation: C (the provider's document) by default, B or A.

C serves no route and sends no event name outside the provider's document; the same
scenario in a B (or A) workspace shows that generation's names throughout: paths, id
prefixes, resource types, return-URL parameters, event names, and a `Deprecation`
header (RFC 9745) on every answer.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flowkit import EPIC, RETURN_URL
from webhooks_support import inbox, received, records

from simulator.core import naming
from simulator.testing import Api, Sim
from simulator.web import openapi

# The provider's OpenAPI document (generation C), copied from the fact sheet's §2.1.
PROVIDER_OPERATIONS = {
    ("GET", "/health"),
    ("POST", "/patients"),
    ("GET", "/patients"),
    ("GET", "/patients/{}"),
    ("PUT", "/patients/{}"),
    ("DELETE", "/patients/{}"),
    ("DELETE", "/patients/{}/connections/{}"),
    ("GET", "/patients/{}/patient-sessions"),
    ("GET", "/patients/{}/records"),
    ("GET", "/connections"),
    ("GET", "/connections/{}"),
    ("POST", "/patient-sessions"),
    ("GET", "/patient-sessions/{}"),
    ("GET", "/launch-contexts/{}"),
    ("POST", "/webhooks"),
    ("GET", "/webhooks"),
    ("GET", "/webhooks/{}"),
    ("PATCH", "/webhooks/{}"),
    ("DELETE", "/webhooks/{}"),
    ("POST", "/webhooks/{}/rotate-secret"),
    ("GET", "/webhooks/{}/events"),
    ("POST", "/events/{}/redeliver"),
}
# The simulator's own surface: control plane, hosted pages and their OAuth callback, the
# document, static files.
OWN_PREFIXES = (
    "/_sim/",
    "/c/",
    "/oauth/callback",
    "/openapi.json",
    "/static/",
    "/dashboard",  # the dashboard's pages (its sign-in page is `/`)
    "/docs",  # the rendered API reference
)
OWN_PATHS = {"/"}
FOUR_C_EVENTS = {
    "patient_session.completed",
    "connection.token_refresh_failed",
    "records.sync.completed",
    "records.sync.failed",
}
DEPRECATION = re.compile(r"^@\d+$")


def _routes(sim: Sim) -> list[tuple[str, str]]:
    """(method, shape) of every route of the app, path parameters as `{}`."""
    found = []
    for rule in sim.wsgi.app.url_map.iter_rules():
        shape = re.sub(r"\{[^}]+\}", "{}", openapi.flask_path(rule.rule))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, shape))
    return found


def _call(api: Api, method: str, path: str) -> Any:
    if method == "GET":
        return api.get(path)
    if method == "DELETE":
        return api.delete(path)
    return getattr(api, method.lower())(path, {"patient_id": "p1", "return_url": RETURN_URL})


def test_a_c_workspace_serves_no_route_outside_the_provider_document(sim: Sim, api: Api) -> None:
    outside = [
        (method, shape)
        for method, shape in _routes(sim)
        if not shape.startswith(OWN_PREFIXES)
        and shape not in OWN_PATHS
        and (method, shape) not in PROVIDER_OPERATIONS
    ]
    # what is routed beyond the document is exactly the six A and B operations ...
    assert sorted(outside) == sorted(
        [
            ("POST", "/sessions"),
            ("GET", "/sessions/{}"),
            ("GET", "/patients/{}/sessions"),
            ("POST", "/patient-flows"),
            ("GET", "/patient-flows/{}"),
            ("GET", "/patients/{}/patient-flows"),
        ]
    )
    api.post("/patients", {"patient_id": "p1"})
    for method, shape in outside:  # ... and none of them answers in a C workspace
        resp = _call(api, method, shape.replace("{}", "p1"))
        assert resp.status_code == 404, (method, shape, resp.json)
        error = resp.json["error"]
        assert (error["type"], error["code"]) == ("not_found_error", "resource_not_found")
        assert "Deprecation" not in resp.headers
    # every operation of the document is served
    assert PROVIDER_OPERATIONS <= set(_routes(sim))


def test_a_c_workspace_takes_and_sends_only_the_four_event_types(api: Api) -> None:
    refused = api.post(
        "/webhooks", {"url": "https://hooks.example/x", "events": ["patient_flow.completed"]}
    )
    assert refused.status_code == 400
    assert refused.json["error"]["param"] == "events.0"
    fired = api.post("/_sim/events", {"type": "patient_flow.completed", "object_id": "ps_x"})
    assert fired.status_code == 400
    assert fired.json["error"]["param"] == "type"

    names, box, wh = _scenario(api, "/patient-sessions", list(FOUR_C_EVENTS))
    assert names["id"].startswith("ps_")
    sent = {r["event_type"] for r in received(api, box["id"])}
    assert "patient_session.completed" in sent and sent <= FOUR_C_EVENTS
    assert {r["type"] for r in records(api, wh["id"])} <= FOUR_C_EVENTS
    listed = api.get("/_sim/events", limit=100).json["data"]
    assert {e["type"] for e in listed} <= FOUR_C_EVENTS


def _scenario(api: Api, path: str, events: list[str]) -> tuple[dict, dict, dict]:
    """An endpoint, then a Picker session connected to Epic and finished, its pull run."""
    box = inbox(api)
    resp = api.post("/webhooks", {"url": box["url"], "events": events})
    assert resp.status_code == 200, resp.json
    wh = resp.json
    created = api.post(path, {"patient_id": "p1", "return_url": RETURN_URL})
    assert created.status_code == 200, created.json
    session = created.json
    connected = api.post(
        f"/_sim/patient-sessions/{session['id']}/connect",
        {"username": "alice", "consent": "approve", "source": EPIC},
    )
    assert connected.status_code == 200, connected.json
    finished = api.post(f"/_sim/patient-sessions/{session['id']}/done")
    assert finished.status_code == 200, finished.json
    assert api.post("/_sim/clock/run-until-idle", {"max_seconds": 3600}).status_code == 200
    return {**session, "return_url": finished.json["return_url"]}, box, wh


@pytest.mark.parametrize(
    ("gen", "completed", "back_reference"),
    [
        ("B", "patient_flow.completed", "patient_session_id"),
        ("A", "patient_session.completed", "session_id"),
    ],
)
def test_the_same_scenario_in_an_older_generation_shows_its_names_throughout(
    sim: Sim, gen: str, completed: str, back_reference: str
) -> None:
    g = naming.generation(gen)
    api, created = sim.new_workspace(seed=1, naming=gen)
    assert (created["naming"], created["strict"]) == (gen, False)
    events = [completed, "records.sync.completed", "records.sync.failed"]
    session, box, wh = _scenario(api, f"/{g.path}", events)
    assert wh["events"] == events

    # id prefix and resource type, through create, retrieve and list
    assert session["id"].startswith(g.prefix) and session["resource_type"] == g.resource_type
    got = api.get(f"/{g.path}/{session['id']}")
    assert got.json["resource_type"] == g.resource_type and got.json["status"] == "complete"
    listed = api.get(f"/patients/p1/{g.list_path}").json["data"]
    assert [(s["id"], s["resource_type"]) for s in listed] == [(session["id"], g.resource_type)]
    # the return URL names the session with the generation's parameter
    query = parse_qs(urlsplit(session["return_url"]).query)
    assert query[g.return_param] == [session["id"]]
    assert "patient_session_id" not in query
    # the connection points back to the session under the generation's field
    (entry,) = api.get("/patients/p1").json["connections"]
    assert entry[back_reference] == session["id"]
    assert set(entry) & {"patient_session_id", "session_id"} == {back_reference}
    # events: the envelope, the stored record and the control plane use the same name
    bodies = [json.loads(r["body"]) for r in received(api, box["id"])]
    types = {b["type"] for b in bodies}
    assert completed in types and types <= set(g.event_types)
    (flow_event,) = [b for b in bodies if b["type"] == completed]
    assert flow_event["data"]["object"]["id"] == session["id"]
    assert flow_event["data"]["object"]["resource_type"] == g.resource_type
    assert {r["type"] for r in records(api, wh["id"])} == types
    assert {e["type"] for e in api.get("/_sim/events", limit=100).json["data"]} <= set(
        g.event_types
    )
    # the C paths are not this workspace's
    for path in ("/patient-sessions", f"/patient-sessions/{session['id']}"):
        resp = api.get(path) if path.count("/") > 1 else api.post(path, {"patient_id": "p1"})
        assert resp.status_code == 404, path
    # every Connect API answer says the generation is deprecated, errors included
    answers = [
        got,
        api.get("/patients"),
        api.get("/patients/ghost"),
        api.post("/patients", {"patient_id": 5}),
        api.get("/patient-sessions/whatever"),
        api.get(f"/webhooks/{wh['id']}/events"),
    ]
    for resp in answers:
        assert DEPRECATION.match(resp.headers.get("Deprecation", "")), resp.request.path
        assert resp.headers["Deprecation"] == f"@{naming.DEPRECATED_SINCE}"
    # ... and a C workspace's answers do not
    plain, _ = sim.new_workspace(seed=1)
    assert "Deprecation" not in plain.get("/patients").headers


def test_a_b_workspace_takes_only_b_names(sim: Sim) -> None:
    api, _ = sim.new_workspace(seed=1, naming="B")
    url = "https://hooks.example/x"
    refused = api.post("/webhooks", {"url": url, "events": ["patient_session.completed"]})
    assert refused.status_code == 400 and refused.json["error"]["param"] == "events.0"
    assert (
        api.post("/webhooks", {"url": url, "events": ["patient_flow.completed"]}).status_code == 200
    )
    flow = api.post("/patient-flows", {"patient_id": "p1", "return_url": RETURN_URL}).json
    fire_c = api.post(
        "/_sim/events", {"type": "patient_session.completed", "object_id": flow["id"]}
    )
    assert fire_c.status_code == 400
    fire_b = api.post("/_sim/events", {"type": "patient_flow.completed", "object_id": flow["id"]})
    assert fire_b.status_code == 200 and fire_b.json["type"] == "patient_flow.completed"
    assert api.get("/_sim/events", type="patient_session.completed").status_code == 400
    assert [
        e["id"] for e in api.get("/_sim/events", type="patient_flow.completed").json["data"]
    ] == [fire_b.json["id"]]


def test_the_generation_is_fixed_for_the_workspace_and_kept_across_reset(sim: Sim) -> None:
    api, _ = sim.new_workspace(seed=1, naming="A", strict=True)
    assert api.post("/sessions", {"patient_id": "p1", "return_url": RETURN_URL}).status_code == 200
    after = api.post("/_sim/reset").json
    assert (after["naming"], after["strict"]) == ("A", True)
    assert api.get("/_sim/workspace").json["naming"] == "A"
    again = api.post("/sessions", {"patient_id": "p1", "return_url": RETURN_URL}).json
    assert again["id"].startswith("sess_")


@pytest.mark.parametrize("value", ["D", "c", "", 3, None])
def test_an_unknown_generation_is_refused(sim: Sim, value: Any) -> None:
    resp = sim.client.post("/_sim/workspaces", json={"naming": value})
    assert resp.status_code == 400
    assert resp.json["error"]["param"] == "naming"


def test_the_default_workspace_speaks_c(sim: Sim, api: Api) -> None:
    info = api.get("/_sim/workspace").json
    assert (info["naming"], info["strict"]) == ("C", False)
    assert sim.api().get("/_sim/workspace").json["naming"] == "C"
