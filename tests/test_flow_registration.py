"""The simulator's own app at the portals: RFC 7591 registration over HTTP, once per workspace."""

from __future__ import annotations

import pytest
from flowkit import CERNER, EPIC, active_connection

from simulator.clients import registration
from simulator.clients.smart import SmartError
from simulator.core import workspaces

EPIC_REGISTER = "http://sim.test/portals/summit-epic/register"


@pytest.fixture
def sent(sim) -> list:
    """Every request the simulator sends to its own portals from now on."""
    return sim.record_outbound()


def _registrations(sent: list) -> list:
    """The registration requests the simulator sent, oldest first."""
    return [request for request in sent if "/register" in request.url]


def _client_at_portal(sim, client_id: str):
    return sim.runtime.store.one("SELECT * FROM portal_clients WHERE client_id = ?", (client_id,))


def _registered(sim, ws_id: str) -> list:
    return sim.runtime.store.all(
        "SELECT * FROM client_registrations WHERE workspace_id = ? ORDER BY created_ms, source_id",
        (ws_id,),
    )


def test_one_registration_per_workspace_and_portal_with_the_registration_token(sim, api, sent):
    ws_id = api.get("/_sim/workspace").json["id"]
    active_connection(api, "alice", EPIC)
    active_connection(api, "bob", EPIC, patient_id="p2")
    (request,) = _registrations(sent)
    assert request.url == EPIC_REGISTER and request.method == "POST"
    token = workspaces.registration_token(sim.runtime.store, ws_id)
    assert request.headers["Authorization"] == f"Bearer {token}"
    assert token not in (api.api_key, sim.runtime.default_api_key)
    (row,) = _registered(sim, ws_id)
    assert row["redirect_uri"] == "http://sim.test/oauth/callback"
    client = _client_at_portal(sim, row["client_id"])
    assert client["workspace_id"] == ws_id and client["slug"] == "summit-epic"
    assert client["auth_method"] == "client_secret_basic"
    assert client["client_name"] == "Medblocks Connect"
    assert client["client_secret"] == row["client_secret"]

    active_connection(api, "alice", CERNER, patient_id="p3")
    other, _ = sim.new_workspace(seed=2)
    active_connection(other, "alice", EPIC)
    assert [r.url.rsplit("/", 2)[1] for r in _registrations(sent)] == [
        "summit-epic",
        "lakeside-cerner",
        "summit-epic",
    ]


def test_the_registration_token_is_never_shown(sim, api):
    ws = api.get("/_sim/workspace").json
    token = workspaces.registration_token(sim.runtime.store, ws["id"])
    assert token not in str(ws)
    assert token not in str(sim.client.post("/_sim/workspaces", json={}).json)
    assert token not in str(api.post("/_sim/reset").json)


def test_a_reset_forgets_the_registration_and_the_next_attempt_registers_again(sim, api, sent):
    ws_id = api.get("/_sim/workspace").json["id"]
    active_connection(api, "alice", EPIC)
    (before,) = _registered(sim, ws_id)
    api.post("/_sim/reset")
    assert _registered(sim, ws_id) == []
    assert _client_at_portal(sim, before["client_id"]) is None
    conn = active_connection(api, "alice", EPIC)
    assert conn["status"] == "active"
    (after,) = _registered(sim, ws_id)
    assert after["client_id"] != before["client_id"]
    assert len(_registrations(sent)) == 2


def test_a_refused_registration_is_a_smart_error(sim):
    with pytest.raises(SmartError) as refused:
        registration.register(
            sim.runtime.http,
            EPIC_REGISTER,
            redirect_uris=["http://sim.test/oauth/callback"],
            client_name="Medblocks Connect",
            initial_access_token="not-a-token",
            timeout=5,
        )
    assert refused.value.code == "invalid_token" and refused.value.status == 401


def test_a_refresh_reads_the_registration_once_per_runtime(sim, api):
    active_connection(api, "alice", CERNER)
    api.advance(285)  # the first refresh reads it
    statements: list[str] = []
    sim.runtime.store.trace(statements.append)
    try:
        assert api.advance(285 * 5)["jobs_run"] == 5
    finally:
        sim.runtime.store.trace(None)
    assert not [s for s in statements if "client_registrations" in s]
    assert sum("FROM connection_tokens" in s for s in statements) == 5  # the refreshes ran


def test_the_runtimes_memo_is_bounded():
    from simulator.core.memo import Memo

    memo = Memo(limit=3)
    for n in range(3):
        memo.keep(("fact", n), n)
    assert [memo.get(("fact", n)) for n in range(3)] == [0, 1, 2]
    memo.keep(("fact", 3), 3)  # full: it starts again
    assert len(memo) == 1 and memo.get(("fact", 0)) is None and memo.get(("fact", 3)) == 3
