"""Attempts keep a source's SMART configuration for as long as its max-age allows."""

from __future__ import annotations

import pytest
from flowkit import EPIC, active_connection, spy_on_portal_calls

from simulator.clients import fhir
from simulator.testing import Sim


@pytest.fixture
def discoveries(sim: Sim) -> list[str]:
    """Every SMART configuration the simulator asks its portals for, in order."""
    return spy_on_portal_calls(sim, lambda path: path.endswith("/.well-known/smart-configuration"))


def test_attempts_within_the_max_age_read_discovery_once(sim, api, discoveries) -> None:
    first = active_connection(api, "alice", EPIC, patient_id="p1")
    second = active_connection(api, "bob", EPIC, patient_id="p2")
    assert first["status"] == second["status"] == "active"
    assert len(discoveries) == 1
    api.advance(61)  # the portal allows 60 s
    third = active_connection(api, "alice", EPIC, patient_id="p3")
    assert third["status"] == "active"
    assert len(discoveries) == 2


def test_a_configuration_without_max_age_is_read_on_every_attempt(
    sim, api, discoveries, monkeypatch
) -> None:
    from portal_mocks.web import discovery

    monkeypatch.setattr(discovery, "DOCUMENT_MAX_AGE", "no-store")
    active_connection(api, "alice", EPIC, patient_id="p1")
    active_connection(api, "bob", EPIC, patient_id="p2")
    assert len(discoveries) == 2


def test_max_age_reads_cache_control() -> None:
    assert fhir.max_age("public, max-age=60") == 60
    assert fhir.max_age('max-age="30"') == 30
    assert fhir.max_age("max-age=60, no-store") is None
    assert fhir.max_age("max-age=soon") is None
    assert fhir.max_age("public") is None
