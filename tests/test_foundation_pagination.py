"""Cursor pagination: limit, starting_after, has_more, next_cursor, and every edge."""

from __future__ import annotations

import pytest

from simulator.testing import Api, Sim

RETURN_URL = "https://app.example/done"


def add_patients(api: Api, n: int, prefix: str = "p") -> list[str]:
    ids = []
    for i in range(n):
        resp = api.post("/patients", {"patient_id": f"{prefix}{i:03d}"})
        assert resp.status_code == 200
        ids.append(resp.json["id"])
    return ids


def walk(api: Api, path: str, **params) -> list[dict]:
    """Every page of a list, following next_cursor."""
    pages = []
    cursor = None
    for _ in range(1000):
        query = dict(params)
        if cursor is not None:
            query["starting_after"] = cursor
        resp = api.get(path, **query)
        assert resp.status_code == 200, resp.json
        pages.append(resp.json)
        cursor = resp.json["next_cursor"]
        assert (cursor is not None) == resp.json["has_more"]
        if cursor is None:
            return pages
    raise AssertionError("the list never ended")


def assert_bad_cursor(resp) -> None:
    assert resp.status_code == 400, resp.json
    error = resp.json["error"]
    assert (error["code"], error["param"]) == ("invalid_data", "starting_after")


def test_empty_list(api: Api) -> None:
    body = api.get("/patients").json
    assert body == {"resource_type": "list", "data": [], "has_more": False, "next_cursor": None}


def test_default_limit_is_ten_newest_first(api: Api) -> None:
    ids = add_patients(api, 12)
    body = api.get("/patients").json
    assert [p["id"] for p in body["data"]] == ids[::-1][:10]
    assert body["has_more"] is True and isinstance(body["next_cursor"], str)


def test_exact_page_boundary_twenty_items_limit_ten(api: Api) -> None:
    ids = add_patients(api, 20)
    pages = walk(api, "/patients", limit="10")
    assert len(pages) == 2
    assert [len(p["data"]) for p in pages] == [10, 10]
    assert pages[0]["has_more"] is True
    assert pages[1]["has_more"] is False and pages[1]["next_cursor"] is None
    seen = [p["id"] for page in pages for p in page["data"]]
    assert seen == ids[::-1]


def test_one_past_the_boundary_gives_a_third_page_of_one(api: Api) -> None:
    ids = add_patients(api, 21)
    pages = walk(api, "/patients", limit="10")
    assert [len(p["data"]) for p in pages] == [10, 10, 1]
    assert pages[2]["data"][0]["id"] == ids[0]


@pytest.mark.parametrize("limit", ["1", "100"])
def test_limit_bounds_are_accepted(api: Api, limit: str) -> None:
    ids = add_patients(api, 3)
    body = api.get("/patients", limit=limit).json
    assert len(body["data"]) == min(int(limit), 3)
    assert body["has_more"] is (int(limit) < 3)
    assert [p["id"] for p in body["data"]] == ids[::-1][: int(limit)]


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "1.5", " ", "٣", "1e1"])
def test_bad_limits_are_400(api: Api, limit: str) -> None:
    resp = api.get("/patients", limit=limit)
    assert resp.status_code == 400
    assert (resp.json["error"]["code"], resp.json["error"]["param"]) == ("invalid_data", "limit")


@pytest.mark.parametrize("cursor", ["garbage", "AAAAAAAAAAAAAAAAAAAAAAAA", "cGF0aWVudHM6NQ", "!!"])
def test_garbage_cursors_are_400(api: Api, cursor: str) -> None:
    add_patients(api, 3)
    assert_bad_cursor(api.get("/patients", starting_after=cursor))


def test_empty_limit_and_cursor_are_absent(api: Api) -> None:
    """`?limit=&starting_after=` (a client sending `cursor ?? ''`) is the first page of ten."""
    ids = add_patients(api, 12)
    body = api.get("/patients", limit="", starting_after="").json
    assert [p["id"] for p in body["data"]] == ids[::-1][:10]
    assert body["has_more"] is True
    cursor = body["next_cursor"]
    second = api.get("/patients", limit="", starting_after=cursor).json
    assert [p["id"] for p in second["data"]] == ids[::-1][10:]


@pytest.mark.parametrize("param", ["limit", "starting_after"])
def test_a_strict_workspace_refuses_empty_values_naming_them(sim: Sim, param: str) -> None:
    api, _ = sim.new_workspace(seed=1, strict=True)
    add_patients(api, 3)
    resp = api.get("/patients", **{param: ""})
    assert resp.status_code == 400
    error = resp.json["error"]
    assert (error["code"], error["param"]) == ("invalid_data", param)
    assert f"'{param}' must not be empty" in error["message"]


def test_tampered_cursor_is_400(api: Api) -> None:
    add_patients(api, 12)
    cursor = api.get("/patients").json["next_cursor"]
    flipped = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
    assert_bad_cursor(api.get("/patients", starting_after=flipped))


def test_cursor_of_another_workspace_is_400(sim: Sim) -> None:
    one, _ = sim.new_workspace(seed=5)
    two, _ = sim.new_workspace(seed=5)
    add_patients(one, 12)
    add_patients(two, 12)  # same seed, same calls: same ids and sequence numbers
    cursor = one.get("/patients").json["next_cursor"]
    assert_bad_cursor(two.get("/patients", starting_after=cursor))
    assert one.get("/patients", starting_after=cursor).status_code == 200


def test_cursor_from_before_a_reset_is_stale(api: Api) -> None:
    add_patients(api, 12)
    cursor = api.get("/patients").json["next_cursor"]
    assert api.post("/_sim/reset").status_code == 200
    add_patients(api, 12)
    assert_bad_cursor(api.get("/patients", starting_after=cursor))


def test_cursor_of_another_list_is_400(api: Api) -> None:
    add_patients(api, 12)
    for _ in range(12):
        api.post("/patient-sessions", {"patient_id": "p000", "return_url": RETURN_URL})
        api.post("/patient-sessions", {"patient_id": "p001", "return_url": RETURN_URL})
    patients_cursor = api.get("/patients").json["next_cursor"]
    sessions_cursor = api.get("/patients/p000/patient-sessions").json["next_cursor"]
    assert_bad_cursor(api.get("/patients/p000/patient-sessions", starting_after=patients_cursor))
    assert_bad_cursor(api.get("/patients", starting_after=sessions_cursor))
    # another patient's session list is another list
    assert_bad_cursor(api.get("/patients/p001/patient-sessions", starting_after=sessions_cursor))
    catalog_cursor = api.get("/connections", limit="2").json["next_cursor"]
    assert_bad_cursor(api.get("/patients", starting_after=catalog_cursor))


def test_cursor_stays_valid_when_its_object_is_deleted(api: Api) -> None:
    ids = add_patients(api, 15)
    first = api.get("/patients").json
    last_on_page = first["data"][-1]["id"]
    assert api.delete(f"/patients/{last_on_page}").status_code == 200
    rest = api.get("/patients", starting_after=first["next_cursor"]).json
    assert [p["id"] for p in rest["data"]] == ids[::-1][10:]


def test_filters_with_pagination(api: Api) -> None:
    add_patients(api, 5)
    api.post("/patients", {"patient_id": "mail", "email": "m@example.com"})
    assert [p["id"] for p in api.get("/patients", email="m@example.com").json["data"]] == ["mail"]
    assert [p["id"] for p in api.get("/patients", patient_id="p003").json["data"]] == ["p003"]
    assert api.get("/patients", patient_id="nobody").json["data"] == []


def test_session_list_pages_and_status_filter(api: Api) -> None:
    created = []
    for i in range(12):
        body = {"patient_id": "p1", "return_url": RETURN_URL, "expires_in": 60 if i < 5 else 3600}
        created.append(api.post("/patient-sessions", body).json["id"])
    api.advance(60)
    pages = walk(api, "/patients/p1/patient-sessions", limit="5")
    assert [len(p["data"]) for p in pages] == [5, 5, 2]
    assert [s["id"] for p in pages for s in p["data"]] == created[::-1]
    expired = walk(api, "/patients/p1/patient-sessions", status="expired", limit="2")
    assert sorted(s["id"] for p in expired for s in p["data"]) == sorted(created[:5])
    bad = api.get("/patients/p1/patient-sessions", status="done")
    assert bad.status_code == 400 and bad.json["error"]["param"] == "status"


def test_catalog_pages_through_every_source_once(api: Api) -> None:
    everything = api.get("/connections", limit="100").json
    assert everything["has_more"] is False
    pages = walk(api, "/connections", limit="2")
    assert [s["id"] for p in pages for s in p["data"]] == [s["id"] for s in everything["data"]]
    assert len(pages) == -(-len(everything["data"]) // 2)


def test_catalog_cursor_is_bound_to_its_filters(api: Api) -> None:
    cursor = api.get("/connections", limit="1").json["next_cursor"]
    assert cursor is not None
    assert_bad_cursor(api.get("/connections", limit="1", q="a", starting_after=cursor))
    assert api.get("/connections", limit="1", starting_after=cursor).status_code == 200
