"""The Connect API basics: workspaces, ids, timestamps, sessions and their aliases, headers, reset."""

from __future__ import annotations

import re
import uuid

import pytest

from simulator.core.timeutil import parse_iso
from simulator.testing import Api, Sim

RETURN_URL = "https://app.example/done"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ULID_BODY = r"[0-9A-HJKMNP-TV-Z]{26}"


def session_body(**fields) -> dict:
    return {"patient_id": "p1", "return_url": RETURN_URL, **fields}


def epic_id(api: Api) -> str:
    return api.get("/connections", q="epic").json["data"][0]["id"]


# -- workspaces ------------------------------------------------------------------------------


def test_create_workspace_returns_id_key_seed_and_clock(sim: Sim) -> None:
    resp = sim.client.post("/_sim/workspaces", json={"seed": 42, "clock": "manual", "name": "ci"})
    assert resp.status_code == 200
    body = resp.json
    assert body["id"].startswith("ws_")
    assert body["api_key"].startswith("mb_sk_sbx_")
    assert body["seed"] == 42 and body["name"] == "ci"
    assert body["clock"]["mode"] == "manual" and TIMESTAMP.match(body["clock"]["now"])
    api = sim.api(body["api_key"])
    assert api.get("/_sim/workspace").json["id"] == body["id"]
    assert "api_key" not in api.get("/_sim/workspace").json


def test_create_workspace_with_no_body_takes_defaults(sim: Sim) -> None:
    body = sim.client.post("/_sim/workspaces").json
    assert isinstance(body["seed"], int)
    assert body["clock"]["mode"] == "manual"  # the server default of the in-process simulator
    other = sim.client.post("/_sim/workspaces").json
    assert other["id"] != body["id"] and other["api_key"] != body["api_key"]


def test_reset_empties_the_workspace_and_restarts_ids(sim: Sim) -> None:
    api, created = sim.new_workspace(seed=9)
    first = api.post("/patient-sessions", session_body(expires_in=600)).json
    api.post("/patients", {"patient_id": "p2"})
    api.advance(3600)

    reset = api.post("/_sim/reset")
    assert reset.status_code == 200
    assert reset.json["id"] == created["id"] and reset.json["seed"] == 9
    assert api.get("/patients").json["data"] == []
    assert api.get(f"/patient-sessions/{first['id']}").status_code == 404
    assert api.post("/_sim/clock/run-until-idle").json["jobs_run"] == 0  # jobs went too
    # the key still works and ids start again from the same sequence
    again = api.post("/patient-sessions", session_body(expires_in=600)).json
    assert again["id"] == first["id"]
    assert again["url"] != first["url"]  # ids repeat; the link, a secret, never does


def test_reset_touches_only_the_callers_workspace(sim: Sim) -> None:
    one, _ = sim.new_workspace()
    two, _ = sim.new_workspace()
    one.post("/patients", {"patient_id": "a"})
    two.post("/patients", {"patient_id": "b"})
    one.post("/_sim/reset")
    assert one.get("/patients").json["data"] == []
    assert [p["id"] for p in two.get("/patients").json["data"]] == ["b"]


# -- ids and timestamps --------------------------------------------------------------------------


def script(api: Api) -> tuple[list[str], list[str]]:
    """The same calls, returning the ids and the hosted URLs they produced."""
    made, urls = [api.post("/patients", {"patient_id": "x1"}).json["id"]], []
    for _ in range(3):
        body = api.post("/patient-sessions", session_body(patient_id="x1")).json
        made.append(body["id"])
        urls.append(body["url"])
    api.advance(3600)
    body = api.post("/patient-sessions", session_body(patient_id="x2")).json
    made.append(body["id"])
    urls.append(body["url"])
    return made, urls


def test_same_seed_and_same_calls_give_the_same_ids(sim: Sim) -> None:
    one, _ = sim.new_workspace(seed=1234)
    two, _ = sim.new_workspace(seed=1234)
    two.advance(86400 * 3)  # a different clock must not change the ids
    ids_one, urls_one = script(one)
    ids_two, urls_two = script(two)
    assert ids_one == ids_two
    # hosted URLs are looked up without a key, so they stay unique across workspaces
    assert not set(urls_one) & set(urls_two)
    three, _ = sim.new_workspace(seed=1235)
    ids_three, _ = script(three)
    assert ids_three[1:] != ids_one[1:] and ids_three[1].startswith("ps_")


def test_same_seed_gives_the_same_ids_but_fresh_urls_in_another_run() -> None:
    with Sim() as first, Sim() as second:
        ids_one, urls_one = script(first.new_workspace(seed=77)[0])
        ids_two, urls_two = script(second.new_workspace(seed=77)[0])
    assert ids_one == ids_two
    assert not set(urls_one) & set(urls_two)  # a hosted link is a secret: never seeded


def test_id_shapes(sim: Sim, api: Api) -> None:
    generation_a, _ = sim.new_workspace(seed=1, naming="A")
    generation_b, _ = sim.new_workspace(seed=1, naming="B")
    ids = {
        "ps_": api.post("/patient-sessions", session_body()).json["id"],
        "sess_": generation_a.post("/sessions", session_body()).json["id"],
        "pf_": generation_b.post("/patient-flows", session_body()).json["id"],
    }
    for prefix, ident in ids.items():
        assert re.fullmatch(re.escape(prefix) + ULID_BODY, ident), ident
    assert all(
        re.fullmatch("fhirsrc_" + ULID_BODY, s["id"]) for s in api.get("/connections").json["data"]
    )


def test_ids_sort_in_creation_order(api: Api) -> None:
    made = [api.post("/patient-sessions", session_body()).json["id"] for _ in range(30)]
    assert made == sorted(made)


def test_timestamps_have_milliseconds_and_z(api: Api) -> None:
    api.advance(0.123)
    session = api.post("/patient-sessions", session_body()).json
    patient = api.get("/patients/p1").json
    for value in (session["created_at"], session["expires_at"], patient["created_at"]):
        assert TIMESTAMP.match(value), value
    assert session["created_at"].endswith(".123Z") or TIMESTAMP.match(session["created_at"])
    assert TIMESTAMP.match(api.get("/_sim/clock").json["now"])
    assert TIMESTAMP.match(api.client.get("/health").json["server_time"])


# -- sessions ------------------------------------------------------------------------------


def test_picker_session_defaults(api: Api) -> None:
    body = api.post("/patient-sessions", session_body(metadata={"order": 7})).json
    assert body["resource_type"] == "patient_session"
    assert body["status"] == "open"
    assert body["connection_id"] is None and body["recommended_connection_ids"] is None
    assert body["connections"] == [] and body["return_button_label"] is None
    assert body["metadata"] == {"order": 7} and body["return_url"] == RETURN_URL
    assert re.fullmatch(r"http://sim\.test/c/[0-9a-f]{32}", body["url"])
    assert parse_iso(body["expires_at"]) - parse_iso(body["created_at"]) == 1800 * 1000
    assert set(body) == {
        "id",
        "resource_type",
        "status",
        "url",
        "patient_id",
        "connection_id",
        "recommended_connection_ids",
        "return_url",
        "return_button_label",
        "connections",
        "expires_at",
        "metadata",
        "created_at",
    }


def test_picker_session_with_recommendations_keeps_order_once(api: Api) -> None:
    ids = [s["id"] for s in api.get("/connections").json["data"]]
    wanted = [ids[2], ids[0], ids[2]]
    body = api.post("/patient-sessions", session_body(recommended_connection_ids=wanted)).json
    assert body["recommended_connection_ids"] == [ids[2], ids[0]]
    assert body["connection_id"] is None


def test_direct_session_by_presence_of_connection_id(api: Api) -> None:
    source = epic_id(api)
    body = api.post("/patient-sessions", session_body(connection_id=source)).json
    assert body["connection_id"] == source
    assert body["recommended_connection_ids"] is None


def test_direct_session_accepts_the_raw_fhir_base_url(api: Api) -> None:
    source = api.get("/connections", q="epic").json["data"][0]
    body = api.post("/patient-sessions", session_body(connection_id=source["fhir_base_url"])).json
    assert body["connection_id"] == source["id"]


def test_direct_and_picker_together_is_400(api: Api) -> None:
    source = epic_id(api)
    resp = api.post(
        "/patient-sessions",
        session_body(connection_id=source, recommended_connection_ids=[source]),
    )
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_data"


def test_patient_is_upserted_at_session_creation(api: Api) -> None:
    api.post(
        "/patient-sessions",
        session_body(patient_id="new", patient_email="n@example.com", patient_name="Nia"),
    )
    patient = api.get("/patients/new").json
    assert (patient["email"], patient["name"]) == ("n@example.com", "Nia")
    assert patient["connections"] == []

    api.post("/patients", {"patient_id": "old", "email": "o@example.com", "metadata": {"k": 1}})
    api.post("/patient-sessions", session_body(patient_id="old", patient_name="Otto"))
    patient = api.get("/patients/old").json
    assert (patient["email"], patient["name"], patient["metadata"]) == (
        "o@example.com",
        "Otto",
        {"k": 1},
    )
    api.post("/patient-sessions", session_body(patient_id="old", patient_email="p@example.com"))
    assert api.get("/patients/old").json["email"] == "p@example.com"
    assert len(api.get("/patients").json["data"]) == 2


@pytest.mark.parametrize(
    ("naming", "path", "prefix", "resource_type"),
    [
        ("C", "patient-sessions", "ps_", "patient_session"),
        ("A", "sessions", "sess_", "session"),
        ("B", "patient-flows", "pf_", "patient_flow"),
    ],
)
def test_generation_aliases(
    sim: Sim, naming: str, path: str, prefix: str, resource_type: str
) -> None:
    api, _ = sim.new_workspace(seed=1, naming=naming)
    created = api.post(f"/{path}", session_body(patient_id="g1", expires_in=60)).json
    assert created["id"].startswith(prefix)
    assert created["resource_type"] == resource_type
    again = api.get(f"/{path}/{created['id']}").json
    assert again == created
    listed = api.get(f"/patients/g1/{path}").json
    assert [s["id"] for s in listed["data"]] == [created["id"]]
    assert listed["data"][0]["resource_type"] == resource_type
    api.advance(60)
    assert api.get(f"/{path}/{created['id']}").json["status"] == "expired"


def test_a_session_reads_only_through_its_workspace_generation_path(sim: Sim) -> None:
    api, _ = sim.new_workspace(seed=1, naming="A")
    created = api.post("/sessions", session_body()).json
    assert api.get(f"/sessions/{created['id']}").status_code == 200
    for path in ("patient-sessions", "patient-flows"):
        resp = api.get(f"/{path}/{created['id']}")
        assert resp.status_code == 404
        assert resp.json["error"]["code"] == "resource_not_found"


def test_patient_detail_and_delete(api: Api) -> None:
    api.post("/patients", {"patient_id": "d1", "name": "Dee", "metadata": {"a": "b"}})
    session = api.post("/patient-sessions", session_body(patient_id="d1")).json
    detail = api.get("/patients/d1").json
    assert detail["resource_type"] == "patient" and detail["connections"] == []
    replaced = api.put("/patients/d1", {"patient_id": "d1", "email": "d@example.com"}).json
    assert (replaced["email"], replaced["name"], replaced["metadata"]) == (
        "d@example.com",
        None,
        {},
    )
    gone = api.delete("/patients/d1").json
    assert gone == {"id": "d1", "resource_type": "patient", "deleted": True}
    assert api.get("/patients/d1").status_code == 404
    assert api.get(f"/patient-sessions/{session['id']}").status_code == 404
    assert api.post("/patients", {"patient_id": "d1"}).status_code == 200  # the id is free again


# -- headers -------------------------------------------------------------------------------


def test_every_response_has_a_fresh_request_id(sim: Sim, api: Api) -> None:
    responses = [
        sim.client.get("/health"),
        sim.client.get("/openapi.json"),
        api.get("/patients"),
        api.post("/patients", {"patient_id": "r1"}),
        api.post("/patients", {"patient_id": "r1"}),  # 409
        api.get("/patients/none"),  # 404
        sim.client.get("/patients"),  # 401
        api.get("/nowhere"),  # unknown route
        api.post("/_sim/clock/advance", {"seconds": 1}),
    ]
    ids = [r.headers.get("X-Request-Id") for r in responses]
    for ident in ids:
        assert ident is not None and uuid.UUID(ident)
    assert len(set(ids)) == len(ids)
    for resp in responses:
        if resp.status_code >= 400:
            assert resp.json["error"]["request_id"] == resp.headers["X-Request-Id"]


def test_version_header_applies_to_every_connect_call(api: Api) -> None:
    good = {"Version": "2026-04-25"}
    bad = {"Version": "2020-01-01"}
    for path in ("/patients", "/connections", "/patients/p/patient-sessions"):
        assert api.get(path, headers=bad).json["error"]["code"] == "unsupported_api_version"
        assert api.get(path, headers=good).status_code in (200, 404)
    resp = api.post("/patient-sessions", session_body(), headers=bad)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "unsupported_api_version"
    assert api.get("/patients").json["data"] == []  # the rejected create did not upsert
    assert api.client.get("/health", headers=bad).status_code == 200


def test_health(sim: Sim) -> None:
    body = sim.client.get("/health").json
    assert body["ok"] is True and TIMESTAMP.match(body["server_time"])
