"""The webhook endpoints API: create, list, retrieve, update, delete, rotate, validation."""

from __future__ import annotations

import pytest

from simulator.domain.webhooks import endpoints
from simulator.testing import Api, Sim

URL = "https://example.com/hooks"


def create(api: Api, **body) -> dict:
    body.setdefault("url", URL)
    body.setdefault("events", ["*"])
    resp = api.post("/webhooks", body)
    assert resp.status_code == 200, resp.json
    return resp.json


def test_create_returns_secret_once(api: Api) -> None:
    created = create(api, description="prod", metadata={"team": "a"})
    assert created["id"].startswith("wh_")
    assert created["resource_type"] == "webhook_endpoint"
    assert created["secret"].startswith("whsec_")
    assert created["status"] == "active"
    assert created["api_version"] == "2026-04-25"
    assert created["description"] == "prod" and created["metadata"] == {"team": "a"}
    assert set(created) == {
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
        "secret",
    }
    fetched = api.get(f"/webhooks/{created['id']}").json
    assert "secret" not in fetched
    listed = api.get("/webhooks").json
    assert [e["id"] for e in listed["data"]] == [created["id"]]
    assert "secret" not in listed["data"][0]
    patched = api.patch(f"/webhooks/{created['id']}", {"description": None}).json
    assert "secret" not in patched and patched["description"] is None


def test_rotate_secret_returns_a_new_one(api: Api) -> None:
    created = create(api)
    rotated = api.post(f"/webhooks/{created['id']}/rotate-secret").json
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert rotated["id"] == created["id"]


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hooks",
        "ftp://example.com/x",
        "not a url",
        "https://example.com/x#frag",
    ],
)
def test_url_rules_reject(api: Api, url: str) -> None:
    resp = api.post("/webhooks", {"url": url, "events": ["*"]})
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "invalid_data"
    assert resp.json["error"]["param"] == "url"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/x",
        "http://localhost:3000/hooks",
        "http://127.0.0.1:8080/hooks",
        "http://sim.test/_sim/inboxes/inb_x/receive",  # the simulator's own inboxes
    ],
)
def test_url_rules_accept(api: Api, url: str) -> None:
    assert api.post("/webhooks", {"url": url, "events": ["*"]}).status_code == 200


@pytest.mark.parametrize(
    ("events", "param"),
    [
        ([], "events"),
        (["*", "*", "*", "*", "*", "*"], "events"),
        (["patient_session.created"], "events.0"),
        (["records.sync.completed", "nope"], "events.1"),
    ],
)
def test_events_rules(api: Api, events: list, param: str) -> None:
    resp = api.post("/webhooks", {"url": URL, "events": events})
    assert resp.status_code == 400
    assert resp.json["error"]["param"] == param


def test_events_accept_the_four_names(api: Api) -> None:
    names = [
        "patient_session.completed",
        "connection.token_refresh_failed",
        "records.sync.completed",
        "records.sync.failed",
    ]
    assert create(api, events=names)["events"] == names
    refused = api.post("/webhooks", {"url": URL, "events": [*names, "patient_flow.completed"]})
    assert refused.status_code == 400
    assert refused.json["error"]["param"] == "events.4"


def test_events_of_a_generation_b_workspace_use_the_b_name(sim: Sim) -> None:
    api, _ = sim.new_workspace(seed=1, naming="B")
    names = [
        "patient_flow.completed",
        "connection.token_refresh_failed",
        "records.sync.completed",
        "records.sync.failed",
    ]
    assert create(api, events=names)["events"] == names
    refused = api.post("/webhooks", {"url": URL, "events": ["patient_session.completed"]})
    assert refused.status_code == 400
    assert "patient_flow.completed" in refused.json["error"]["message"]


def test_api_version_pinned_from_header_and_immutable(api: Api) -> None:
    created = api.post(
        "/webhooks", {"url": URL, "events": ["*"]}, headers={"Version": "2026-04-25"}
    ).json
    assert created["api_version"] == "2026-04-25"
    # not a field of the update input: ignored (the provider's schema allows other fields)
    resp = api.patch(f"/webhooks/{created['id']}", {"api_version": "2030-01-01"})
    assert resp.status_code == 200
    assert api.get(f"/webhooks/{created['id']}").json["api_version"] == "2026-04-25"
    bad = api.post("/webhooks", {"url": URL, "events": ["*"]}, headers={"Version": "1999-01-01"})
    assert bad.status_code == 400
    assert bad.json["error"]["code"] == "unsupported_api_version"


def test_update_fields_and_status_filter(api: Api) -> None:
    a = create(api)
    b = create(api)
    patched = api.patch(
        f"/webhooks/{a['id']}",
        {"url": "https://example.org/new", "events": ["records.sync.failed"], "status": "disabled"},
    ).json
    assert patched["url"] == "https://example.org/new"
    assert patched["events"] == ["records.sync.failed"]
    assert patched["status"] == "disabled"
    disabled = api.get("/webhooks", status="disabled").json["data"]
    active = api.get("/webhooks", status="active").json["data"]
    assert [e["id"] for e in disabled] == [a["id"]]
    assert [e["id"] for e in active] == [b["id"]]
    assert api.get("/webhooks", status="paused").status_code == 400
    assert api.patch(f"/webhooks/{a['id']}", {"status": "paused"}).status_code == 400


def test_list_is_paginated_newest_first(api: Api) -> None:
    ids = [create(api)["id"] for _ in range(5)]
    first = api.get("/webhooks", limit=2).json
    assert [e["id"] for e in first["data"]] == ids[::-1][:2]
    assert first["has_more"] is True
    second = api.get("/webhooks", limit=2, starting_after=first["next_cursor"]).json
    assert [e["id"] for e in second["data"]] == ids[::-1][2:4]


def test_delete_gives_tombstone_then_404(api: Api) -> None:
    created = create(api)
    gone = api.delete(f"/webhooks/{created['id']}").json
    assert gone == {"id": created["id"], "resource_type": "webhook_endpoint", "deleted": True}
    assert api.get(f"/webhooks/{created['id']}").status_code == 404
    assert api.delete(f"/webhooks/{created['id']}").status_code == 404
    assert api.get(f"/webhooks/{created['id']}/events").status_code == 404
    assert api.post(f"/webhooks/{created['id']}/rotate-secret").status_code == 404


def test_endpoint_limit(api: Api) -> None:
    for _ in range(endpoints.MAX_ENDPOINTS):
        create(api)
    resp = api.post("/webhooks", {"url": URL, "events": ["*"]})
    assert resp.status_code == 409
    assert resp.json["error"]["code"] == "resource_conflict"


def test_metadata_limit_and_description_length(api: Api) -> None:
    many = {f"k{i}": i for i in range(51)}
    assert api.post("/webhooks", {"url": URL, "events": ["*"], "metadata": many}).status_code == 400
    long = "x" * 501
    assert (
        api.post("/webhooks", {"url": URL, "events": ["*"], "description": long}).status_code == 400
    )


def test_endpoints_are_per_workspace(sim: Sim, api: Api) -> None:
    created = create(api)
    other, _ = sim.new_workspace(seed=2)
    assert other.get(f"/webhooks/{created['id']}").status_code == 404
    assert other.get("/webhooks").json["data"] == []


def test_requires_api_key(sim: Sim) -> None:
    assert sim.client.get("/webhooks").status_code == 401
    assert sim.client.post("/events/evt_x/redeliver").status_code == 401


def test_reset_empties_webhooks_and_their_pending_attempts(sim: Sim, api: Api) -> None:
    box = api.post("/_sim/inboxes", {"status": 500}).json
    created = create(api, url=box["url"])
    api.post("/patients", {"patient_id": "p-reset"})
    source = api.get("/connections", limit=1).json["data"][0]["id"]
    api.post(
        "/_sim/events",
        {"type": "records.sync.failed", "patient_id": "p-reset", "connection_id": source},
    )
    assert api.post("/_sim/reset").status_code == 200
    assert api.get("/webhooks").json["data"] == []
    assert api.get("/_sim/events").json["data"] == []
    assert api.get(f"/webhooks/{created['id']}").status_code == 404
    assert api.get(f"/_sim/inboxes/{box['id']}").status_code == 404
    ws = api.get("/_sim/workspace").json["id"]
    assert sim.runtime.scheduler.pending(ws, kind="webhook.attempt") == []
