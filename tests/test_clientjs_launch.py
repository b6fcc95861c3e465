"""A launch by SMART's own JavaScript client (npm `fhirclient`) at every portal.

`tests/clientjs/launch.js` runs client-js's Node adapter against `connect-sim portals`
started as a separate process: authorize (PKCE S256), the portal's login and consent
forms, the code exchange, `client.refresh()`, a read with the refreshed token and a
paged search with `pageLimit: 0`. `make test` installs node and the pinned client
(`tests/clientjs/package-lock.json`); a missing install fails here, it is not skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from portalproc import portals_process, register_public_client

from portal_mocks.personas import PERSONAS
from portal_mocks.profiles import PORTALS
from portal_mocks.records import build, patient_id

CLIENTJS = Path(__file__).parent / "clientjs"
REDIRECT_URI = "http://127.0.0.1:9/callback"
SEED = 0
# (persona, resource type searched, page size) per kind of portal
HOSPITAL_SEARCH = ("alice", "Observation", 10)
PAYER_SEARCH = ("mia", "ExplanationOfBenefit", 10)


@pytest.fixture(scope="module")
def portals(tmp_path_factory) -> str:
    with portals_process(tmp_path_factory.mktemp("clientjs"), seed=SEED) as base:
        yield base


def _node() -> str:
    node = shutil.which("node")
    assert node, "node is missing: `make test` installs it (scripts/install-node.sh)"
    assert (CLIENTJS / "node_modules" / "fhirclient").is_dir(), (
        "fhirclient is not installed: `make clientjs` (part of `make test`)"
    )
    return node


def _launch(base: str, slug: str, pkce_mode: str) -> dict:
    portal = PORTALS[slug]
    username, rtype, count = PAYER_SEARCH if portal.is_payer else HOSPITAL_SEARCH
    client_id = register_public_client(base, slug, REDIRECT_URI)
    cmd = [
        _node(),
        str(CLIENTJS / "launch.js"),
        "--iss",
        f"{base}/portals/{slug}/fhir",
        "--client-id",
        client_id,
        "--redirect-uri",
        REDIRECT_URI,
        "--username",
        username,
        "--pkce-mode",
        pkce_mode,
        "--search",
        rtype,
        "--count",
        str(count),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=CLIENTJS)
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    result = json.loads(lines[-1])
    assert done.returncode == 0 and result["ok"], (result, done.stderr)
    return result


def _advertises_pkce(base: str, slug: str) -> bool:
    doc = requests.get(f"{base}/portals/{slug}/fhir/.well-known/smart-configuration", timeout=10)
    return "S256" in doc.json().get("code_challenge_methods_supported", [])


@pytest.mark.parametrize("slug", [s for s in PORTALS if PORTALS[s].advertise_pkce_methods])
def test_client_js_launches_end_to_end_where_pkce_is_advertised(portals, slug) -> None:
    assert _advertises_pkce(portals, slug)
    result = _launch(portals, slug, "required")
    portal = PORTALS[slug]
    username, rtype, count = PAYER_SEARCH if portal.is_payer else HOSPITAL_SEARCH
    persona = PERSONAS[username]
    assert result["pkce_sent"]
    assert [line.split(" -> ")[1] for line in result["trail"]] == ["200", "303", "200", "302"]
    assert result["patient"] == patient_id(SEED, portal, persona)
    assert result["patient_read"] == f"Patient/{result['patient']}"
    assert result["had_refresh_token"] and result["refreshed"]
    assert "offline_access" in result["scope"].split()
    expected = len(build(SEED, portal, persona).resources(rtype))
    search = result["search"]
    assert search["total"] == search["resources"] == search["distinct"] == expected
    assert search["types"] == [rtype]
    assert search["pages"] == -(-expected // count) >= 2


def test_client_js_needs_its_unsafe_pkce_mode_where_discovery_leaves_pkce_out(portals) -> None:
    slug = "maple-athena"
    assert not _advertises_pkce(portals, slug)
    result = _launch(portals, slug, "unsafeV1")
    assert result["pkce_sent"] and result["refreshed"]
    expected = len(build(SEED, PORTALS[slug], PERSONAS["alice"]).resources("Observation"))
    assert result["search"]["resources"] == expected
    # with the default mode client-js sends no challenge, and the portal (PKCE required) refuses
    with pytest.raises(AssertionError, match="code_challenge"):
        _launch(portals, slug, "ifSupported")
