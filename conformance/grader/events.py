"""The events the grader delivers: the §1.7 envelope around the four §4.1 payloads.

Bodies are compact JSON (no spaces), as Medblocks sends them. Ids are fresh per
grading run, so a receiver that keeps its dedupe store across runs still sees
new events.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

API_VERSION = "2026-04-25"
SESSION_COMPLETED = "patient_session.completed"
TOKEN_REFRESH_FAILED = "connection.token_refresh_failed"
SYNC_COMPLETED = "records.sync.completed"
SYNC_FAILED = "records.sync.failed"
EVENT_TYPES = (SESSION_COMPLETED, TOKEN_REFRESH_FAILED, SYNC_COMPLETED, SYNC_FAILED)
# A plausible future type: receivers are expected to acknowledge and ignore it.
UNKNOWN_TYPE = "patient.merged"
RECORDS_SYNC = "records_sync"

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """`prefix` and 26 random Crockford base-32 characters, like `evt_01J9YR…` (§1.1)."""
    return prefix + "".join(secrets.choice(_CROCKFORD) for _ in range(26))


def iso(unix_seconds: float) -> str:
    """ISO 8601 with milliseconds and `Z` (§1)."""
    moment = datetime.fromtimestamp(unix_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Story:
    """One patient who connected one source in one session: what every payload is about."""

    patient_id: str
    session_id: str
    connection_id: str  # the authorized link, `conn_…`
    source_id: str  # the catalog entry, `fhirsrc_…` (named `connection_id` on the wire)
    hosted_token: str

    @classmethod
    def new(cls) -> Story:
        return cls(
            patient_id=f"grader-patient-{secrets.token_hex(4)}",
            session_id=new_id("ps_"),
            connection_id=new_id("conn_"),
            source_id=new_id("fhirsrc_"),
            hosted_token=secrets.token_hex(16),
        )


def session_item(story: Story, status: str, at: float, failure_code: str | None = None) -> dict:
    """A `connections[]` item of a session; the payload of a token-refresh failure (§1.3)."""
    return {
        "id": story.connection_id,
        "connection_id": story.source_id,
        "status": status,
        "failure_code": failure_code,
        "failure_at": iso(at) if failure_code else None,
        "created_at": iso(at),
    }


def session_completed(story: Story, at: float) -> dict[str, Any]:
    """`patient_session.completed`: the full PatientSession (§1.3), connected and done."""
    started = at - 120
    return {
        "id": story.session_id,
        "resource_type": "patient_session",
        "status": "complete",
        "url": f"https://app.medblocks.com/c/{story.hosted_token}",
        "patient_id": story.patient_id,
        "connection_id": None,
        "recommended_connection_ids": [story.source_id],
        "return_url": "https://app.example/connected",
        "return_button_label": None,
        "connections": [session_item(story, "active", started + 60)],
        "expires_at": iso(started + 1800),
        "metadata": {"graded_by": "connect-conformance"},
        "created_at": iso(started),
    }


def token_refresh_failed(story: Story, at: float) -> dict[str, Any]:
    """`connection.token_refresh_failed`: the session-connection item, now refresh_failed."""
    return session_item(story, "refresh_failed", at, failure_code="invalid_grant")


def sync_completed(story: Story, total: int = 3) -> dict[str, Any]:
    """`records.sync.completed` for the story's (patient, source) pair."""
    return {
        "resource_type": RECORDS_SYNC,
        "patient_id": story.patient_id,
        "connection_id": story.source_id,
        "total": total,
        "errors": [],
        "duration_ms": 1200,
    }


def sync_failed(story: Story) -> dict[str, Any]:
    """`records.sync.failed` for the story's (patient, source) pair."""
    return {
        "resource_type": RECORDS_SYNC,
        "patient_id": story.patient_id,
        "connection_id": story.source_id,
        "error_message": "The portal answered 503 to every resource request",
    }


def payload(story: Story, event_type: str, at: float) -> dict[str, Any]:
    """The `data.object` of `event_type` (an unknown type gets a small object of its own)."""
    if event_type == SESSION_COMPLETED:
        return session_completed(story, at)
    if event_type == TOKEN_REFRESH_FAILED:
        return token_refresh_failed(story, at)
    if event_type == SYNC_COMPLETED:
        return sync_completed(story)
    if event_type == SYNC_FAILED:
        return sync_failed(story)
    return {"resource_type": "patient", "id": story.patient_id, "merged_into": "grader-other"}


def envelope(
    event_type: str, data: dict[str, Any], at: float, event_id: str | None = None
) -> dict[str, Any]:
    """What the receiver gets (§1.7)."""
    return {
        "id": event_id or new_id("evt_"),
        "object": "event",
        "type": event_type,
        "api_version": API_VERSION,
        "created_at": iso(at),
        "data": {"object": data},
    }


def encode(event: dict[str, Any]) -> bytes:
    """The raw body: compact JSON in UTF-8."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
