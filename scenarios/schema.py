"""The JSON Schema of a scenario file (printed by `connect-sim scenario schema`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scenarios.durations import PATTERN as DURATION_PATTERN
from scenarios.operations import OPERATIONS, PATIENT_ACTIONS

SCHEMA_FILE = Path(__file__).with_name("scenario.schema.json")
SCHEMA_ID = "https://medblocks.com/connect-sim/scenario.schema.json"
STEP_KINDS = (
    "app",
    "request",
    "patient",
    "clock",
    "fault",
    "inbox",
    "webhook",
    "expect",
    "eventually",
    "never",
)
MATCHERS = (
    "equals",
    "not",
    "regex",
    "exists",
    "absent",
    "one_of",
    "length",
    "gte",
    "lte",
    "contains",
)
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"

_DURATION = {
    "description": "A duration: 500ms, 90s, 90m, 2h, 1d, or combinations such as 1d2h",
    "oneOf": [
        {"type": "string", "pattern": DURATION_PATTERN},
        {"type": "number", "minimum": 0},
    ],
}
_NAME = {"type": "string", "pattern": NAME_PATTERN}
_LABEL = {"type": "string", "description": "What the step does, shown in reports"}
_INSTANT = {"type": "string", "description": "An ISO 8601 instant, e.g. 2027-01-01T00:00:00Z"}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["method", "path"],
    "properties": {
        "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
        "path": {"type": "string"},
        "json": {},
        "query": {"type": "object"},
        "headers": _STRING_MAP,
    },
}

_WEBHOOKS_EXPECT = {
    "type": "object",
    "additionalProperties": False,
    "description": "Webhook arrivals in an inbox",
    "properties": {
        "type": {
            "description": "Only arrivals of this event type (or these types)",
            "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        },
        "count": {"description": "How many arrivals (a number or a matcher)"},
        "order": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The event types in arrival order",
        },
        "signature_valid": {
            "type": "boolean",
            "description": "Every arrival's signature is (not) valid",
        },
        "attempt": {"description": "The last arrival is this delivery of its event (1 = first)"},
        "last": {"type": "object", "description": "Matchers on the last arrival's fields"},
    },
}

_EXPECT = {
    "type": "object",
    "additionalProperties": False,
    "description": "What must hold: of a fresh call (app/request), a saved response, the "
    "previous step's response (the default), or an inbox",
    "properties": {
        "app": {"enum": sorted(OPERATIONS)},
        "with": {"type": "object"},
        "request": _REQUEST,
        "response": _NAME,
        "inbox": _NAME,
        "status": {"description": "The HTTP status (a number or a matcher)"},
        "json": {
            "type": "object",
            "description": "Paths into the JSON body (a.b[0].c) and their matchers",
        },
        "headers": {"type": "object", "description": "Response headers and their matchers"},
        "webhooks": _WEBHOOKS_EXPECT,
    },
}


def _step(kind: str, body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [kind],
        "properties": {kind: body, "name": _LABEL, **extra},
    }


_CALL_EXTRAS = {"save": _NAME, "expect": {"$ref": "#/$defs/expect"}}

STEP_DEFS: dict[str, dict[str, Any]] = {
    "app": _step(
        "app",
        {"enum": sorted(OPERATIONS), "description": "A Connect API operation by name"},
        with_={"type": "object"},
        **_CALL_EXTRAS,
    ),
    "request": _step("request", _REQUEST, **_CALL_EXTRAS),
    "patient": _step(
        "patient",
        {"enum": list(PATIENT_ACTIONS), "description": "What the patient does"},
        session={"type": "string", "description": "The session id (e.g. ${s.id})"},
        source={"type": "string", "description": "Portal slug, source name or fhirsrc_ id"},
        username={"type": "string", "description": "Persona and faults: alice+deny"},
        password={"type": "string"},
        consent={"enum": ["approve", "deny"]},
        linger={
            **_DURATION,
            "description": "connect/deny: virtual time the patient waits on the portal's login"
            " page before signing in (the clock advances meanwhile), e.g. 10m",
        },
        **_CALL_EXTRAS,
    ),
    "clock": _step(
        "clock",
        {
            "oneOf": [
                {"const": "run_until_idle"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "minProperties": 1,
                    "maxProperties": 1,
                    "properties": {
                        "advance": _DURATION,
                        "set": _INSTANT,
                        "run_until_idle": {
                            "oneOf": [
                                {"type": "boolean"},
                                {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {"max": _DURATION},
                                },
                            ]
                        },
                    },
                },
            ]
        },
        save=_NAME,
    ),
    "fault": _step(
        "fault",
        {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "inject": {
                    "type": "string",
                    "description": "A catalog fault (GET /_sim/faults/catalog), api_429, "
                    "api_500, api_502 or refresh_failure",
                },
                "clear": {"type": "string", "description": "api, a portal slug, or all"},
                "portal": {"type": "string"},
                "connection": {"type": "string"},
                "arg": {"type": ["string", "number"]},
                "times": {"type": "integer", "minimum": 1},
                "probability": {"type": "number", "minimum": 0, "maximum": 1},
                "at": {"type": ["string", "number"]},
                "retry_after": {"type": "integer", "minimum": 0},
                "method": {"type": "string"},
                "path_prefix": {"type": "string"},
            },
        },
        save=_NAME,
    ),
    "inbox": _step(
        "inbox",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                "name": _NAME,
                "status": {"type": "integer", "minimum": 100, "maximum": 599},
                "sequence": {"type": "array", "items": {"type": ["integer", "object"]}},
                "delay": _DURATION,
                "secret": {"type": "string"},
                "register": {"type": "boolean"},
                "events": {"type": "array", "items": {"type": "string"}},
            },
        },
    ),
    "webhook": _step(
        "webhook",
        {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "fire": {"type": "string", "description": "An event type to fire"},
                "object_id": {"type": "string"},
                "patient_id": {"type": "string"},
                "connection_id": {"type": "string"},
                "data": {"type": "object"},
                "chaos": {"type": "object", "description": "PUT /_sim/webhooks/{id}/chaos"},
                "endpoint": {"type": "string", "description": "The endpoint id for chaos"},
            },
        },
        save=_NAME,
    ),
    "expect": _step("expect", {"$ref": "#/$defs/expect"}),
    "eventually": _step(
        "eventually",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["within", "expect"],
            "properties": {"within": _DURATION, "expect": {"$ref": "#/$defs/expect"}},
        },
    ),
    "never": _step(
        "never",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["during", "expect"],
            "properties": {"during": _DURATION, "expect": {"$ref": "#/$defs/expect"}},
        },
    ),
}
# `with` is a Python keyword
STEP_DEFS["app"]["properties"]["with"] = STEP_DEFS["app"]["properties"].pop("with_")


def _kind_test(kind: str) -> dict[str, Any]:
    """`expect` beside a call step is that call's check, not a step kind of its own."""
    if kind != "expect":
        return {"required": [kind]}
    others = [{"required": [k]} for k in STEP_KINDS if k != "expect"]
    return {"required": ["expect"], "not": {"anyOf": others}}


def build_schema() -> dict[str, Any]:
    """The whole JSON Schema (draft 2020-12)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "connect-sim scenario",
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "steps"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "seed": {"type": "integer", "minimum": 0},
            "workspace": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "clock": {"enum": ["manual", "real"]},
                    "start": _INSTANT,
                    "naming": {"enum": ["C", "B", "A"]},
                    "strict": {"type": "boolean"},
                },
            },
            "steps": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/step"}},
        },
        "$defs": {
            "expect": _EXPECT,
            "step": {
                "type": "object",
                "allOf": [
                    {"if": _kind_test(kind), "then": {"$ref": f"#/$defs/{kind}_step"}}
                    for kind in STEP_KINDS
                ],
            },
            **{f"{kind}_step": STEP_DEFS[kind] for kind in STEP_KINDS},
        },
    }


def schema_text() -> str:
    return json.dumps(build_schema(), indent=2, sort_keys=True) + "\n"


def shipped_schema() -> dict[str, Any]:
    """The schema file shipped in the package (kept equal to `build_schema()` by a test)."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
