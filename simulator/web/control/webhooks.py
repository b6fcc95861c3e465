"""Events on the control plane: list what was emitted, fire one on demand, chaos, attempt log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from simulator.core import naming
from simulator.domain.webhooks import chaos, endpoints, payloads, publish
from simulator.domain.webhooks import deliveries as deliveries
from simulator.domain.webhooks import occurrences as occurrences
from simulator.web import webhook_schemas as wh
from simulator.web.http import json_body, runtime, workspace_id
from simulator.web.openapi import LIST_PARAMS, path_param
from simulator.web.schemas import ERROR, list_of

bp = Blueprint("sim_events", __name__, url_prefix="/_sim")


@bp.get("/events")
def list_events() -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    event_type = request.args.get("type")
    return occurrences.list_page(rt.store, ws, request.args, event_type=event_type)


@bp.post("/events")
def fire_event() -> dict[str, Any]:
    """Build a real event for an existing object and deliver it like any other."""
    body = json_body(wh.FIRE_EVENT_INPUT)
    rt, ws = runtime(), workspace_id()
    event_type = occurrences.check_type(naming.of_workspace(rt.store, ws), body["type"])
    with rt.store.tx():
        data = payloads.build(rt, ws, {**body, "type": event_type})
        occ_id = publish.emit(rt, ws, event_type, data)
        return occurrences.render(rt.store, ws, occurrences.get_row(rt.store, ws, occ_id))


@bp.get("/events/<id>")
def get_event(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return occurrences.render(rt.store, ws, occurrences.get_row(rt.store, ws, id))


@bp.get("/webhooks/<id>/chaos")
def get_chaos(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return chaos.render(chaos.config_of(endpoints.get_row(rt.store, ws, id)))


@bp.put("/webhooks/<id>/chaos")
def set_chaos(id: str) -> dict[str, Any]:
    body = json_body(wh.WEBHOOK_CHAOS_INPUT, optional=True)
    rt, ws = runtime(), workspace_id()
    with rt.store.tx():
        endpoints.get_row(rt.store, ws, id)
        config = chaos.normalise(body)
        chaos.save(rt.store, ws, id, config)
    return chaos.render(config)


@bp.delete("/webhooks/<id>/chaos")
def clear_chaos(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    with rt.store.tx():
        endpoints.get_row(rt.store, ws, id)
        chaos.save(rt.store, ws, id, {})
    return chaos.render({})


@bp.get("/webhooks/<id>/attempts")
def list_attempts(id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    event_id = request.args.get("event_id")
    return deliveries.attempts_page(rt.store, ws, request.args, endpoint_id=id, event_id=event_id)


# -- OpenAPI ----------------------------------------------------------------------------------


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {"400": _json(ERROR, "Invalid input"), "404": _json(ERROR, "Not found")}
_WH_ID = path_param("id", "The `wh_` id of the endpoint.")
_CHAOS_STATE = {
    "type": "object",
    "required": [
        "duplicate",
        "reorder",
        "reorder_window_seconds",
        "delay_seconds",
        *chaos.SIGNATURE_FAULTS,
    ],
    "properties": {
        "duplicate": {"type": "number"},
        "reorder": {"type": "boolean"},
        "reorder_window_seconds": {"type": "integer"},
        "delay_seconds": {"type": "integer"},
        **{name: {"type": "number"} for name in chaos.SIGNATURE_FAULTS},
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/_sim/events": {
        "get": {
            "operationId": "sim.listEvents",
            "summary": "Events emitted in the workspace, newest first, with their deliveries",
            "description": "Every emitted event is listed, with or without endpoints; "
            "`deliveries` names the `evt_` record made for each subscribed endpoint.",
            "parameters": [
                *LIST_PARAMS,
                {
                    "name": "type",
                    "in": "query",
                    "description": "Only events of this type",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {"200": _json(list_of(wh.EVENT_OCCURRENCE), "Events"), **_ERRORS},
        },
        "post": {
            "operationId": "sim.fireEvent",
            "summary": "Fire an event for an existing object",
            "description": "`type` is a name of the workspace's generation "
            "(`patient_flow.completed` in a B workspace). "
            "`object_id` is a session (`ps_`/`sess_`/`pf_`) for the session "
            "events, or a `conn_` id for the others (or `patient_id` + `connection_id` for "
            "`records.sync.*`). `data` fields override the built object. The event is "
            "delivered like any other.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            **wh.DOCUMENTED_FIRE_EVENT_INPUT,
                            "anyOf": [
                                {"required": ["object_id"]},
                                {"required": ["patient_id", "connection_id"]},
                            ],
                        }
                    }
                },
            },
            "responses": {"200": _json(wh.EVENT_OCCURRENCE, "The emitted event"), **_ERRORS},
        },
    },
    "/_sim/events/{id}": {
        "get": {
            "operationId": "sim.getEvent",
            "description": "One emitted event occurrence with its payload and every delivery made for it, per endpoint.",
            "summary": "One emitted event (`occ_` id) with its deliveries",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {}}],
            "responses": {"200": _json(wh.EVENT_OCCURRENCE, "Event"), **_ERRORS},
        }
    },
    "/_sim/webhooks/{id}/chaos": {
        "get": {
            "operationId": "sim.getWebhookChaos",
            "description": "The chaos options applied to deliveries to this endpoint (all off by default).",
            "summary": "The chaos options of an endpoint",
            "parameters": [_WH_ID],
            "responses": {"200": _json(_CHAOS_STATE, "Chaos options"), **_ERRORS},
        },
        "put": {
            "operationId": "sim.setWebhookChaos",
            "summary": "Replace the chaos options of an endpoint",
            "description": "Probabilities (0-1, or true) of `duplicate`, `bad_signature`, "
            "`stale_timestamp`, `tampered_body`, `previous_secret`; `reorder` with "
            "`reorder_window_seconds`; `delay_seconds`. Draws are reproducible from the "
            "workspace seed; every touched delivery is marked in the attempt log.",
            "parameters": [_WH_ID],
            "requestBody": {"content": {"application/json": {"schema": wh.WEBHOOK_CHAOS_INPUT}}},
            "responses": {"200": _json(_CHAOS_STATE, "Chaos options"), **_ERRORS},
        },
        "delete": {
            "operationId": "sim.clearWebhookChaos",
            "description": "Turns every chaos option of the endpoint off; later deliveries are sent faithfully.",
            "summary": "Turn every chaos option off",
            "parameters": [_WH_ID],
            "responses": {"200": _json(_CHAOS_STATE, "Chaos options"), **_ERRORS},
        },
    },
    "/_sim/webhooks/{id}/attempts": {
        "get": {
            "operationId": "sim.listWebhookAttempts",
            "summary": "Every HTTP attempt made to an endpoint, newest first",
            "description": "Automatic attempts, redeliveries and chaos duplicates, with status, "
            "error, response body, the signature header sent and the chaos applied.",
            "parameters": [
                _WH_ID,
                *LIST_PARAMS,
                {
                    "name": "event_id",
                    "in": "query",
                    "description": "Only attempts for this event",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {"200": _json(list_of(wh.WEBHOOK_ATTEMPT), "Attempts"), **_ERRORS},
        }
    },
}
