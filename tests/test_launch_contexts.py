"""`GET /launch-contexts/{id}` (§1.11, §3.5) and the control plane that makes them."""

from __future__ import annotations

import re

from flowkit import EPIC

from simulator.testing import Sim

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_a_ready_context_reads_back_with_its_source(sim: Sim) -> None:
    api, _ = sim.new_workspace()
    body = {
        "connection_id": EPIC,
        "patient": "eXDa9",
        "encounter": "enc-1",
        "fhir_user": "Practitioner/7",
    }
    made = api.post("/_sim/launch-contexts", body).json
    assert UUID.match(made["id"]) and made["status"] == "ready"
    got = api.get(f"/launch-contexts/{made['id']}")
    assert got.status_code == 200 and got.json == made
    assert got.json["resource_type"] == "launch_context"
    assert got.json["fhir_source"] == EPIC
    assert got.json["fhir_base_url"].endswith("/portals/summit-epic/fhir")
    assert (got.json["patient"], got.json["encounter"]) == ("eXDa9", "enc-1")


def test_pending_until_the_token_exchange_then_ready_once(sim: Sim) -> None:
    api, _ = sim.new_workspace()
    made = api.post("/_sim/launch-contexts", {"connection_id": EPIC, "status": "pending"}).json
    assert made["status"] == "pending" and made["patient"] is None
    ready = api.post(f"/_sim/launch-contexts/{made['id']}/ready", {"patient": "p-9"})
    assert ready.status_code == 200 and ready.json["status"] == "ready"
    assert api.get(f"/launch-contexts/{made['id']}").json["patient"] == "p-9"
    again = api.post(f"/_sim/launch-contexts/{made['id']}/ready", {"patient": "p-9"})
    assert again.status_code == 409 and again.json["error"]["code"] == "resource_conflict"


def test_unknown_and_other_workspaces_contexts_are_404(sim: Sim) -> None:
    mine, _ = sim.new_workspace()
    theirs, _ = sim.new_workspace()
    made = theirs.post("/_sim/launch-contexts", {"connection_id": EPIC, "patient": "x"}).json
    for ident in (made["id"], "00000000-0000-4000-8000-000000000000"):
        resp = mine.get(f"/launch-contexts/{ident}")
        assert resp.status_code == 404 and resp.json["error"]["code"] == "resource_not_found"


def test_bad_input_is_a_400_naming_the_field(sim: Sim) -> None:
    api, _ = sim.new_workspace()
    cases = [
        ({}, "connection_id"),
        ({"connection_id": EPIC}, "patient"),  # ready (the default) needs a patient
        ({"connection_id": EPIC, "status": "ready"}, "patient"),
        ({"connection_id": EPIC, "status": "done", "patient": "x"}, "status"),
        ({"connection_id": EPIC, "patient": "x", "extra": 1}, "extra"),
    ]
    for body, param in cases:
        resp = api.post("/_sim/launch-contexts", body)
        assert resp.status_code == 400 and resp.json["error"]["param"] == param, (body, resp.json)
    unknown = api.post("/_sim/launch-contexts", {"connection_id": "fhirsrc_nope", "patient": "x"})
    assert unknown.status_code == 404 and unknown.json["error"]["param"] == "connection_id"


def test_a_reset_removes_them(sim: Sim) -> None:
    api, _ = sim.new_workspace()
    made = api.post("/_sim/launch-contexts", {"connection_id": EPIC, "patient": "x"}).json
    api.post("/_sim/reset")
    assert api.get(f"/launch-contexts/{made['id']}").status_code == 404
