"""Re-pulls ask the portal only for what changed since the last clean pull (`_lastUpdated`)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flowkit import EPIC, active_connection, events_of, spy_on_portal_calls, statements

from portal_mocks.personas import PERSONAS
from portal_mocks.profiles import PORTALS
from portal_mocks.records import build
from simulator.clients import fhir
from simulator.core.timeutil import iso
from simulator.testing import Sim

DAY = 86400


@pytest.fixture
def searches(sim: Sim) -> list[str]:
    """Every FHIR search URL the simulator sends to its portals, in order."""
    return spy_on_portal_calls(
        sim,
        lambda path: "/fhir/" in path and not path.endswith(("/metadata", "smart-configuration")),
    )


def _since(url: str) -> list[str]:
    return parse_qs(urlsplit(url).query).get("_lastUpdated", [])


def _pull_starts(sim: Sim) -> list[int]:
    rows = sim.runtime.store.all("SELECT started_ms FROM pulls ORDER BY started_ms")
    return [r[0] for r in rows]


def test_a_re_pull_asks_each_type_only_for_what_changed_since_the_last_pull(sim, api, searches):
    active_connection(api, "alice", EPIC)
    first = list(searches)
    assert first and all(_since(url) == [] for url in first)  # the first pull reads everything
    searches.clear()
    api.advance(DAY)
    started = _pull_starts(sim)
    assert len(started) == 3  # the first, the re-pull, the next one scheduled
    wanted = [f"ge{iso(started[0])}"]
    assert searches and all(_since(url) == wanted for url in searches), searches
    types = {urlsplit(url).path.rsplit("/", 1)[-1] for url in searches}
    assert types == {urlsplit(url).path.rsplit("/", 1)[-1] for url in first}
    # nothing changed at the portal: nothing new, and every record is still there
    totals = [e["data"]["object"]["total"] for e in events_of(api, "records.sync.completed")]
    expected = build(1, PORTALS["summit-epic"], PERSONAS["alice"]).count()
    assert totals == [expected, 0]
    searches.clear()
    api.advance(DAY)  # the next re-pull starts from the one before it
    assert searches and all(_since(url) == [f"ge{iso(started[1])}"] for url in searches)


def test_a_re_pull_of_empty_pages_writes_its_progress_once_with_its_completion(sim, api, searches):
    active_connection(api, "alice", EPIC)
    searches.clear()
    with statements(sim) as ran:
        api.advance(DAY)
    assert len(searches) >= 9  # a page a type, each empty
    progress = [s for s in ran if s.startswith("UPDATE pulls") and "next_url" in s]
    assert len(progress) == 1 and "status" in progress[0], progress  # the completing move
    (_, repull) = [e["data"]["object"] for e in events_of(api, "records.sync.completed")]
    assert repull["total"] == 0


def test_a_pull_asked_for_from_the_control_plane_reads_everything(sim, api, searches):
    conn = active_connection(api, "alice", EPIC)
    api.advance(DAY)  # a clean scheduled re-pull
    searches.clear()
    pulled = api.post(f"/_sim/connections/{conn['id']}/pull").json
    assert pulled["last_pull"]["reason"] == "manual"
    assert searches and all(_since(url) == [] for url in searches)
    expected = build(1, PORTALS["summit-epic"], PERSONAS["alice"]).count()
    assert pulled["last_pull"]["total"] == expected


def test_after_a_pull_with_a_failed_type_the_next_pull_reads_everything(sim, api, searches):
    active_connection(api, "alice+fhir_500:Observation", EPIC)
    api.advance(3600)  # the Observation retries run out: that type is an error
    (event,) = events_of(api, "records.sync.completed")
    assert [e["resource_type"] for e in event["data"]["object"]["errors"]] == ["Observation"]
    searches.clear()
    api.advance(DAY)
    assert searches and all(_since(url) == [] for url in searches)


def test_a_portal_that_cannot_search_by_last_update_is_read_in_full(
    sim, api, searches, monkeypatch
):
    active_connection(api, "alice", EPIC)
    monkeypatch.setattr(fhir, "supports_search_param", lambda capability, rtype, name: False)
    searches.clear()
    api.advance(DAY)
    assert searches and all(_since(url) == [] for url in searches)


def test_the_capability_statement_says_which_types_search_by_last_update():
    capability = {
        "rest": [
            {
                "resource": [
                    {"type": "Observation", "searchParam": [{"name": "_lastUpdated"}]},
                    {"type": "Condition", "searchParam": [{"name": "patient"}]},
                ]
            }
        ]
    }
    assert fhir.supports_search_param(capability, "Observation", "_lastUpdated")
    assert not fhir.supports_search_param(capability, "Condition", "_lastUpdated")
    assert not fhir.supports_search_param(capability, "Patient", "_lastUpdated")


@pytest.fixture
def metadata_reads(sim: Sim) -> list[str]:
    """Every CapabilityStatement the simulator asks its portals for, in order."""
    return spy_on_portal_calls(sim, lambda path: path.endswith("/fhir/metadata"))


def test_pulls_keep_the_capability_statement_for_as_long_as_its_max_age_allows(
    sim, api, metadata_reads
):
    assert fhir.max_age("public, max-age=60") == 60
    assert fhir.max_age("max-age=60, no-cache") is None
    assert fhir.max_age(None) is None
    conn = active_connection(api, "alice", EPIC)
    assert len(metadata_reads) == 1
    again = api.post(f"/_sim/connections/{conn['id']}/pull").json
    assert again["last_pull"]["status"] == "completed"
    assert len(metadata_reads) == 1  # within the portal's max-age: not asked again
    other = active_connection(api, "bob", EPIC, patient_id="p2")
    assert other["status"] == "active" and len(metadata_reads) == 1
    api.advance(61)  # the kept statement is stale now
    api.post(f"/_sim/connections/{conn['id']}/pull")
    assert len(metadata_reads) == 2
    expected = build(1, PORTALS["summit-epic"], PERSONAS["alice"]).count()
    assert api.post(f"/_sim/connections/{conn['id']}/pull").json["last_pull"]["total"] == expected


def test_a_capability_statement_without_max_age_is_read_on_every_pull(
    sim, api, metadata_reads, monkeypatch
):
    from portal_mocks.web import discovery

    monkeypatch.setattr(discovery, "DOCUMENT_MAX_AGE", "no-cache")
    conn = active_connection(api, "alice", EPIC)
    api.post(f"/_sim/connections/{conn['id']}/pull")
    assert len(metadata_reads) == 2
