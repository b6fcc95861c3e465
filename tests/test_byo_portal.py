"""Bring your own portal: an outside SMART server as a source, reached over real HTTP.

The outside server is `connect-sim portals` started as a separate process on a free
port; the simulator (in this process) knows it only by the source added through
`POST /_sim/sources` (or the catalog file) with a client registered there by the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from flowkit import EPIC, connect, done, new_session, patient_records
from portalproc import portals_process, register_public_client

from portal_mocks.personas import PERSONAS
from portal_mocks.profiles import PORTALS
from portal_mocks.records import build
from simulator.core.sources import DEFAULT_PATH
from simulator.testing import Sim

# Loopback, so that the outside portal takes an anonymous registration of this callback;
# the simulator answers its own base URL in process (nothing listens on the port).
SIM_BASE = "http://127.0.0.1:9"
CALLBACK = SIM_BASE + "/oauth/callback"
OUTSIDE_SEED = 0
HOUR = 3600


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> str:
    with portals_process(tmp_path_factory.mktemp("outside"), seed=OUTSIDE_SEED) as base:
        yield base


def _register_confidential(base: str, slug: str) -> tuple[str, str]:
    resp = requests.post(
        f"{base}/portals/{slug}/register",
        json={"redirect_uris": [CALLBACK], "client_name": "Medblocks Connect (outside)"},
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["client_id"], resp.json()["client_secret"]


def _tokens(sim: Sim, conn_id: str):
    return sim.runtime.store.one(
        "SELECT t.* FROM connection_tokens t JOIN connections c"
        " ON c.workspace_id = t.workspace_id AND c.attempt_id = t.attempt_id WHERE c.id = ?",
        (conn_id,),
    )


def _connected(api, source_id: str, username: str = "alice") -> dict:
    session = new_session(api)
    result = connect(api, session["id"], username, source_id)
    assert result["connection"] is not None, result
    assert result["connection"]["status"] == "active", result
    done(api, session["id"])
    return result["connection"]


def _reads_at_outside(base: str, slug: str, access_token: str) -> int:
    resp = requests.get(
        f"{base}/portals/{slug}/fhir/Patient",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )
    return resp.status_code


def test_a_picker_flow_to_an_outside_portal_pulls_and_refreshes_against_it(outside) -> None:
    slug = "summit-epic"
    client_id, secret = _register_confidential(outside, slug)
    with Sim(base_url=SIM_BASE) as sim:
        api, _ = sim.new_workspace(seed=3)
        fhir_base = f"{outside}/portals/{slug}/fhir"
        resp = api.post(
            "/_sim/sources",
            {
                "name": "Outside Summit (own process)",
                "fhir_base_url": fhir_base + "/",
                "client_id": client_id,
                "client_secret": secret,
                "type": "epic",
            },
        )
        assert resp.status_code == 200, resp.json
        source = resp.json
        assert source["fhir_base_url"] == fhir_base
        assert source["client_type"] == "confidential"
        assert secret not in json.dumps(source)
        assert source["discovery_url"] == fhir_base + "/.well-known/smart-configuration"
        # the workspace's catalog has it (API and Picker); another workspace's does not
        found = api.get("/connections", q="Outside Summit").json["data"]
        assert [s["id"] for s in found] == [source["id"]]
        other, _ = sim.new_workspace(seed=4)
        assert other.get("/connections", q="Outside Summit").json["data"] == []
        assert other.get(f"/connections/{source['id']}").status_code == 404

        conn = _connected(api, source["id"])
        # no registration at the outside server: the configured client is used
        assert sim.runtime.store.scalar("SELECT COUNT(*) FROM client_registrations") == 0

        expected = build(OUTSIDE_SEED, PORTALS[slug], PERSONAS["alice"])
        items = patient_records(api)
        assert len(items) == expected.count()
        assert {i["source"] for i in items} == {source["id"]}
        patient = next(i["resource"] for i in items if i["resource"]["resourceType"] == "Patient")
        assert patient["id"] == expected.patient_id

        before = _tokens(sim, conn["id"])
        assert before["refresh_count"] == 0 and before["refresh_token"]
        assert _reads_at_outside(outside, slug, before["access_token"]) == 200
        api.advance(HOUR)  # past the access token's expiry less the lead: one refresh
        after = _tokens(sim, conn["id"])
        assert after["refresh_count"] == 1
        assert after["access_token"] != before["access_token"]
        assert after["last_refresh_error"] is None
        assert _reads_at_outside(outside, slug, after["access_token"]) == 200
        view = api.get(f"/_sim/connections/{conn['id']}").json
        assert view["status"] == "active"
        # a disconnect revokes the grant at the outside server (RFC 7009), with that client
        gone = api.delete(f"/patients/p1/connections/{conn['id']}")
        assert gone.status_code == 200, gone.json
        assert _reads_at_outside(outside, slug, after["access_token"]) == 401


def test_a_public_client_at_an_outside_portal_keeps_its_rotated_refresh_token(outside) -> None:
    slug = "lakeside-cerner"  # rotates refresh tokens; 570 s access tokens
    client_id = register_public_client(outside, slug, CALLBACK)
    with Sim(base_url=SIM_BASE) as sim:
        api, _ = sim.new_workspace(seed=5)
        source = api.post(
            "/_sim/sources",
            {
                "name": "Outside Lakeside (public)",
                "fhir_base_url": f"{outside}/portals/{slug}/fhir",
                "client_id": client_id,
                "client_secret": None,
                "scope": "launch/patient openid fhirUser offline_access patient/*.read",
            },
        ).json
        assert source["client_type"] == "public"
        conn = _connected(api, source["id"], "carol")
        expected = build(OUTSIDE_SEED, PORTALS[slug], PERSONAS["carol"]).count()
        assert len(patient_records(api)) == expected
        first = _tokens(sim, conn["id"])
        api.advance(300)  # a refresh at half the 570 s lifetime
        second = _tokens(sim, conn["id"])
        assert second["refresh_count"] == 1
        assert second["refresh_token"] != first["refresh_token"]
        api.advance(300)
        third = _tokens(sim, conn["id"])
        assert third["refresh_count"] == 2 and third["last_refresh_error"] is None
        assert _reads_at_outside(outside, slug, third["access_token"]) == 200


def test_an_outside_portal_from_the_catalog_file(outside, tmp_path: Path) -> None:
    slug = "harbor-clinic"
    client_id, secret = _register_confidential(outside, slug)
    catalog = json.loads(DEFAULT_PATH.read_text())
    catalog["sources"].append(
        {
            "id": "fhirsrc_01JGFJJZ00OUTSIDE0000000000",
            "name": "Harbor, run elsewhere",
            "type": "eclinicalworks",
            "kind": "clinic",
            "fhir_base_url": f"{outside}/portals/{slug}/fhir",
            "smart": {"client_id": client_id, "client_secret": secret},
        }
    )
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    with Sim(base_url=SIM_BASE, catalog_path=str(path)) as sim:
        api, _ = sim.new_workspace(seed=6)
        conn = _connected(api, "fhirsrc_01JGFJJZ00OUTSIDE0000000000")
        assert conn["status"] == "active"
        assert sim.runtime.store.scalar("SELECT COUNT(*) FROM client_registrations") == 0
        # the flaky clinic's 503s are retried: the pull still gets the whole record
        api.advance(60)
        api.advance(600)
        expected = build(OUTSIDE_SEED, PORTALS[slug], PERSONAS["alice"]).count()
        assert len(patient_records(api)) == expected
        # the built-in portals are still there, registered dynamically as before
        assert _connected(api, EPIC, "bob")["status"] == "active"


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("ftp://127.0.0.1/fhir", "absolute http or https URL"),
        ("http://fhir.example.org/r4", "must use https"),
        ("http://evil.example\\@127.0.0.1/fhir", "every client reads the same way"),
        ("https://user:pw@fhir.example.org/r4", "credentials"),
        ("https://fhir.example.org/r4?x=1", "no query or fragment"),
        ("https://fhir.example.org/r4#top", "no query or fragment"),
        (SIM_BASE + "/portals/summit-epic/fhir", "this simulator's own portals"),
    ],
)
def test_outside_source_urls_are_checked(url, needle) -> None:
    with Sim(base_url=SIM_BASE) as sim:
        api = sim.api()
        resp = api.post("/_sim/sources", {"name": "x", "fhir_base_url": url, "client_id": "c"})
        assert resp.status_code == 400, resp.json
        err = resp.json["error"]
        assert err["code"] == "invalid_data" and err["param"] == "fhir_base_url"
        assert needle in err["message"]
        assert api.get("/_sim/sources").json["data"] == []


def test_an_outside_source_needs_a_name_and_a_client_id() -> None:
    with Sim() as sim:
        api = sim.api()
        resp = api.post("/_sim/sources", {"name": "x", "fhir_base_url": "https://f.example/r4"})
        assert resp.status_code == 400 and resp.json["error"]["param"] == "client_id"
        made = api.post(
            "/_sim/sources",
            {"name": "Elsewhere", "fhir_base_url": "https://f.example/r4", "client_id": "abc"},
        ).json
        assert api.get(f"/_sim/sources/{made['id']}").json == made
        assert api.get("/_sim/sources/fhirsrc_nope").status_code == 404


def test_an_unreachable_outside_portal_shows_the_patient_an_error() -> None:
    with Sim(base_url=SIM_BASE, http_timeout=2.0) as sim:
        api = sim.api()
        from test_foundation_restart import free_port

        source = api.post(
            "/_sim/sources",
            {
                "name": "Nobody home",
                "fhir_base_url": f"http://127.0.0.1:{free_port()}/fhir",
                "client_id": "abc",
            },
        ).json
        session = new_session(api)
        result = connect(api, session["id"], "alice", source["id"])
        assert result["connection"] is None
        assert result["stopped_at"] == "hosted_page"
        assert result["status_code"] >= 400


def test_serve_takes_a_catalog_file_with_an_outside_portal(tmp_path: Path) -> None:
    from test_foundation_restart import Client, free_port, server

    catalog = json.loads(DEFAULT_PATH.read_text())
    catalog["sources"].append(
        {
            "id": "fhirsrc_01JGFJJZ00OUTSIDE0000000001",
            "name": "Somewhere else",
            "fhir_base_url": "https://fhir.elsewhere.example/r4",
            "smart": {"client_id": "abc", "client_secret": "s3cret"},
        }
    )
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    port = free_port()
    with server(tmp_path / "sim.db", port, tmp_path / "serve.log", args=("--catalog", str(path))):
        found = Client(port).get("/connections", q="Somewhere").get("data")
    assert [s["id"] for s in found] == ["fhirsrc_01JGFJJZ00OUTSIDE0000000001"]
    assert "s3cret" not in json.dumps(found)


def test_an_uploaded_persona_at_an_outside_portal(tmp_path: Path) -> None:
    from portalproc import api_key

    example = json.loads(
        (Path(__file__).parent.parent / "examples/personas/jamie.json").read_text()
    )
    with portals_process(tmp_path) as base:
        key = api_key(tmp_path)
        uploaded = requests.post(
            f"{base}/_sim/personas",
            json={"username": "jamie", "bundle": example, "portals": ["maple-athena"]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert uploaded.status_code == 200, uploaded.text
        client_id, secret = _register_confidential(base, "maple-athena")
        with Sim(base_url=SIM_BASE) as sim:
            api, _ = sim.new_workspace(seed=8)
            source = api.post(
                "/_sim/sources",
                {
                    "name": "Maple, elsewhere",
                    "fhir_base_url": f"{base}/portals/maple-athena/fhir",
                    "client_id": client_id,
                    "client_secret": secret,
                },
            ).json
            _connected(api, source["id"], "jamie")
            items = patient_records(api)
    got = {}
    for item in items:
        got[item["resource"]["resourceType"]] = got.get(item["resource"]["resourceType"], 0) + 1
    assert got == uploaded.json()["counts"]
    patient = next(i["resource"] for i in items if i["resource"]["resourceType"] == "Patient")
    assert patient["id"] == uploaded.json()["patient_id"]
