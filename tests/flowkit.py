"""Shared steps for tests that walk the patient flow through the headless patient."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from simulator.testing import Api, Sim

EPIC = "fhirsrc_01JGFJJZ00W9QAJQZQHWWQADWX"
CERNER = "fhirsrc_01JGFJJZ00YVKTWEWBRM5JHM71"
ATHENA = "fhirsrc_01JGFJJZ008CZ8AYJCKTM2F59G"
HARBOR = "fhirsrc_01JGFJJZ00C0F5H568M3F23ZDS"
BLUEBUTTON = "fhirsrc_01JGFJJZ00XCZKHVK1BY75Q3HZ"
RETURN_URL = "https://app.example/connected"


def new_session(api: Api, patient_id: str = "p1", **fields: Any) -> dict[str, Any]:
    body = {"patient_id": patient_id, "return_url": RETURN_URL, **fields}
    resp = api.post("/patient-sessions", body)
    assert resp.status_code == 200, resp.json
    return resp.json


def connect(
    api: Api,
    session_id: str,
    username: str = "alice",
    source: str | None = EPIC,
    consent: str = "approve",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"username": username, "consent": consent, **extra}
    if source is not None:
        body["source"] = source
    resp = api.post(f"/_sim/patient-sessions/{session_id}/connect", body)
    assert resp.status_code == 200, resp.json
    return resp.json


def done(api: Api, session_id: str) -> dict[str, Any]:
    resp = api.post(f"/_sim/patient-sessions/{session_id}/done")
    assert resp.status_code == 200, resp.json
    return resp.json


def active_connection(
    api: Api, username: str = "alice", source: str = EPIC, patient_id: str = "p1"
) -> dict[str, Any]:
    """A Picker session connected to `source` as `username`; answers the patient's entry."""
    session = new_session(api, patient_id)
    result = connect(api, session["id"], username, source)
    assert result["connection"]["status"] == "active", result
    done(api, session["id"])
    patient = api.get(f"/patients/{patient_id}").json
    return next(c for c in patient["connections"] if c["id"] == result["connection"]["id"])


def events_of(api: Api, event_type: str | None = None) -> list[dict[str, Any]]:
    """Events emitted in the workspace, oldest first."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["starting_after"] = cursor
        page = api.get("/_sim/events", **params).json
        found.extend(page["data"])
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    found.reverse()
    return [e for e in found if event_type is None or e["type"] == event_type]


def patient_records(api: Api, patient_id: str = "p1") -> list[dict[str, Any]]:
    """Every record of a patient, paging `GET /patients/{id}/records` to the end."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"count": 100, **({"starting_after": cursor} if cursor else {})}
        page = api.get(f"/patients/{patient_id}/records", **query).json
        items.extend(page["data"])
        if not page["has_more"]:
            return items
        cursor = page["next_cursor"]


def spy_on_portal_calls(sim: Sim, wanted: Callable[[str], bool]) -> list[str]:
    """A list that fills, in order, with the URL of every request the simulator sends to
    its own portals whose path `wanted` accepts."""
    adapter = sim.runtime.http.get_adapter(sim.runtime.base_url + "/")
    sent: list[str] = []
    call = adapter._call

    def spy(request: Any) -> Any:
        if wanted(urlsplit(request.url).path):
            sent.append(request.url)
        return call(request)

    adapter._call = spy
    return sent


@contextmanager
def statements(sim: Sim) -> Iterator[list[str]]:
    """The SQL the store runs while the block runs."""
    ran: list[str] = []
    sim.runtime.store.trace(ran.append)
    try:
        yield ran
    finally:
        sim.runtime.store.trace(None)
