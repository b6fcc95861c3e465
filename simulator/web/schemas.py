"""JSON Schemas of the Connect API objects and inputs.

One source for request validation and for the OpenAPI document; response
schemas are checked against real responses by the tests.
"""

from __future__ import annotations

from typing import Any

from simulator.core import naming
from simulator.core.validation import STRICT_ONLY
from simulator.domain import connections, operations, patients, sessions

# What the server checks of a patient id, said in the schema (and in words for its errors).
PATIENT_ID: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": r"^[^\s\x00-\x1f]([^\x00-\x1f]*[^\s\x00-\x1f])?$",
    "x-message": "{name} must not have leading or trailing spaces or control characters",
    "not": {
        "pattern": "^(" + "|".join(patients.RESERVED_PREFIXES) + ")",
        "x-message": "{name} must not start with a reserved prefix ("
        + ", ".join(patients.RESERVED_PREFIXES)
        + ")",
    },
}

TIMESTAMP = {"type": "string", "format": "date-time"}
NULLABLE_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
METADATA = {"type": "object", "additionalProperties": True}
CONNECTION_STATUS = list(connections.STATUSES)
SESSION_STATUS = list(sessions.STATUSES)

PATIENT_CREATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    STRICT_ONLY: ["additionalProperties"],  # the provider's schema allows other fields
    "required": ["patient_id"],
    "properties": {
        "patient_id": {
            **PATIENT_ID,
            "description": "Your app's own id for the patient (1–200 characters, no reserved prefix)",
        },
        "email": {
            "description": "The patient's email address",
            "type": "string",
            "format": "email",
        },
        "name": {
            "description": "The patient's name, shown on the hosted pages",
            "type": "string",
            "maxLength": 200,
        },
        "metadata": {**METADATA, "description": "Your own key-value data, returned as given"},
    },
}

PATIENT_REPLACE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    STRICT_ONLY: ["additionalProperties"],  # the provider's schema allows other fields
    "required": ["patient_id"],
    "properties": {
        "patient_id": {**PATIENT_ID, "description": "Must equal the patient id in the URL"},
        "email": {
            "description": "The patient's email address (null clears it)",
            "type": ["string", "null"],
            "format": "email",
        },
        "name": {
            "description": "The patient's name (null clears it)",
            "type": ["string", "null"],
            "maxLength": 200,
        },
        "metadata": {
            **METADATA,
            "description": "Your own key-value data; replaces what was stored",
        },
    },
}

PATIENT_SESSION_INIT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["patient_id", "return_url"],
    "properties": {
        "patient_id": {
            **PATIENT_ID,
            "description": "Your app's id for the patient; the patient is created if it does not exist",
        },
        "patient_email": {
            "description": "Stored (or updated) on the patient",
            "type": "string",
            "format": "email",
        },
        "patient_name": {
            "description": "Stored (or updated) on the patient and shown on the hosted pages",
            "type": "string",
            "maxLength": 200,
        },
        "connection_id": {
            "description": "A `fhirsrc_` source id (or its `fhir_base_url`) from GET /connections: Direct mode, the link goes straight to that portal. Not a `conn_` id",
            "type": "string",
            "minLength": 1,
        },
        "recommended_connection_ids": {
            "description": "`fhirsrc_` source ids shown first on the hosted picker, in this order (Picker mode)",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "maxItems": 100,
            STRICT_ONLY: ["maxItems"],
        },
        "return_url": {
            "description": "Where the patient is sent at the end, with `patient_id` and `patient_session_id` added (and `success` in Direct mode)",
            "type": "string",
            "format": "uri",
            "maxLength": 2048,
            STRICT_ONLY: ["maxLength"],
        },
        "return_button_label": {
            "description": 'Text of the completion screen\'s return button: a name ("Acme Health": "Done — return to Acme Health") or a phrase of its own ("Back to Acme")',
            "type": "string",
            "minLength": 1,
            "maxLength": 60,
        },
        "expires_in": {
            "description": "Seconds until the link stops working (60–86400, default 1800)",
            "type": "integer",
            "minimum": 60,
            "maximum": 86400,
        },
        "metadata": {
            **METADATA,
            "description": "Your own key-value data, echoed on the session and in its completion webhook",
        },
    },
    "not": {
        "required": ["connection_id", "recommended_connection_ids"],
        "x-param": "connection_id",
        "x-message": "'connection_id' (Direct mode) and 'recommended_connection_ids'"
        " (Picker mode) cannot be used together",
    },
}

PATIENT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "resource_type", "email", "name", "metadata", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "resource_type": {"const": "patient"},
        "email": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
        "metadata": METADATA,
        "created_at": TIMESTAMP,
    },
}

PATIENT_CONNECTION: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "resource_type",
        "patient_session_id",
        "connection_id",
        "status",
        "scopes",
        "failure_code",
        "failure_at",
        "created_at",
        "updated_at",
    ],
    "properties": {
        "id": {"type": ["string", "null"]},
        "resource_type": {"const": "connection"},
        "patient_session_id": {"type": ["string", "null"]},
        "connection_id": {"type": "string"},
        "status": {"enum": CONNECTION_STATUS},
        "scopes": {"type": "array", "items": {"type": "string"}},
        "failure_code": {"type": ["string", "null"]},
        "failure_at": NULLABLE_TIMESTAMP,
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    },
}

PATIENT_DETAIL: dict[str, Any] = {
    **PATIENT,
    "required": [*PATIENT["required"], "connections"],
    "properties": {
        **PATIENT["properties"],
        "connections": {"type": "array", "items": PATIENT_CONNECTION},
    },
}

PATIENT_DELETED: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "resource_type", "deleted"],
    "properties": {
        "id": {"type": "string"},
        "resource_type": {"const": "patient"},
        "deleted": {"const": True},
    },
}

SESSION_CONNECTION: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "connection_id", "status", "failure_code", "failure_at", "created_at"],
    "properties": {
        "id": {"type": ["string", "null"]},
        "connection_id": {"type": "string"},
        "status": {"enum": CONNECTION_STATUS},
        "failure_code": {"type": ["string", "null"]},
        "failure_at": NULLABLE_TIMESTAMP,
        "created_at": TIMESTAMP,
    },
}

PATIENT_SESSION: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "resource_type",
        "status",
        "url",
        "patient_id",
        "connection_id",
        "recommended_connection_ids",
        "return_url",
        "return_button_label",
        "connections",
        "expires_at",
        "metadata",
        "created_at",
    ],
    "properties": {
        "id": {"type": "string"},
        "resource_type": {"enum": ["patient_session", "session", "patient_flow"]},
        "status": {"enum": SESSION_STATUS},
        "url": {"type": "string", "format": "uri"},
        "patient_id": {"type": "string"},
        "connection_id": {"type": ["string", "null"]},
        "recommended_connection_ids": {"type": ["array", "null"], "items": {"type": "string"}},
        "return_url": {"type": "string"},
        "return_button_label": {"type": ["string", "null"]},
        "connections": {"type": "array", "items": SESSION_CONNECTION},
        "expires_at": TIMESTAMP,
        "metadata": METADATA,
        "created_at": TIMESTAMP,
    },
}

FHIR_SOURCE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "resource_type", "name", "type", "fhir_base_url", "logo_url", "portal_url"],
    "properties": {
        "id": {"type": "string"},
        "resource_type": {"const": "fhir_source"},
        "name": {"type": "string"},
        "type": {"type": ["string", "null"]},
        "fhir_base_url": {"type": "string"},
        "logo_url": {"type": ["string", "null"]},
        "portal_url": {"type": ["string", "null"]},
    },
}

ERROR: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type", "code", "message", "param", "doc_url", "request_id"],
            "properties": {
                "type": {"type": "string"},
                "code": {"type": "string"},
                "message": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "doc_url": {"type": "string"},
                "request_id": {"type": "string"},
            },
        }
    },
}


def list_of(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["resource_type", "data", "has_more", "next_cursor"],
        "properties": {
            "resource_type": {"const": "list"},
            "data": {"type": "array", "items": item},
            "has_more": {"type": "boolean"},
            "next_cursor": {"type": ["string", "null"]},
        },
    }


HEALTH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["ok", "server_time"],
    "properties": {"ok": {"const": True}, "server_time": TIMESTAMP},
}

# -- control plane ------------------------------------------------------------

CLOCK_STATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["mode", "now"],
    "properties": {"mode": {"enum": ["real", "manual"]}, "now": TIMESTAMP},
}

CLOCK_RESULT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["now", "jobs_run", "mode"],
    "properties": {
        "now": TIMESTAMP,
        "jobs_run": {"type": "integer", "minimum": 0},
        "mode": {"enum": ["real", "manual"]},
        "cancelled": {
            "const": True,
            "description": "Present when POST /_sim/clock/cancel stopped the move early",
        },
    },
}

APP_NAME: dict[str, Any] = {
    "type": ["string", "null"],
    "minLength": 1,
    "maxLength": 60,
    "description": "Simulator setting: the app name the hosted pages show the patient "
    '("HealthApp uses Medblocks Connect…"); null shows the host of the session\'s return_url',
}

WORKSPACE_CREATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "seed": {
            "description": "Fixes ids and synthetic data; random when omitted",
            "type": "integer",
            "minimum": 0,
            "maximum": 2**63 - 1,
        },
        "clock": {
            "description": "`manual`: time moves only when you advance it; `real`: wall time",
            "enum": ["manual", "real"],
        },
        "name": {
            "description": "A name for your own reference",
            "type": "string",
            "maxLength": 200,
        },
        "app_name": APP_NAME,
        "naming": {
            "enum": list(naming.NAMES),
            "description": "The API generation the workspace speaks: `C` (default, the "
            "provider's document), `B` (`/patient-flows`, `pf_`) or `A` (`/sessions`, `sess_`).",
        },
        "strict": {
            "type": "boolean",
            "description": "Reject unknown body fields, empty query values and values "
            "past the simulator's own limits (default false: the provider's schemas).",
        },
    },
}

WORKSPACE_UPDATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["app_name"],
    "properties": {"app_name": APP_NAME},
}

WORKSPACE_INFO: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "name", "seed", "clock", "default", "naming", "strict"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": ["string", "null"]},
        "seed": {"type": "integer"},
        "clock": CLOCK_STATE,
        "default": {"type": "boolean", "description": "The server's default workspace"},
        "naming": {"enum": list(naming.NAMES), "description": "The API generation it speaks"},
        "strict": {"type": "boolean", "description": "Whether the strict checks are on"},
        "app_name": APP_NAME,
    },
}

WORKSPACE: dict[str, Any] = {
    **WORKSPACE_INFO,
    "required": [*WORKSPACE_INFO["required"], "api_key"],
    "properties": {
        **WORKSPACE_INFO["properties"],
        "api_key": {
            "type": "string",
            "pattern": "^mb_sk_sbx_",
            "description": "Shown only when the workspace is created",
        },
    },
}

# One call moves a workspace's clock at most this far (400 days, past the longest grant
# a portal makes: 13 months). It holds the workspace while its jobs run, so its work
# must be bounded. Longer: call again.
MAX_CLOCK_MOVE_S = 400 * 86400
CLOCK_SECONDS: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": MAX_CLOCK_MOVE_S}

CLOCK_WAIT: dict[str, Any] = {
    "type": "boolean",
    "description": "false: answer 202 at once with a clock operation to poll"
    " (GET /_sim/operations/{id}) or cancel; true (the default): answer when the move is done",
}

CLOCK_ADVANCE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["seconds"],
    "properties": {
        "seconds": {
            **CLOCK_SECONDS,
            "description": "How far to move the clock (at most 400 days per call)",
        },
        "wait": CLOCK_WAIT,
    },
}

CLOCK_SET: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["now"],
    "properties": {
        "now": {
            "description": "The new virtual time (ISO 8601); jobs due before it run in order",
            "type": "string",
            "format": "date-time",
        },
        "wait": CLOCK_WAIT,
    },
}

CLOCK_RUN_UNTIL_IDLE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "max_seconds": {
            **CLOCK_SECONDS,
            "description": "Stop after moving this far even if work remains",
        },
        "wait": CLOCK_WAIT,
    },
}

CLOCK_OPERATION: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "resource_type",
        "kind",
        "status",
        "jobs_run",
        "from",
        "target",
        "virtual_time",
        "progress",
        "failure_code",
        "failure_message",
        "started_at",
        "finished_at",
    ],
    "properties": {
        "id": {"type": "string", "pattern": "^op_"},
        "resource_type": {"const": "clock_operation"},
        "kind": {"enum": list(operations.KINDS)},
        "status": {"enum": list(operations.STATUSES)},
        "jobs_run": {"type": "integer", "minimum": 0},
        "from": {**TIMESTAMP, "description": "Virtual time when the move began"},
        "target": {
            **TIMESTAMP,
            "description": "Virtual time the move goes to (run_until_idle: its limit)",
        },
        "virtual_time": {**TIMESTAMP, "description": "Virtual time reached so far"},
        "progress": {"type": "number", "minimum": 0, "maximum": 1},
        "failure_code": {"enum": [*operations.FAILURE_CODES, None]},
        "failure_message": {"type": ["string", "null"]},
        "started_at": {**TIMESTAMP, "description": "Wall-clock time the operation started"},
        "finished_at": {**NULLABLE_TIMESTAMP, "description": "Wall-clock time it ended"},
    },
}

CLOCK_MODE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["mode"],
    "properties": {
        "mode": {
            "description": "`manual` (time moves on request) or `real` (time follows the wall clock)",
            "enum": ["real", "manual"],
        }
    },
}
