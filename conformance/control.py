"""The simulator's `/_sim` control plane, as the suite uses it (HTTP only).

A check that needs the clock, the headless patient, inboxes or faults asks its
context for `control`; against a target without `/_sim` that raises `Skipped`
with the reason, so the same suite runs against a real sandbox.
"""

from __future__ import annotations

from typing import Any

from conformance.http import Client


class Control:
    """One workspace's control plane: clock, headless patient, inboxes, faults."""

    def __init__(self, client: Client) -> None:
        self.client = client

    # -- clock ---------------------------------------------------------------------------

    def now(self) -> str:
        return self.client.expect("GET", "/_sim/clock", 200)["now"]

    def advance(self, seconds: float) -> dict[str, Any]:
        body = self.client.expect("POST", "/_sim/clock/advance", 200, {"seconds": seconds})
        self.client.virtual_time = body.get("now")
        return body

    def set(self, iso_time: str) -> dict[str, Any]:
        body = self.client.expect("POST", "/_sim/clock/set", 200, {"now": iso_time})
        self.client.virtual_time = body.get("now")
        return body

    def run_until_idle(self) -> dict[str, Any]:
        return self.client.expect("POST", "/_sim/clock/run-until-idle", 200, {})

    # -- the headless patient ------------------------------------------------------------

    def connect(
        self,
        session_id: str,
        *,
        username: str = "alice",
        source: str | None = None,
        consent: str = "approve",
        password: str = "password",
        **extra: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"username": username, "consent": consent, "password": password}
        if source is not None:
            body["source"] = source
        body.update(extra)
        return self.client.expect("POST", f"/_sim/patient-sessions/{session_id}/connect", 200, body)

    def done(self, session_id: str) -> dict[str, Any]:
        return self.client.expect("POST", f"/_sim/patient-sessions/{session_id}/done", 200, {})

    def abandon(self, session_id: str, source: str | None = None) -> dict[str, Any]:
        body = {} if source is None else {"source": source}
        return self.client.expect("POST", f"/_sim/patient-sessions/{session_id}/abandon", 200, body)

    # -- connections, inboxes, faults ------------------------------------------------------

    def refresh_failure(self, connection_id: str, **body: Any) -> dict[str, Any]:
        return self.client.expect(
            "POST", f"/_sim/connections/{connection_id}/refresh-failure", 200, body
        )

    def inbox(self, **body: Any) -> dict[str, Any]:
        return self.client.expect("POST", "/_sim/inboxes", 200, body)

    def inbox_requests(self, inbox_id: str, **query: Any) -> list[dict[str, Any]]:
        got = self.client.expect(
            "GET", f"/_sim/inboxes/{inbox_id}/requests", 200, query=query or None
        )
        return got["data"]

    def attempts(self, endpoint_id: str) -> list[dict[str, Any]]:
        return self.client.expect("GET", f"/_sim/webhooks/{endpoint_id}/attempts", 200)["data"]

    def portal_fault(self, portal: str, **body: Any) -> dict[str, Any]:
        return self.client.expect("POST", f"/_sim/portals/{portal}/faults", 200, body)

    def fault_catalog(self) -> Any:
        return self.client.expect("GET", "/_sim/faults/catalog", 200, auth=False)
