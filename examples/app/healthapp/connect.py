"""A small client of the Medblocks Connect API (the calls this app makes), over `requests`."""

from __future__ import annotations

from typing import Any

import requests

TIMEOUT_S = 10


class ConnectError(Exception):
    """A non-2xx answer, with the error envelope's `code` and `request_id`."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        self.status = status
        self.code = error.get("code", "unknown")
        self.request_id = error.get("request_id")
        super().__init__(f"{status} {self.code}: {error.get('message', '')}")


class ConnectClient:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {api_key}"

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        resp = self.http.request(
            method, self.base_url + path, json=body, params=params or None, timeout=TIMEOUT_S
        )
        try:
            payload = resp.json()
        except ValueError:
            payload = {}
        if not resp.ok:
            raise ConnectError(resp.status_code, payload)
        return payload

    def create_patient(self, patient_id: str, name: str | None, email: str | None) -> Any:
        body: dict[str, Any] = {"patient_id": patient_id}
        if name:
            body["name"] = name
        if email:
            body["email"] = email
        return self._call("POST", "/patients", body)

    def patient(self, patient_id: str) -> Any:
        """The patient with every connection, most recent first (failed attempts too)."""
        return self._call("GET", f"/patients/{patient_id}")

    def records(self, patient_id: str, count: int = 100) -> Any:
        return self._call("GET", f"/patients/{patient_id}/records", count=count)

    def sources(self) -> list[dict[str, Any]]:
        return self._call("GET", "/connections", limit=100)["data"]

    def create_session(
        self, patient_id: str, return_url: str, source_id: str | None = None
    ) -> dict[str, Any]:
        """Direct mode when `source_id` is given (straight to that portal), else Picker."""
        body: dict[str, Any] = {
            "patient_id": patient_id,
            "return_url": return_url,
            "return_button_label": "HealthApp",
        }
        if source_id:
            body["connection_id"] = source_id
        return self._call("POST", "/patient-sessions", body)

    def session(self, session_id: str) -> dict[str, Any]:
        return self._call("GET", f"/patient-sessions/{session_id}")

    def create_webhook(self, url: str) -> dict[str, Any]:
        """Register `url` for every event; the answer's `secret` is shown only this once."""
        return self._call("POST", "/webhooks", {"url": url, "events": ["*"]})
