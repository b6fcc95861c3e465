"""The Connect API (and control-plane) operations a scenario calls by a readable name."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str  # with {param} placeholders filled from `with`
    summary: str

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)


def _ops(*rows: tuple[str, str, str, str]) -> dict[str, Operation]:
    return {name: Operation(name, method, path, summary) for name, method, path, summary in rows}


OPERATIONS: dict[str, Operation] = _ops(
    # Connect API, generation C
    ("create_patient", "POST", "/patients", "Create a patient"),
    ("list_patients", "GET", "/patients", "List patients"),
    ("get_patient", "GET", "/patients/{patient_id}", "Retrieve a patient and its connections"),
    ("update_patient", "PUT", "/patients/{patient_id}", "Update a patient"),
    ("delete_patient", "DELETE", "/patients/{patient_id}", "Delete a patient"),
    ("create_session", "POST", "/patient-sessions", "Create a patient session"),
    ("get_session", "GET", "/patient-sessions/{session_id}", "Retrieve a patient session"),
    (
        "list_patient_sessions",
        "GET",
        "/patients/{patient_id}/patient-sessions",
        "List a patient's sessions",
    ),
    ("list_records", "GET", "/patients/{patient_id}/records", "Read a patient's records"),
    (
        "disconnect",
        "DELETE",
        "/patients/{patient_id}/connections/{connection_id}",
        "Disconnect a connection",
    ),
    ("list_connections", "GET", "/connections", "List the FHIR sources of the catalog"),
    ("get_connection", "GET", "/connections/{source_id}", "Retrieve one FHIR source"),
    ("create_webhook", "POST", "/webhooks", "Register a webhook endpoint"),
    ("list_webhooks", "GET", "/webhooks", "List webhook endpoints"),
    ("get_webhook", "GET", "/webhooks/{webhook_id}", "Retrieve a webhook endpoint"),
    ("update_webhook", "PATCH", "/webhooks/{webhook_id}", "Update a webhook endpoint"),
    ("delete_webhook", "DELETE", "/webhooks/{webhook_id}", "Delete a webhook endpoint"),
    ("rotate_secret", "POST", "/webhooks/{webhook_id}/rotate-secret", "Rotate a secret"),
    ("list_webhook_events", "GET", "/webhooks/{webhook_id}/events", "An endpoint's events"),
    ("redeliver", "POST", "/events/{event_id}/redeliver", "Redeliver an event"),
    ("health", "GET", "/health", "Health check"),
    # generations A and B
    ("create_session_a", "POST", "/sessions", "Create a session (generation A)"),
    ("get_session_a", "GET", "/sessions/{session_id}", "Retrieve a session (generation A)"),
    (
        "list_patient_sessions_a",
        "GET",
        "/patients/{patient_id}/sessions",
        "List a patient's sessions (generation A)",
    ),
    ("create_patient_flow", "POST", "/patient-flows", "Create a patient flow (generation B)"),
    ("get_patient_flow", "GET", "/patient-flows/{session_id}", "Retrieve a patient flow (B)"),
    (
        "list_patient_flows",
        "GET",
        "/patients/{patient_id}/patient-flows",
        "List a patient's flows (generation B)",
    ),
    # control plane reads and actions
    ("sim_get_connection", "GET", "/_sim/connections/{connection_id}", "Tokens, pulls, jobs"),
    ("sim_pull_now", "POST", "/_sim/connections/{connection_id}/pull", "Pull records now"),
    (
        "sim_refresh_failure",
        "POST",
        "/_sim/connections/{connection_id}/refresh-failure",
        "Revoke the refresh grant now",
    ),
    ("sim_list_events", "GET", "/_sim/events", "Every event emitted"),
    ("sim_get_event", "GET", "/_sim/events/{event_id}", "One event"),
    ("sim_get_inbox", "GET", "/_sim/inboxes/{inbox_id}", "An inbox and what it received"),
    (
        "sim_list_attempts",
        "GET",
        "/_sim/webhooks/{webhook_id}/attempts",
        "An endpoint's delivery attempts",
    ),
    ("sim_get_clock", "GET", "/_sim/clock", "The workspace clock"),
    ("sim_list_api_faults", "GET", "/_sim/api-faults", "Pending API faults"),
)

PATIENT_ACTIONS = ("open", "connect", "deny", "done", "abandon")
API_FAULTS = {"api_429": 429, "api_500": 500, "api_502": 502}
