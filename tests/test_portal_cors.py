"""CORS on the portals is what a browser SMART app needs and no more."""

from __future__ import annotations

import pytest
import requests

from simulator.testing import Sim

EVIL = {"Origin": "https://evil.example"}


@pytest.fixture
def routed(sim: Sim) -> Sim:
    sim.route_outbound()
    return sim


@pytest.mark.parametrize(
    "path", ["/fhir/.well-known/smart-configuration", "/fhir/metadata", "/jwks"]
)
def test_smart_reads_are_open_to_any_origin_without_credentials(routed: Sim, path: str) -> None:
    resp = requests.get(f"{routed.base_url}/portals/summit-epic{path}", headers=EVIL, timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "*"  # never the caller's origin
    assert "Access-Control-Allow-Credentials" not in resp.headers


def test_the_token_endpoint_answers_cors_without_reflecting(routed: Sim) -> None:
    url = f"{routed.base_url}/portals/summit-epic/token"
    resp = requests.post(url, data={"grant_type": "refresh_token"}, headers=EVIL, timeout=10)
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in resp.headers


def test_registration_and_the_connect_api_send_no_cors(routed: Sim) -> None:
    reg = requests.post(
        f"{routed.base_url}/portals/summit-epic/register",
        json={"redirect_uris": ["http://localhost:8765/cb"]},
        headers=EVIL,
        timeout=10,
    )
    assert reg.status_code == 201 and "Access-Control-Allow-Origin" not in reg.headers
    api = requests.get(f"{routed.base_url}/health", headers=EVIL, timeout=10)
    assert "Access-Control-Allow-Origin" not in api.headers
