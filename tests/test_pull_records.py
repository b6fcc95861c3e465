"""Background pull and the records API, on the virtual clock."""

from __future__ import annotations

import json
from collections import Counter
from urllib.parse import urlsplit

from flowkit import CERNER, EPIC, active_connection, events_of

from portal_mocks.personas import PERSONAS
from portal_mocks.profiles import PORTALS
from portal_mocks.records import build
from simulator.testing import Sim

DAY = 86400


def _all_records(api, patient_id="p1", **params):
    items, cursor = [], None
    while True:
        query = dict(params, count=100)
        if cursor:
            query["starting_after"] = cursor
        page = api.get(f"/patients/{patient_id}/records", **query).json
        items.extend(page["data"])
        if not page["has_more"]:
            assert page["next_cursor"] is None
            return items
        cursor = page["next_cursor"]


def test_first_pull_stores_the_whole_record_with_exact_counts(api):
    conn = active_connection(api, "alice", EPIC)
    expected = build(1, PORTALS["summit-epic"], PERSONAS["alice"])
    items = _all_records(api)
    got = Counter(item["resource"]["resourceType"] for item in items)
    assert got == Counter({t: len(rs) for t, rs in expected.by_type.items()})
    assert sum(got.values()) == expected.count() >= 45
    assert {item["source"] for item in items} == {EPIC}
    patient = next(i["resource"] for i in items if i["resource"]["resourceType"] == "Patient")
    assert {"system": "urn:medblocks:patient-id", "value": "p1"} in patient["identifier"]
    others = [i["resource"] for i in items if i["resource"]["resourceType"] != "Patient"]
    assert all("urn:medblocks:patient-id" not in str(r.get("identifier", "")) for r in others)
    completed = events_of(api, "records.sync.completed")
    assert len(completed) == 1
    body = completed[0]["data"]["object"]
    assert body == {
        "resource_type": "records_sync",
        "patient_id": "p1",
        "connection_id": EPIC,
        "total": expected.count(),
        "errors": [],
        "duration_ms": 0,
    }
    view = api.get(f"/_sim/connections/{conn['id']}").json
    assert view["last_pull"]["status"] == "completed"
    assert [j["kind"] for j in view["scheduled"]] == ["connection.refresh", "records.pull"]


def test_type_filter_and_since(api):
    active_connection(api, "alice", EPIC)
    observations = _all_records(api, type="Observation,Condition")
    assert observations and {i["resource"]["resourceType"] for i in observations} <= {
        "Observation",
        "Condition",
    }
    later = api.now()
    assert api.get("/patients/p1/records", since=later).json["data"] == []
    assert len(_all_records(api, since="2000-01-01")) == len(_all_records(api))


def test_large_record_pages_forward_and_back_without_gaps_or_duplicates(api):
    active_connection(api, "dora", EPIC)
    expected = build(1, PORTALS["summit-epic"], PERSONAS["dora"]).count()
    assert expected >= 3000
    forward, pages, cursor = [], [], None
    while True:
        query = {"count": 100}
        if cursor:
            query["starting_after"] = cursor
        page = api.get("/patients/p1/records", **query).json
        pages.append(page)
        forward.extend((i["resource"]["resourceType"], i["resource"]["id"]) for i in page["data"])
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
        assert len(cursor) == 12
    assert len(forward) == expected == len(set(forward))
    assert pages[0]["previous_cursor"] is None
    backward, cursor = [], pages[-1]["previous_cursor"]
    tail = [(i["resource"]["resourceType"], i["resource"]["id"]) for i in pages[-1]["data"]]
    while cursor:
        page = api.get("/patients/p1/records", count=100, ending_before=cursor).json
        backward[:0] = [(i["resource"]["resourceType"], i["resource"]["id"]) for i in page["data"]]
        cursor = page["previous_cursor"]
    assert backward + tail == forward


def test_record_cursor_rules(api, sim):
    active_connection(api, "alice", EPIC)
    page = api.get("/patients/p1/records", count=10).json
    cursor = page["next_cursor"]
    assert api.get("/patients/p1/records", count=10, starting_after=cursor).status_code == 200
    bad = {
        "type": "observation",
        "count": "0",
        "since": "yesterday",
        "starting_after": "aB3xK9mQp2Lz",
    }
    for name, value in bad.items():
        resp = api.get("/patients/p1/records", **{name: value})
        assert resp.status_code == 400, name
        assert resp.json["error"]["code"] == "invalid_data"
        assert resp.json["error"]["param"] == name
    other_filter = api.get("/patients/p1/records", type="Observation", starting_after=cursor)
    assert other_filter.status_code == 400
    api.post("/patients", {"patient_id": "p2"})
    assert api.get("/patients/p2/records", starting_after=cursor).status_code == 400
    assert api.get("/patients/nobody/records").status_code == 404
    api.advance(7 * DAY)
    expired = api.get("/patients/p1/records", count=10, starting_after=cursor)
    assert expired.status_code == 400
    assert "expired" in expired.json["error"]["message"]


def test_re_pull_every_24_virtual_hours(api):
    active_connection(api, "alice", EPIC)
    assert len(events_of(api, "records.sync.completed")) == 1
    api.advance(DAY - 1)
    assert len(events_of(api, "records.sync.completed")) == 1
    api.advance(1)
    assert len(events_of(api, "records.sync.completed")) == 2
    assert len(_all_records(api)) == build(1, PORTALS["summit-epic"], PERSONAS["alice"]).count()


def test_429_delays_the_next_page_by_exactly_retry_after(api):
    api.post("/_sim/portals/summit-epic/faults", {"fault": "fhir_429", "arg": "30", "times": 1})
    active_connection(api, "alice", EPIC)
    assert api.get("/patients/p1/records").json["data"] == []
    api.advance(29)
    assert api.get("/patients/p1/records").json["data"] == []
    api.advance(1)
    assert len(_all_records(api)) == build(1, PORTALS["summit-epic"], PERSONAS["alice"]).count()
    (event,) = events_of(api, "records.sync.completed")
    assert event["data"]["object"]["duration_ms"] == 30_000


def test_500_for_one_type_is_listed_in_the_completed_event(api):
    active_connection(api, "bob+fhir_500:Observation", CERNER)
    assert events_of(api, "records.sync.completed") == []  # retrying Observation
    api.advance(10 + 60 + 300)
    (event,) = events_of(api, "records.sync.completed")
    body = event["data"]["object"]
    assert [(e["resource_type"], e["status"]) for e in body["errors"]] == [("Observation", 500)]
    types = {i["resource"]["resourceType"] for i in _all_records(api)}
    assert "Observation" not in types and "Condition" in types
    assert events_of(api, "records.sync.failed") == []


def test_disconnect_stops_pulls_and_keeps_records(api):
    conn = active_connection(api, "alice", EPIC)
    before = _all_records(api)
    api.delete(f"/patients/p1/connections/{conn['id']}")
    api.advance(3 * DAY)
    assert _all_records(api) == before
    assert len(events_of(api, "records.sync.completed")) == 1


def test_a_pull_suspended_after_an_empty_page_resumes_where_it_was() -> None:
    """An empty page's progress is written with the next page that stores resources;
    a 429 after that resumes from the page it was refused, reading nothing twice."""
    with Sim(pull_page_size=3) as sim:
        sim.route_outbound()
        api, _ = sim.new_workspace(seed=7)
        adapter = sim.runtime.http.get_adapter(sim.runtime.base_url + "/")
        call = adapter._call
        asked: list[str] = []

        def portal(request):  # Condition answers empty; Observation's 2nd page is refused once
            url = request.url
            path = urlsplit(url).path
            if path.endswith("/fhir/Condition"):
                bundle = {"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []}
                return (
                    "200 OK",
                    [("Content-Type", "application/fhir+json")],
                    json.dumps(bundle).encode(),
                )
            if "Observation" in url:  # its first page and the next links
                asked.append(url)
                if len(asked) == 2 and asked.count(url) == 1:
                    headers = [("Retry-After", "30"), ("Content-Type", "application/fhir+json")]
                    outcome = {"resourceType": "OperationOutcome", "issue": []}
                    return "429 Too Many Requests", headers, json.dumps(outcome).encode()
            return call(request)

        adapter._call = portal
        active_connection(api, "alice", EPIC)
        assert events_of(api, "records.sync.completed") == []  # waiting out the 429
        api.advance(30)
        (event,) = events_of(api, "records.sync.completed")
        expected = build(7, PORTALS["summit-epic"], PERSONAS["alice"])
        observations = len(expected.by_type["Observation"])
        conditions = len(expected.by_type["Condition"])
        assert event["data"]["object"]["total"] == expected.count() - conditions
        assert len(_all_records(api)) == expected.count() - conditions
        # every Observation page once, and the refused one again
        assert len(asked) == -(-observations // 3) + 1
        assert asked[1] == asked[2]
