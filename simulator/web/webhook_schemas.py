"""JSON Schemas of the webhook objects and inputs (validation and the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from simulator.core import naming
from simulator.core.validation import STRICT_ONLY
from simulator.domain.webhooks import chaos, endpoints, inboxes
from simulator.web.schemas import METADATA, NULLABLE_TIMESTAMP, TIMESTAMP

_URL = {"type": "string", "format": "uri", "maxLength": 2048, STRICT_ONLY: ["maxLength"]}
ENDPOINT_STATUS = list(endpoints.STATUSES)
_EVENTS = {
    "type": "array",
    "minItems": 1,
    "maxItems": 5,
    "items": {"type": "string", "minLength": 1},
    "description": '`["*"]` or 1-5 of the event type names.',
}

WEBHOOK_ENDPOINT_CREATE_INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    STRICT_ONLY: ["additionalProperties"],  # the provider's schema allows other fields
    "required": ["url", "events"],
    "properties": {
        "url": {
            **_URL,
            "description": "Where events are POSTed: `https://…`, or `http://localhost…`",
        },
        "events": _EVENTS,
        "description": {
            "description": "Your own note about the endpoint",
            "type": "string",
            "maxLength": 500,
        },
        "metadata": {**METADATA, "description": "Your own key-value data, returned as given"},
    },
}

WEBHOOK_ENDPOINT_UPDATE_INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    STRICT_ONLY: ["additionalProperties"],  # the provider's schema allows other fields
    "properties": {
        "url": {**_URL, "description": "A new URL for the endpoint"},
        "events": _EVENTS,
        "description": {
            "description": "Your own note (null clears it)",
            "type": ["string", "null"],
            "maxLength": 500,
        },
        "metadata": {**METADATA, "description": "Replaces the endpoint's metadata"},
        "status": {
            "description": "`enabled` or `disabled` (re-enabling resets the failure count)",
            "enum": ENDPOINT_STATUS,
        },
    },
}

# The documented inputs name the event types a workspace of the default generation (C)
# accepts; a B workspace takes its own names instead. Validation keeps its own message
# for an unknown name.
_DOCUMENTED_EVENTS = {**_EVENTS, "items": {"enum": list(endpoints.subscribable(naming.CANONICAL))}}
# An event's type as shown: the four types under the names of the workspace's generation.
_EVENT_TYPE = {
    "enum": list(naming.ALL_EVENT_NAMES),
    "description": "Generation C names; `patient_flow.completed` in a `naming: B` workspace.",
}
DOCUMENTED_CREATE_INPUT: dict[str, Any] = {
    **WEBHOOK_ENDPOINT_CREATE_INPUT,
    "properties": {**WEBHOOK_ENDPOINT_CREATE_INPUT["properties"], "events": _DOCUMENTED_EVENTS},
}
DOCUMENTED_UPDATE_INPUT: dict[str, Any] = {
    **WEBHOOK_ENDPOINT_UPDATE_INPUT,
    "properties": {**WEBHOOK_ENDPOINT_UPDATE_INPUT["properties"], "events": _DOCUMENTED_EVENTS},
}

WEBHOOK_ENDPOINT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "resource_type",
        "url",
        "events",
        "status",
        "description",
        "metadata",
        "api_version",
        "created_at",
        "updated_at",
    ],
    "properties": {
        "id": {"type": "string"},
        "resource_type": {"const": "webhook_endpoint"},
        "url": {"type": "string"},
        "events": {"type": "array", "items": {"type": "string"}},
        "status": {"enum": ENDPOINT_STATUS},
        "description": {"type": ["string", "null"]},
        "metadata": METADATA,
        "api_version": {"type": "string"},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    },
}

WEBHOOK_ENDPOINT_WITH_SECRET: dict[str, Any] = {
    **WEBHOOK_ENDPOINT,
    "required": [*WEBHOOK_ENDPOINT["required"], "secret"],
    "properties": {
        **WEBHOOK_ENDPOINT["properties"],
        "secret": {"type": "string", "pattern": "^whsec_"},
    },
}

WEBHOOK_ENDPOINT_DELETED: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "resource_type", "deleted"],
    "properties": {
        "id": {"type": "string"},
        "resource_type": {"const": "webhook_endpoint"},
        "deleted": {"const": True},
    },
}

WEBHOOK_EVENT_RECORD: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "resource_type",
        "webhook_endpoint_id",
        "type",
        "data",
        "api_version",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_status_code",
        "last_response_body",
        "last_redelivered_at",
        "created_at",
    ],
    "properties": {
        "id": {"type": "string"},
        "resource_type": {"const": "event"},
        "webhook_endpoint_id": {"type": "string"},
        "type": _EVENT_TYPE,
        "data": {
            "type": "object",
            "required": ["object"],
            "properties": {"object": {"type": "object"}},
        },
        "api_version": {"type": "string"},
        "attempts": {"type": "integer", "minimum": 0},
        "next_attempt_at": NULLABLE_TIMESTAMP,
        "delivered_at": NULLABLE_TIMESTAMP,
        "last_status_code": {"type": ["integer", "null"]},
        "last_response_body": {"type": ["string", "null"], "maxLength": 4096},
        "last_redelivered_at": NULLABLE_TIMESTAMP,
        "created_at": TIMESTAMP,
    },
}

WEBHOOK_EVENT_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "object", "type", "api_version", "created_at", "data"],
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "event"},
        "type": _EVENT_TYPE,
        "api_version": {"type": "string"},
        "created_at": TIMESTAMP,
        "data": {
            "type": "object",
            "required": ["object"],
            "properties": {"object": {"type": "object"}},
        },
    },
}

FIRE_EVENT_INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type"],
    "properties": {
        "type": {
            "type": "string",
            "description": "One of the four event types, under the workspace's generation's "
            "names (" + ", ".join(naming.ALL_EVENT_NAMES) + ").",
        },
        "object_id": {
            "description": "The session (`ps_…`, or the prefix of the workspace's generation) or connection (`conn_…`) the event is about",
            "type": "string",
            "minLength": 1,
        },
        "patient_id": {
            "description": "The patient, to find the connection with `connection_id`",
            "type": "string",
            "minLength": 1,
        },
        "connection_id": {
            "description": "The `conn_` connection the event is about",
            "type": "string",
            "minLength": 1,
        },
        "data": {"type": "object", "description": "Fields merged into the built object."},
    },
}

# As documented: the names of a default (generation C) workspace.
DOCUMENTED_FIRE_EVENT_INPUT: dict[str, Any] = {
    **FIRE_EVENT_INPUT,
    "properties": {
        **FIRE_EVENT_INPUT["properties"],
        "type": {**FIRE_EVENT_INPUT["properties"]["type"], "enum": list(naming.EVENT_TYPES)},
    },
}

EVENT_OCCURRENCE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "resource_type", "type", "data", "created_at", "deliveries"],
    "properties": {
        "id": {"type": "string"},
        "resource_type": {"const": "event_occurrence"},
        "type": _EVENT_TYPE,
        "data": {"type": "object", "required": ["object"]},
        "created_at": TIMESTAMP,
        "deliveries": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "webhook_endpoint_id"],
                "properties": {
                    "id": {"type": "string"},
                    "webhook_endpoint_id": {"type": "string"},
                },
            },
        },
    },
}

WEBHOOK_CHAOS_INPUT = chaos.CHAOS_SCHEMA

WEBHOOK_ATTEMPT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "resource_type",
        "event_id",
        "webhook_endpoint_id",
        "attempt",
        "trigger",
        "url",
        "attempted_at",
        "duration_ms",
        "status_code",
        "error",
        "response_body",
        "signature_header",
        "chaos",
        "succeeded",
    ],
    "properties": {
        "resource_type": {"const": "webhook_attempt"},
        "event_id": {"type": "string"},
        "webhook_endpoint_id": {"type": "string"},
        "attempt": {"type": ["integer", "null"]},
        "trigger": {"enum": ["automatic", "redelivery", "duplicate"]},
        "url": {"type": "string"},
        "attempted_at": TIMESTAMP,
        "duration_ms": {"type": "integer"},
        "status_code": {"type": ["integer", "null"]},
        "error": {"type": ["string", "null"]},
        "response_body": {"type": ["string", "null"]},
        "signature_header": {"type": "string"},
        "chaos": {"type": "array", "items": {"type": "string"}},
        "succeeded": {"type": "boolean"},
    },
}

INBOX_INPUT = inboxes.INBOX_INPUT

INBOX_REQUEST: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "resource_type",
        "received_at",
        "method",
        "headers",
        "body",
        "event_id",
        "event_type",
        "signature",
        "response_status",
        "response_delay_ms",
    ],
    "properties": {
        "resource_type": {"const": "inbox_request"},
        "received_at": TIMESTAMP,
        "method": {"type": "string"},
        "headers": {"type": "object"},
        "body": {"type": "string"},
        "event_id": {"type": ["string", "null"]},
        "event_type": {"type": ["string", "null"]},
        "signature": {
            "type": "object",
            "required": ["valid", "reason"],
            "properties": {
                "valid": {"type": ["boolean", "null"]},
                "reason": {"type": ["string", "null"]},
            },
        },
        "response_status": {"type": "integer"},
        "response_delay_ms": {"type": "integer"},
    },
}

INBOX: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "resource_type",
        "url",
        "status",
        "delay_ms",
        "sequence",
        "sequence_position",
        "has_secret",
        "tolerance",
        "received_count",
        "created_at",
    ],
    "properties": {
        "id": {"type": "string"},
        "resource_type": {"const": "inbox"},
        "url": {"type": "string"},
        "status": {"type": "integer"},
        "delay_ms": {"type": "integer"},
        "sequence": {"type": "array", "items": {"type": "object"}},
        "sequence_position": {"type": "integer"},
        "has_secret": {"type": "boolean"},
        "tolerance": {"type": "integer"},
        "received_count": {"type": "integer"},
        "created_at": TIMESTAMP,
        "received": {"type": "array", "items": INBOX_REQUEST},
    },
}
