"""The portals' lean paths answer as the plain ones did: Bundle pages and reads are spliced
from resources encoded once, discovery documents are built once per portal app, a token call
reads its client once and a store's signing key is read once.

"Before" is the portal app's own `jsonify` of the JSON value (what every FHIR and
discovery response used to be); "after" is what the endpoint sends now.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from flask import Flask, jsonify
from flowkit import statements
from portalkit import SLUGS, Launch, new_launch

import portal_mocks
from portal_mocks import capability, fhir_search, keys, personas, profiles, records, scopes, wire
from simulator.core.store import dumps
from simulator.testing import Sim

QUERIES = (
    "",
    "_count=7",
    "_count=100&_offset=40",
    "_count=0",
    "_lastUpdated=ge2024-01-01&_count=50",
    "_lastUpdated=lt2025-06-01T00:00:00Z&_lastUpdated=gt2019-01-01&_count=30&_offset=5",
    "category=laboratory&_count=40",
    "category=vital-signs,laboratory&_lastUpdated=ge2022-01-01",
    "category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
    "category=clinical-note&_count=3",
)


def ordered(body: bytes) -> Any:
    """JSON parsed with key order kept (objects as lists of pairs)."""
    return json.loads(body, object_pairs_hook=list)


def before(app: Flask, value: Any) -> bytes:
    with app.app_context():
        return jsonify(value).get_data()


def answered(launch: Launch, path: str, token: str) -> requests.Response:
    """A 200 for a FHIR GET, asking again through the flaky clinic's seeded 503s."""
    for _ in range(50):
        resp = launch.get(path, token)
        if not (resp.status_code == 503 and launch.slug == "harbor-clinic"):
            break
    assert resp.status_code == 200, resp.text
    return resp


@pytest.fixture
def portal_app(sim: Sim) -> Flask:
    """A portal app on the simulator's runtime: its JSON provider is the reference encoder."""
    return portal_mocks.create_app(sim.runtime)


def assert_pages_as_before(
    sim: Sim,
    portal_app: Flask,
    launch: Launch,
    workspace: dict[str, Any],
    name: str,
    types: tuple[str, ...],
) -> None:
    """Every query of QUERIES on `types` for persona `name`: the bytes the plain path wrote."""
    portal = profiles.PORTALS[launch.slug]
    token = launch.connect(name)
    record = records.build(workspace["seed"], portal, personas.PERSONAS[name])
    for resource_type in types:
        for query in QUERIES:
            resp = answered(launch, f"{resource_type}?{query}", token["access_token"])
            bundle = fhir_search.search(
                record,
                portal,
                resource_type,
                parse_qs(query),
                fhir_base=launch.fhir,
                now_ms=sim.runtime.now(workspace["id"]),
                category_limits=scopes.category_filters(token["scope"].split(), resource_type),
            )
            old = before(portal_app, bundle.as_dict())
            assert json.loads(resp.content) == json.loads(old), (name, resource_type, query)
            assert ordered(resp.content) == ordered(old)
            assert resp.content == old
            assert resp.headers["Content-Type"] == "application/fhir+json; charset=utf-8"


@pytest.mark.parametrize("slug", SLUGS)
def test_search_pages_parse_as_before(sim: Sim, portal_app: Flask, slug: str) -> None:
    api, created = sim.new_workspace(seed=23, clock="manual")
    launch = new_launch(sim, slug, created["api_key"])
    for name in ("alice", "bob", "dora"):
        assert_pages_as_before(
            sim, portal_app, launch, created, name, profiles.PORTALS[slug].resource_types
        )


def test_granular_scope_pages_parse_as_before(sim: Sim, portal_app: Flask) -> None:
    api, created = sim.new_workspace(seed=26, clock="manual")
    vitals = "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"
    launch = new_launch(
        sim,
        "summit-epic",
        created["api_key"],
        scope=f"launch/patient patient/Observation.rs?category={vitals} patient/Condition.rs",
    )
    types = ("Observation", "Condition")
    assert_pages_as_before(sim, portal_app, launch, created, "bob", types)


def test_reads_and_empty_pages_parse_as_before(sim: Sim, portal_app: Flask) -> None:
    api, created = sim.new_workspace(seed=24, clock="manual")
    launch = new_launch(sim, "summit-epic", created["api_key"])
    token = launch.connect("erin")["access_token"]
    empty = launch.get("Observation", token)
    assert empty.status_code == 200 and "entry" not in empty.json()
    token = launch.connect("bob")["access_token"]
    record = records.build(24, profiles.PORTALS["summit-epic"], personas.PERSONAS["bob"])
    for resource in record.resources("Observation")[:20] + record.resources("Patient"):
        resp = launch.get(f"{resource['resourceType']}/{resource['id']}", token)
        assert resp.headers["Content-Type"] == "application/fhir+json; charset=utf-8"
        assert resp.content == before(portal_app, resource)


def test_wire_encoding_is_the_json_providers(portal_app: Flask) -> None:
    value = {"z": 1, "a": ["é", "\u2028", "\U0001f600", '"q"', "\\", 1.5, -0.0, None, True]}
    assert wire.encode(value) + b"\n" == before(portal_app, value)


def test_bundle_encode_is_its_dict_encoded() -> None:
    portal = profiles.PORTALS["lakeside-cerner"]
    record = records.build(3, portal, personas.PERSONAS["bob"])
    for params in ({"_count": ["100"]}, {"_count": ["0"]}, {"category": ["nothing"]}):
        bundle = fhir_search.search(
            record, portal, "Observation", params, fhir_base="https://x.example/fhir", now_ms=0
        )
        assert bundle.encode() == wire.encode(bundle.as_dict())


@contextmanager
def counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> Iterator[Callable[[], int]]:
    """Count the calls of `owner.name` while the block runs."""
    calls: list[int] = []
    real = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    yield lambda: len(calls)


def test_discovery_documents_are_built_once_per_portal(
    sim: Sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    builders = {
        "fhir/metadata": "capability_statement",
        "fhir/.well-known/smart-configuration": "smart_configuration",
        "fhir/.well-known/openid-configuration": "openid_configuration",
    }
    for path, builder in builders.items():
        with counting(monkeypatch, capability, builder) as calls:
            for slug in ("summit-epic", "bluebutton"):
                bodies = {sim.client.get(f"/portals/{slug}/{path}").get_data() for _ in range(3)}
                assert len(bodies) == 1
                assert sim.client.get(f"/portals/{slug}/{path}").status_code == 200
        assert calls() == 2, path
    with counting(monkeypatch, keys, "jwks") as calls:
        for _ in range(3):
            assert sim.client.get("/portals/summit-epic/jwks").json["keys"]
    assert calls() == 1


def test_discovery_documents_parse_as_before(sim: Sim, portal_app: Flask) -> None:
    base = sim.runtime.base_url
    for slug, portal in profiles.PORTALS.items():
        url = f"{base}/portals/{slug}"
        name = sim.runtime.catalog.by_slug(slug)
        built = {
            "fhir/metadata": capability.capability_statement(
                portal, url, f"{url}/fhir", name.name if name else portal.display_name
            ),
            "fhir/.well-known/smart-configuration": capability.smart_configuration(
                portal, url, f"{url}/fhir"
            ),
            "fhir/.well-known/openid-configuration": capability.openid_configuration(
                portal, url, f"{url}/fhir"
            ),
            "jwks": keys.jwks(sim.runtime, slug),
        }
        for path, doc in built.items():
            for _ in range(2):
                assert sim.client.get(f"/portals/{slug}/{path}").get_data() == before(
                    portal_app, doc
                )


def signed_in(sim: Sim) -> Launch:
    api, created = sim.new_workspace(seed=25, clock="manual")
    launch = new_launch(sim, "summit-epic", created["api_key"])
    launch.code("alice")
    return launch


def test_a_token_call_reads_its_client_once_and_the_signing_key_not_again(sim: Sim) -> None:
    launch = signed_in(sim)
    launch.fetch_token()  # the first id_token of this store reads the portal's key
    launch.code("alice")
    with statements(sim) as ran:
        token = launch.fetch_token()
    assert "id_token" in token
    # read once by the authorize step; a process alone on its store remembers it
    reads = 1 if sim.runtime.store.shared else 0
    assert sum("FROM portal_clients" in s for s in ran) == reads
    assert not any("portal_signing_keys" in s for s in ran)
    with statements(sim) as ran:
        assert launch.refresh_raw(token["refresh_token"]).status_code == 200
    assert sum("FROM portal_clients" in s for s in ran) == reads


def test_a_code_exchange_reads_its_grant_once_and_no_fault_when_none_is_stored(sim: Sim) -> None:
    launch = signed_in(sim)
    with statements(sim) as ran:
        token = launch.fetch_token()
    assert "access_token" in token
    reads = [s for s in ran if s.lstrip().upper().startswith("SELECT")]
    # the grant, read with whether any fault is stored at the portal; its status comes back
    # from the write that spends the code, not from a read of its own
    assert sum("FROM portal_grants" in s for s in reads) == 1
    assert not any("FROM portal_faults" in s and "EXISTS" not in s for s in reads)
    assert not any("SELECT status FROM portal_grants" in s for s in ran)
    spent = sim.runtime.store.one(
        "SELECT status, code_used_ms FROM portal_grants WHERE code = ?",
        (launch.signin.params["code"],),
    )
    assert spent[0] == "active" and spent[1] is not None


def test_a_remembered_client_is_forgotten_when_its_workspace_is_reset(sim: Sim) -> None:
    api, created = sim.new_workspace(seed=25, clock="manual")
    launch = new_launch(sim, "summit-epic", created["api_key"])
    launch.code("alice")
    token = launch.fetch_token()
    assert launch.refresh_raw(token["refresh_token"]).status_code == 200  # client known
    api.post("/_sim/reset")
    refused = launch.refresh_raw(token["refresh_token"])
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    page = requests.get(launch.authorize_url(), allow_redirects=False, timeout=10)
    assert page.status_code == 400 and "unknown to this portal" in page.text


def test_each_store_signs_with_the_key_it_holds(sim: Sim) -> None:
    from joserfc import jwt
    from joserfc.jwk import KeySet, RSAKey

    launch = signed_in(sim)
    mine = keys.signing_key(sim.runtime, "summit-epic")
    theirs = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    with Sim() as other:
        other.runtime.store.execute(
            "INSERT INTO portal_signing_keys (slug, jwk) VALUES (?, ?)",
            ("summit-epic", dumps(theirs.as_dict(private=True))),
        )
        assert keys.signing_key(other.runtime, "summit-epic").kid == theirs.kid
    assert keys.signing_key(sim.runtime, "summit-epic").kid == mine.kid != theirs.kid
    id_token = launch.fetch_token()["id_token"]
    published = KeySet.import_key_set(keys.jwks(sim.runtime, "summit-epic"))
    claims = jwt.decode(id_token, published, algorithms=["RS256"]).claims
    assert claims["aud"] == launch.client["client_id"]


def test_a_search_reads_the_clock_once_and_the_seed_once_per_workspace(sim: Sim) -> None:
    launch = signed_in(sim)
    token = launch.fetch_token()["access_token"]
    first = launch.get("Observation", token)
    assert first.status_code == 200
    with statements(sim) as ran:
        again = launch.get("Observation", token)
    assert again.status_code == 200 and again.content == first.content
    assert sum("clock_mode" in s for s in ran) <= 1
    assert not any("SELECT * FROM workspaces" in s for s in ran)


def test_workspace_seeds_are_read_once_and_kept_up_to_the_memo_limit() -> None:
    from simulator.core.memo import Memo

    with Sim() as sim:
        _, first = sim.new_workspace(seed=5)
        _, second = sim.new_workspace(seed=6)
        rt = sim.runtime
        stored = dict(rt.store.all("SELECT id, seed FROM workspaces"))
        with statements(sim) as ran:
            found = {ws: rt.seed_of(ws) for ws in stored}
        assert found == stored and {5, 6} <= set(found.values())
        assert sum("FROM workspaces" in s for s in ran) == len(stored)
        with statements(sim) as ran:
            assert {ws: rt.seed_of(ws) for ws in stored} == stored
        assert not ran  # remembered
        rt.memo = Memo(limit=1)
        assert {ws: rt.seed_of(ws) for ws in stored} == stored
        assert len(rt.memo) == 1
        with pytest.raises(KeyError):
            rt.seed_of("ws_unknown")
