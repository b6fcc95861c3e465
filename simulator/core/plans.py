"""What a workspace's plan allows: its active-patient quota and its cap of active API keys.

Two columns of the `workspaces` row, so a reset keeps them:

- `active_patient_limit`: how many patients the workspace may hold at once (none
  when null, the default). Creating one more is 402 `billing_error`/`quota_exceeded`,
  as on a free tier; deleting a patient frees its place.
- `api_key_limit`: how many API keys may be active at once, the workspace's own key
  included (default 10). Minting one more is 429 `api_key_limit_exceeded`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.core.store import Column, Store

COLUMNS: tuple[Column, ...] = (
    ("workspaces", "active_patient_limit", "INTEGER"),
    ("workspaces", "api_key_limit", "INTEGER NOT NULL DEFAULT 10"),
)
DEFAULT_API_KEY_LIMIT = 10
MAX_LIMIT = 1_000_000

INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "active_patient_limit": {
            "description": "Active patients allowed (null: no limit); a new one past it is 402 `quota_exceeded`",
            "type": ["integer", "null"],
            "minimum": 0,
            "maximum": MAX_LIMIT,
        },
        "api_key_limit": {
            "description": "API keys the workspace may hold (1–1000)",
            "type": "integer",
            "minimum": 1,
            "maximum": 1000,
        },
    },
}

PLAN: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["active_patient_limit", "api_key_limit"],
    "properties": {
        "active_patient_limit": {"type": ["integer", "null"]},
        "api_key_limit": {"type": "integer"},
    },
}


@dataclass(frozen=True, slots=True)
class Plan:
    active_patient_limit: int | None
    api_key_limit: int


def get(store: Store, ws_id: str) -> Plan:
    row = store.one(
        "SELECT active_patient_limit, api_key_limit FROM workspaces WHERE id = ?", (ws_id,)
    )
    if row is None:
        raise KeyError(ws_id)
    return Plan(row["active_patient_limit"], row["api_key_limit"])


def render(plan: Plan) -> dict[str, Any]:
    return {"active_patient_limit": plan.active_patient_limit, "api_key_limit": plan.api_key_limit}


def update(store: Store, ws_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Change the fields given; the others stay."""
    with store.tx():
        current = get(store, ws_id)
        patients = body.get("active_patient_limit", current.active_patient_limit)
        keys = body.get("api_key_limit", current.api_key_limit)
        store.execute(
            "UPDATE workspaces SET active_patient_limit = ?, api_key_limit = ? WHERE id = ?",
            (patients, keys, ws_id),
        )
        return render(get(store, ws_id))
