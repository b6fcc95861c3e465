"""Synthetic patients: valid FHIR R4 (checked with fhir.resources R4B), seeded, sized by persona;
FHIR search parameters and paging."""

from __future__ import annotations

import importlib
import json
import time

import pytest
from portalkit import Launch, new_launch, pages

from portal_mocks import personas, profiles, records
from simulator.testing import Sim


def _model(resource_type: str):
    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    return getattr(module, resource_type)


@pytest.mark.parametrize("slug", list(profiles.PORTALS))
def test_every_persona_is_valid_fhir(slug: str) -> None:
    portal = profiles.PORTALS[slug]
    for name in ("alice", "bob", "erin", "mia"):
        record = records.build(99, portal, personas.PERSONAS[name])
        for (rtype, rid), resource in record.by_id.items():
            assert rtype in portal.resource_types
            assert resource["id"] == rid
            _model(rtype).model_validate(resource)


def test_dora_is_large_and_valid() -> None:
    for slug in ("lakeside-cerner", "bluebutton"):
        record = records.build(5, profiles.PORTALS[slug], personas.PERSONAS["dora"])
        assert record.count() >= 3000
        for (rtype, _), resource in list(record.by_id.items())[::7]:
            _model(rtype).model_validate(resource)


def test_sizes_by_persona() -> None:
    epic = profiles.PORTALS["summit-epic"]

    def count(name: str) -> int:
        return records.build(1, epic, personas.PERSONAS[name]).count()

    assert 45 <= count("alice") <= 55
    assert 450 <= count("bob") <= 550
    assert count("dora") >= 3000
    assert count("erin") == 1
    bob = records.build(1, epic, personas.PERSONAS["bob"])
    chronic = {
        c["code"]["coding"][0]["display"]
        for c in bob.resources("Condition")
        if c["clinicalStatus"]["coding"][0]["code"] == "active"
    }
    assert len(chronic) >= 3
    mia = records.build(1, profiles.PORTALS["bluebutton"], personas.PERSONAS["mia"])
    assert set(mia.by_type) == {"Patient", "Coverage", "ExplanationOfBenefit"}
    assert mia.patient_id.startswith("-") and len(mia.resources("ExplanationOfBenefit")) > 40


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    portal, bob = profiles.PORTALS["maple-athena"], personas.PERSONAS["bob"]
    first = json.dumps(records.build(42, portal, bob).by_type)
    records._cache.clear()
    again = json.dumps(records.build(42, portal, bob).by_type)
    other = json.dumps(records.build(43, portal, bob).by_type)
    assert first == again
    assert first != other


def test_records_are_cached() -> None:
    portal, dora = profiles.PORTALS["summit-epic"], personas.PERSONAS["dora"]
    records.build(77, portal, dora)
    started = time.perf_counter()
    for _ in range(100):
        records.build(77, portal, dora)
    assert time.perf_counter() - started < 0.05


def test_patient_ids_have_vendor_shapes() -> None:
    alice = personas.PERSONAS["alice"]
    ids = {slug: records.patient_id(1, p, alice) for slug, p in profiles.PORTALS.items()}
    assert ids["summit-epic"].startswith("e") and len(ids["summit-epic"]) == 24
    assert ids["lakeside-cerner"].isdigit()
    assert ids["maple-athena"].startswith("a-") and ".E-" in ids["maple-athena"]
    assert ids["bluebutton"].startswith("-1999")


# -- over HTTP -----------------------------------------------------------------------------------------


@pytest.fixture
def bob(sim: Sim) -> tuple[Launch, dict]:
    api, body = sim.new_workspace(seed=31, clock="manual")
    launch = new_launch(sim, "summit-epic", body["api_key"])
    return launch, launch.connect("bob")


def test_the_record_follows_the_workspace_seed(sim: Sim) -> None:
    def observation_ids(seed: int) -> list[str]:
        api, body = sim.new_workspace(seed=seed, clock="manual")
        launch = new_launch(sim, "summit-epic", body["api_key"])
        token = launch.connect("alice")
        bundle = launch.get("Observation", token["access_token"]).json()
        return [e["resource"]["id"] for e in bundle["entry"]]

    assert observation_ids(5) == observation_ids(5) != observation_ids(6)


def test_paging_count_and_links(bob) -> None:
    launch, token = bob
    bundles = pages(launch, token["access_token"], f"{launch.fhir}/Observation?_count=100")
    total = bundles[0]["total"]
    ids = [e["resource"]["id"] for b in bundles for e in b["entry"]]
    assert len(ids) == total == len(set(ids))
    assert all(len(b["entry"]) <= 100 for b in bundles)
    assert len(bundles) == -(-total // 100)
    second = bundles[1]
    relations = {link["relation"] for link in second["link"]}
    assert {"self", "next", "previous"} <= relations
    capped = launch.get("Observation", token["access_token"], _count=5000).json()
    assert len(capped["entry"]) == profiles.PORTALS["summit-epic"].page_size_max
    default = launch.get("Observation", token["access_token"]).json()
    assert len(default["entry"]) == profiles.PORTALS["summit-epic"].page_size_default
    bad = launch.get("Observation", token["access_token"], _count="many")
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"


def test_last_updated_filter(bob) -> None:
    launch, token = bob
    everything = launch.get("Condition", token["access_token"], _count=100).json()
    stamps = sorted(e["resource"]["meta"]["lastUpdated"] for e in everything["entry"])
    middle = stamps[len(stamps) // 2]
    newer = launch.get(
        "Condition", token["access_token"], _lastUpdated=f"gt{middle}", _count=100
    ).json()
    assert all(e["resource"]["meta"]["lastUpdated"] > middle for e in newer.get("entry", []))
    assert newer["total"] == sum(1 for s in stamps if s > middle)
    window = launch.get(
        "Condition",
        token["access_token"],
        _lastUpdated=[f"ge{stamps[0]}", f"le{stamps[-1]}"],
        _count=100,
    ).json()
    assert window["total"] == len(stamps)
    assert "_lastUpdated=gt" in newer["link"][0]["url"]
    bad = launch.get("Condition", token["access_token"], _lastUpdated="yesterday")
    assert bad.status_code == 400


def test_patient_parameter_must_be_the_patient_in_context(bob) -> None:
    launch, token = bob
    ok = launch.get("Observation", token["access_token"], patient=f"Patient/{token['patient']}")
    assert ok.status_code == 200
    other = launch.get("Observation", token["access_token"], patient="someone-else")
    assert other.status_code == 403 and other.json()["issue"][0]["code"] == "forbidden"
    assert launch.get("Patient/someone-else", token["access_token"]).status_code == 404


def test_read_id_category_and_unsupported_types(bob) -> None:
    launch, token = bob
    bundle = launch.get("Observation", token["access_token"], category="laboratory").json()
    assert bundle["total"] > 0
    for entry in bundle["entry"]:
        codes = {c["code"] for cat in entry["resource"]["category"] for c in cat["coding"]}
        assert "laboratory" in codes
    first = bundle["entry"][0]["resource"]
    read = launch.get(f"Observation/{first['id']}", token["access_token"])
    assert read.status_code == 200 and read.json() == first
    by_id = launch.get("Observation", token["access_token"], _id=first["id"]).json()
    assert by_id["total"] == 1
    missing = launch.get("ExplanationOfBenefit", token["access_token"])
    assert missing.status_code == 404 and missing.json()["issue"][0]["code"] == "not-supported"


def test_post_search(bob) -> None:
    import requests

    launch, token = bob
    resp = requests.post(
        f"{launch.fhir}/Observation/_search",
        data={"_count": "3"},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert resp.status_code == 200 and len(resp.json()["entry"]) == 3


def test_dora_pages_are_served_quickly(sim: Sim) -> None:
    api, body = sim.new_workspace(seed=8, clock="manual")
    launch = new_launch(sim, "summit-epic", body["api_key"])
    token = launch.connect("dora")
    launch.get("Observation", token["access_token"])  # builds the record once
    started = time.perf_counter()
    bundles = pages(launch, token["access_token"], f"{launch.fhir}/Observation?_count=100")
    elapsed = time.perf_counter() - started
    assert sum(len(b["entry"]) for b in bundles) == bundles[0]["total"] > 1500
    assert elapsed < 5.0
