"""Shared steps of the webhook tests: an inbox, an endpoint on it, an event fired."""

from __future__ import annotations

from typing import Any

from simulator.core.timeutil import parse_iso
from simulator.testing import Api


def source_id(api: Api) -> str:
    return api.get("/connections", limit=1).json["data"][0]["id"]


def inbox(api: Api, **body: Any) -> dict[str, Any]:
    resp = api.post("/_sim/inboxes", body)
    assert resp.status_code == 200, resp.json
    return resp.json


def endpoint(api: Api, url: str, events: list[str] | None = None) -> dict[str, Any]:
    resp = api.post("/webhooks", {"url": url, "events": events or ["*"]})
    assert resp.status_code == 200, resp.json
    return resp.json


def inbox_endpoint(api: Api, **inbox_body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    box = inbox(api, **inbox_body)
    return box, endpoint(api, box["url"])


def fire_sync_failed(api: Api, patient_id: str = "p-hooks", **data: Any) -> dict[str, Any]:
    """Fire `records.sync.failed` for a patient (created if needed); returns the occurrence."""
    if api.get(f"/patients/{patient_id}").status_code == 404:
        api.post("/patients", {"patient_id": patient_id})
    body: dict[str, Any] = {
        "type": "records.sync.failed",
        "patient_id": patient_id,
        "connection_id": source_id(api),
    }
    if data:
        body["data"] = data
    resp = api.post("/_sim/events", body)
    assert resp.status_code == 200, resp.json
    return resp.json


def received(api: Api, inbox_id: str) -> list[dict[str, Any]]:
    return api.get(f"/_sim/inboxes/{inbox_id}").json["received"]


def records(api: Api, endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
    resp = api.get(f"/webhooks/{endpoint_id}/events", limit=100, **params)
    assert resp.status_code == 200, resp.json
    return resp.json["data"]


def ms(value: str) -> int:
    return parse_iso(value)
