"""Bring-your-own patients: `POST /_sim/personas` and the record it serves at the portals."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flowkit import CERNER, EPIC, connect, done, new_session, patient_records

from simulator.testing import Sim

EXAMPLE = Path(__file__).parent.parent / "examples" / "personas" / "jamie.json"
SERVED_BY_HOSPITALS = {
    "Patient",
    "Encounter",
    "Condition",
    "Observation",
    "MedicationRequest",
    "Immunization",
}


def _example() -> dict:
    return json.loads(EXAMPLE.read_text())


def _upload(api, bundle=None, username="jamie", **extra):
    body = {"username": username, "bundle": _example() if bundle is None else bundle, **extra}
    return api.post("/_sim/personas", body)


def _error(resp):
    assert resp.status_code == 400, resp.get_data(as_text=True)
    err = resp.json["error"]
    assert err["code"] == "invalid_data"
    return err


def test_the_example_bundle_uploads_with_server_assigned_ids(api) -> None:
    resp = _upload(api)
    assert resp.status_code == 200, resp.json
    body = resp.json
    source = _example()["entry"]
    expected = Counter(e["resource"]["resourceType"] for e in source)
    assert body["counts"] == {t: n for t, n in sorted(expected.items()) if t in SERVED_BY_HOSPITALS}
    assert body["skipped"] == {"Claim": 1, "Provenance": 1}
    assert body["resources"] == sum(body["counts"].values()) == 14
    assert body["replaced"] is False
    assert set(body["portals"]) == {
        "summit-epic",
        "lakeside-cerner",
        "maple-athena",
        "harbor-clinic",
        "bluebutton",
    }
    patient_uuid = source[0]["resource"]["id"]
    # a transaction's POST entries get new ids, as a FHIR server gives them
    assert body["patient_id"] != patient_uuid
    assert api.get("/_sim/personas/jamie").json["patient_id"] == body["patient_id"]
    # the same seed gives the same ids; the same username again replaces
    again = _upload(api).json
    assert again["replaced"] is True and again["patient_id"] == body["patient_id"]
    assert [p["username"] for p in api.get("/_sim/personas").json["data"]] == ["jamie"]


def test_a_patient_logs_in_with_the_uploaded_username_and_the_pull_gets_exactly_those_resources(
    tmp_path,
) -> None:
    with Sim(pull_page_size=3) as sim:
        sim.route_outbound()
        api, _ = sim.new_workspace(seed=7)
        uploaded = _upload(api).json
        sent = sim.record_outbound()
        session = new_session(api)
        result = connect(api, session["id"], "jamie", EPIC)
        assert result["connection"]["status"] == "active", result
        done(api, session["id"])
        items = patient_records(api)
        pid = uploaded["patient_id"]
        got = Counter(i["resource"]["resourceType"] for i in items)
        assert dict(got) == uploaded["counts"]
        resources = {(i["resource"]["resourceType"], i["resource"]["id"]) for i in items}
        assert ("Patient", pid) in resources
        observations = [
            i["resource"] for i in items if i["resource"]["resourceType"] == "Observation"
        ]
        encounter_ids = {rid for rtype, rid in resources if rtype == "Encounter"}
        for obs in observations:
            assert obs["subject"] == {"reference": f"Patient/{pid}"}
            assert obs["encounter"]["reference"].removeprefix("Encounter/") in encounter_ids
            assert obs["meta"]["versionId"] == "1" and obs["meta"]["lastUpdated"]
        systolic = sorted(
            o["valueQuantity"]["value"]
            for o in observations
            if o["code"]["coding"][0]["code"] == "8480-6"
        )
        assert systolic == [131, 142]
        # the conditional reference a Synthea transaction carries is kept as written
        med = next(
            i["resource"] for i in items if i["resource"]["resourceType"] == "MedicationRequest"
        )
        assert med["requester"]["reference"].startswith("Practitioner?identifier=")
        # 7 Observations at 3 a page: three pages, following `next`
        pages = [
            r.url
            for r in sent
            if urlsplit(r.url).path.endswith("/fhir/Observation") and r.method == "GET"
        ]
        assert len(pages) == 3
        assert [parse_qs(urlsplit(u).query).get("_offset", ["0"])[0] for u in pages] == [
            "0",
            "3",
            "6",
        ]


def test_a_portal_not_chosen_does_not_know_the_login(api) -> None:
    assert _upload(api, portals=["summit-epic"]).status_code == 200
    session = new_session(api)
    result = connect(api, session["id"], "jamie", CERNER)
    assert result["connection"] is None
    assert result["stopped_at"] == "portal"


def test_uploads_are_per_workspace(sim, api) -> None:
    other, _ = sim.new_workspace(seed=2)
    assert _upload(api).status_code == 200
    assert other.get("/_sim/personas").json["data"] == []
    assert other.get("/_sim/personas/jamie").status_code == 404
    session = new_session(other)
    assert connect(other, session["id"], "jamie", EPIC)["connection"] is None


def test_an_upload_survives_a_restart(tmp_path) -> None:
    db = str(tmp_path / "sim.db")
    with Sim(db_path=db) as first:
        first.route_outbound()
        api = first.api()
        stored = _upload(api).json
    with Sim(db_path=db) as second:
        second.route_outbound()
        api = second.api()
        assert api.get("/_sim/personas/jamie").json == {
            k: v for k, v in stored.items() if k != "replaced"
        }
        session = new_session(api)
        assert connect(api, session["id"], "jamie", EPIC)["connection"]["status"] == "active"
        assert len(patient_records(api)) == stored["resources"]


def test_a_collection_bundle_keeps_its_ids_and_resolves_full_urls(api) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:8a3f0c1e-0000-4000-8000-000000000001",
                "resource": {"resourceType": "Patient", "id": "pat-1"},
            },
            {
                "fullUrl": "https://ehr.example/fhir/Condition/c-1",
                "resource": {
                    "resourceType": "Condition",
                    "id": "c-1",
                    "subject": {"reference": "urn:uuid:8a3f0c1e-0000-4000-8000-000000000001"},
                    "meta": {"lastUpdated": "2025-02-01T10:00:00Z"},
                },
            },
        ],
    }
    body = _upload(api, bundle, username="col.lection").json
    assert body["patient_id"] == "pat-1"
    assert body["counts"] == {"Condition": 1, "Patient": 1}
    session = new_session(api)
    assert connect(api, session["id"], "col.lection", EPIC)["connection"]["status"] == "active"
    condition = next(
        i["resource"] for i in patient_records(api) if i["resource"]["resourceType"] == "Condition"
    )
    assert condition["id"] == "c-1"
    assert condition["subject"] == {"reference": "Patient/pat-1"}
    assert condition["meta"]["lastUpdated"].startswith("2025-02-01T10:00:00")


def _broken(mutate):
    bundle = _example()
    mutate(bundle)
    return bundle


OBS = 5  # the index of the first Observation in the example


@pytest.mark.parametrize(
    ("bundle", "param", "needle"),
    [
        ({"resourceType": "Patient"}, "bundle", "resourceType 'Bundle'"),
        (_broken(lambda b: b.update(type="searchset")), "bundle.type", "'searchset'"),
        (_broken(lambda b: b.update(entry=[])), "bundle.entry", "non-empty"),
        (
            _broken(lambda b: b["entry"][OBS]["resource"].update(resourceType="Observatio")),
            f"bundle.entry[{OBS}]",
            f"entry[{OBS}] (Observatio/",
        ),
        (
            _broken(lambda b: b["entry"][OBS]["resource"].update(id="bad id!")),
            f"bundle.entry[{OBS}]",
            f"entry[{OBS}] (Observation/bad id!): id must be",
        ),
        (
            _broken(
                lambda b: b["entry"][OBS]["resource"].update(
                    subject={"reference": "urn:uuid:00000000-0000-4000-8000-00000000dead"}
                )
            ),
            f"bundle.entry[{OBS}]",
            "does not name the fullUrl of any entry",
        ),
        (
            _broken(lambda b: b["entry"][OBS]["resource"].update(subject={"reference": "Patient"})),
            f"bundle.entry[{OBS}]",
            "'Patient' is not a well-formed FHIR reference",
        ),
        (
            _broken(
                lambda b: b["entry"][OBS]["resource"].update(subject={"reference": "Pateint/1"})
            ),
            f"bundle.entry[{OBS}]",
            "'Pateint', not an R4 resource type",
        ),
        (
            _broken(lambda b: b["entry"].append(copy.deepcopy(b["entry"][0]))),
            "bundle.entry[16]",
            "fullUrl 'urn:uuid:",
        ),
        (
            _broken(
                lambda b: b["entry"].append(
                    {"resource": {"resourceType": "Patient"}, "request": {"method": "POST"}}
                )
            ),
            "bundle.entry[16]",
            "entry[16] (Patient/",
        ),
        (
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": {"resourceType": "Condition", "id": "c"}}],
            },
            "bundle.entry",
            "no Patient",
        ),
        (
            _broken(lambda b: b["entry"].pop(0)),
            "bundle.entry[0]",
            "entry[0] (Encounter/",
        ),
        (
            _broken(lambda b: b["entry"][2].pop("request")),
            "bundle.entry[2]",
            "entry[2] (Encounter/",
        ),
        (
            _broken(
                lambda b: b["entry"][OBS]["resource"].update(meta={"lastUpdated": "yesterday"})
            ),
            f"bundle.entry[{OBS}]",
            "is not a FHIR instant",
        ),
    ],
)
def test_a_bad_bundle_is_refused_naming_the_first_bad_resource(api, bundle, param, needle):
    err = _error(_upload(api, bundle))
    assert err["param"] == param
    assert needle in err["message"]
    assert api.get("/_sim/personas").json["data"] == []


def test_usernames_and_portals_are_checked(api) -> None:
    assert "built-in persona" in _error(_upload(api, username="alice"))["message"]
    assert _error(_upload(api, username="Has Space"))["param"] == "username"
    assert _error(_upload(api, username="a+deny"))["param"] == "username"
    assert _error(_upload(api, portals=["nowhere"]))["param"].startswith("portals")
    assert _error(api.post("/_sim/personas", {"username": "x"}))["param"] == "bundle"
    assert api.delete("/_sim/personas/nobody").status_code == 404


def test_a_bundle_larger_than_other_request_bodies_is_accepted(api) -> None:
    bundle = _example()
    template = bundle["entry"][OBS]
    for n in range(1500):
        entry = copy.deepcopy(template)
        entry["fullUrl"] = f"urn:uuid:00000000-0000-4000-9000-{n:012d}"
        entry["resource"]["id"] = entry["fullUrl"].removeprefix("urn:uuid:")
        entry["resource"]["note"] = [{"text": "x" * 400}]
        bundle["entry"].append(entry)
    assert len(json.dumps(bundle)) > 1024 * 1024
    body = _upload(api, bundle).json
    assert body["counts"]["Observation"] == 7 + 1500


def test_deleting_a_persona_ends_its_logins(api) -> None:
    _upload(api)
    assert api.delete("/_sim/personas/jamie").json == {"deleted": 1}
    session = new_session(api)
    assert connect(api, session["id"], "jamie", EPIC)["connection"] is None


def test_a_resource_nested_too_deeply_is_refused_not_a_server_error(api) -> None:
    marker = '"deep-marker"'
    bundle = _example()
    bundle["entry"][OBS]["resource"]["extension"] = "deep-marker"
    messages = []
    for depth in (300, 400, 450, 480, 495):
        nested = '{"extension":[' * depth + "{}" + "]}" * depth
        raw = json.dumps({"username": "deep", "bundle": bundle}).replace(marker, nested)
        resp = api.client.post(
            "/_sim/personas",
            data=raw,
            content_type="application/json",
            headers={"Authorization": f"Bearer {api.api_key}"},
        )
        assert resp.status_code in (200, 400), (depth, resp.status_code)
        assert resp.is_json
        if resp.status_code == 400:
            messages.append(resp.json["error"]["message"])
    # deeper than the checks can walk, yet not too deep for the JSON parser
    assert any(m.endswith("the resource is nested too deeply") for m in messages), messages
