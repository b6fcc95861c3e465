"""API keys beyond the workspace's own (`/_sim/api-keys`) and the plan's limits
(`/_sim/workspace/plan`): shown once, bound to their workspace, read-only or read-write,
revoked, expired on the workspace clock, capped; the active-patient quota."""

from __future__ import annotations

import pytest

from simulator.core import workspaces
from simulator.testing import Api, Sim

RETURN_URL = "https://app.example/done"


def mint(api: Api, **body) -> dict:
    resp = api.post("/_sim/api-keys", body)
    assert resp.status_code == 200, resp.json
    return resp.json


def test_a_key_is_shown_once_and_stored_only_as_a_hash(sim: Sim, api: Api) -> None:
    key = mint(api, name="ci")
    assert key["id"].startswith("apikey_") and key["resource_type"] == "api_key"
    assert key["key"].startswith(workspaces.KEY_PREFIX) and len(key["key"]) == 42
    assert (key["status"], key["permissions"], key["name"]) == ("active", "read_write", "ci")
    assert key["redacted_key"].endswith(key["key"][-4:]) and key["key"] not in key["redacted_key"]
    listed = api.get("/_sim/api-keys").json["data"]
    assert [k["id"] for k in listed] == [key["id"]] and "key" not in listed[0]
    assert "key" not in api.get(f"/_sim/api-keys/{key['id']}").json
    stored = sim.runtime.store.all("SELECT * FROM api_keys")
    assert all(key["key"] not in [str(v) for v in tuple(row)] for row in stored)
    assert mint(api)["key"] != key["key"]  # each from the CSPRNG


def test_a_minted_key_reaches_its_own_workspace_only(sim: Sim, api: Api) -> None:
    other, _ = sim.new_workspace(seed=2)
    other.post("/patients", {"patient_id": "theirs"})
    key = sim.api(mint(api)["key"])
    assert key.post("/patients", {"patient_id": "mine"}).status_code == 200
    assert [p["id"] for p in api.get("/patients").json["data"]] == ["mine"]
    assert key.get("/patients/theirs").status_code == 404
    assert key.get("/_sim/workspace").json["id"] == api.get("/_sim/workspace").json["id"]
    theirs = mint(other)
    assert api.post(f"/_sim/api-keys/{theirs['id']}/revoke").status_code == 404
    assert sim.api(theirs["key"]).get("/patients").status_code == 200


def test_ids_come_from_the_workspace_seed(sim: Sim) -> None:
    made = []
    for _ in range(2):
        api, _ = sim.new_workspace(seed=5)
        made.append((mint(api)["id"], mint(api)["id"]))
    assert made[0] == made[1]


def test_a_read_only_key_reads_but_cannot_change_anything(sim: Sim, api: Api) -> None:
    api.post("/patients", {"patient_id": "p1"})
    reader = sim.api(mint(api, permissions="read_only")["key"])
    assert reader.get("/patients").json["data"][0]["id"] == "p1"
    assert reader.get("/patients/p1").status_code == 200
    assert reader.get("/connections").status_code == 200
    writes = [
        reader.post("/patients", {"patient_id": "p2"}),
        reader.put("/patients/p1", {"name": "Changed"}),
        reader.delete("/patients/p1"),
        reader.post("/patient-sessions", {"patient_id": "p1", "return_url": RETURN_URL}),
        reader.post("/webhooks", {"url": "http://localhost:3000/h", "events": ["*"]}),
    ]
    for resp in writes:
        assert resp.status_code == 403, resp.json
        assert resp.json["error"]["type"] == "permission_error"
        assert resp.json["error"]["code"] == "insufficient_scope"
    assert [p["id"] for p in api.get("/patients").json["data"]] == ["p1"]
    assert api.get("/patients/p1").json["name"] is None
    assert api.get("/webhooks").json["data"] == []


def test_a_revoked_key_is_401_from_then_on(sim: Sim, api: Api) -> None:
    key = mint(api)
    assert sim.api(key["key"]).get("/patients").status_code == 200
    revoked = api.post(f"/_sim/api-keys/{key['id']}/revoke").json
    assert revoked["status"] == "revoked" and revoked["revoked_at"] == api.now()
    for call in (sim.api(key["key"]).get("/patients"), sim.api(key["key"]).get("/_sim/clock")):
        assert call.status_code == 401 and call.json["error"]["code"] == "invalid_api_key"
    again = api.post(f"/_sim/api-keys/{key['id']}/revoke")
    assert again.status_code == 409 and again.json["error"]["code"] == "resource_conflict"
    assert api.get("/patients").status_code == 200  # the workspace's own key still works


def test_a_key_expires_on_the_workspace_clock(sim: Sim, api: Api) -> None:
    api.post("/_sim/clock/set", {"now": "2030-01-01T00:00:00Z"})
    key = mint(api, expires_at="2030-01-01T01:00:00Z")
    assert key["expires_at"] == "2030-01-01T01:00:00.000Z"
    api.advance(3599)
    assert sim.api(key["key"]).get("/patients").status_code == 200
    api.advance(1)
    assert api.get(f"/_sim/api-keys/{key['id']}").json["status"] == "expired"
    failed = sim.api(key["key"]).get("/patients")
    assert failed.status_code == 401 and failed.json["error"]["code"] == "expired_api_key"
    assert "2030-01-01T01:00:00" in failed.json["error"]["message"]
    revoke = api.post(f"/_sim/api-keys/{key['id']}/revoke")
    assert revoke.status_code == 409
    assert api.get(f"/_sim/api-keys/{key['id']}").json["status"] == "expired"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "tomorrow"}, "expires_at"),
        ({"permissions": "admin"}, "permissions"),
        ({"key": "mb_sk_sbx_chosen"}, None),
    ],
)
def test_bad_key_input_is_400_and_mints_nothing(api: Api, body: dict, param: str | None) -> None:
    resp = api.post("/_sim/api-keys", body)
    assert resp.status_code == 400, resp.json
    assert resp.json["error"]["type"] == "invalid_request_error"
    if param is not None:
        assert resp.json["error"]["param"] == param
    assert api.get("/_sim/api-keys").json["data"] == []


def test_the_active_key_cap_counts_the_workspaces_own_key(sim: Sim, api: Api) -> None:
    assert api.get("/_sim/workspace/plan").json == {
        "active_patient_limit": None,
        "api_key_limit": 10,
    }
    minted = [mint(api) for _ in range(9)]
    capped = api.post("/_sim/api-keys")
    assert capped.status_code == 429
    assert capped.json["error"]["code"] == "api_key_limit_exceeded"
    assert capped.json["error"]["type"] == "rate_limit_error"
    assert int(capped.headers["Retry-After"]) >= 1
    assert len(api.get("/_sim/api-keys").json["data"]) == 9
    api.post(f"/_sim/api-keys/{minted[0]['id']}/revoke")  # a revoked key frees a place
    mint(api)
    assert api.post("/_sim/api-keys").status_code == 429
    api.patch("/_sim/workspace/plan", {"api_key_limit": 11})
    mint(api)


def test_an_expired_key_frees_a_place_under_the_cap(api: Api) -> None:
    api.patch("/_sim/workspace/plan", {"api_key_limit": 2})
    api.post("/_sim/clock/set", {"now": "2030-01-01T00:00:00Z"})
    mint(api, expires_at="2030-01-01T00:01:00Z")
    assert api.post("/_sim/api-keys").status_code == 429
    api.advance(60)
    mint(api)


def test_a_reset_keeps_keys_and_the_plan(sim: Sim, api: Api) -> None:
    key = mint(api, permissions="read_only")
    api.patch("/_sim/workspace/plan", {"active_patient_limit": 3})
    api.post("/patients", {"patient_id": "p1"})
    assert api.post("/_sim/reset").status_code == 200
    assert api.get("/patients").json["data"] == []
    assert sim.api(key["key"]).get("/patients").status_code == 200
    assert api.get("/_sim/workspace/plan").json["active_patient_limit"] == 3


def test_the_active_patient_quota(sim: Sim, api: Api) -> None:
    plan = api.patch("/_sim/workspace/plan", {"active_patient_limit": 2})
    assert plan.json == {"active_patient_limit": 2, "api_key_limit": 10}
    api.post("/patients", {"patient_id": "p1"})
    session = {"patient_id": "p2", "return_url": RETURN_URL}
    assert api.post("/patient-sessions", session).status_code == 200  # creates p2
    for failed in (
        api.post("/patients", {"patient_id": "p3"}),
        api.post("/patient-sessions", {"patient_id": "p3", "return_url": RETURN_URL}),
    ):
        assert failed.status_code == 402, failed.json
        assert failed.json["error"]["type"] == "billing_error"
        assert failed.json["error"]["code"] == "quota_exceeded"
    assert api.post("/patient-sessions", session).status_code == 200  # p2 is held already
    assert sorted(p["id"] for p in api.get("/patients").json["data"]) == ["p1", "p2"]
    assert len(api.get("/patients/p2/patient-sessions").json["data"]) == 2
    api.delete("/patients/p1")  # a deleted patient frees a place
    assert api.post("/patients", {"patient_id": "p3"}).status_code == 200
    api.patch("/_sim/workspace/plan", {"active_patient_limit": None})
    assert api.post("/patients", {"patient_id": "p4"}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"active_patient_limit": -1},
        {"api_key_limit": 0},
        {"plan": "free"},
        {"api_key_limit": None},
    ],
)
def test_bad_plan_input_is_400_and_changes_nothing(api: Api, body: dict) -> None:
    resp = api.patch("/_sim/workspace/plan", body)
    assert resp.status_code == 400, resp.json
    assert api.get("/_sim/workspace/plan").json == {
        "active_patient_limit": None,
        "api_key_limit": 10,
    }
