"""Grant numbering at the portals: one counter per workspace, read by an index probe."""

from __future__ import annotations

from portal_mocks import grants
from simulator.testing import Sim


def _start(sim: Sim, ws_id: str, slug: str) -> grants.Grant:
    return grants.start(
        sim.runtime,
        ws_id=ws_id,
        slug=slug,
        client_id="client-1",
        redirect_uri="https://app.example/callback",
        scope=["launch/patient", "openid"],
        aud=None,
        state="s",
        code_challenge="c" * 43,
        nonce=None,
        login_ttl_s=600,
    )


def _workspace_ids(sim: Sim) -> list[str]:
    return [r[0] for r in sim.runtime.store.all("SELECT id FROM workspaces ORDER BY id")]


def test_seq_counts_per_workspace_across_portals_and_the_row_comes_back_whole() -> None:
    with Sim() as sim:
        sim.new_workspace(seed=1)
        sim.new_workspace(seed=2)
        ws_a, ws_b = _workspace_ids(sim)[-2:]
        first = _start(sim, ws_a, "summit-epic")
        second = _start(sim, ws_a, "lakeside-cerner")
        other = _start(sim, ws_b, "summit-epic")
        third = _start(sim, ws_a, "summit-epic")
        assert [first.seq, second.seq, third.seq] == [1, 2, 3]
        assert other.seq == 1
        assert first.status == "login"
        assert first.requested_scope == ["launch/patient", "openid"]
        assert grants.get(sim.runtime, first.id) == first


def test_the_next_seq_is_read_from_the_workspace_seq_index() -> None:
    query = "SELECT COALESCE(MAX(seq), 0) + 1 FROM portal_grants WHERE workspace_id = 'ws'"
    with Sim() as sim:
        store = sim.runtime.store
        if store.dialect.name == "sqlite":
            plan = [row[3] for row in store.all("EXPLAIN QUERY PLAN " + query)]
        else:  # an empty table is scanned whatever its indexes: ask for the index path
            with store.tx():
                store.execute("SET LOCAL enable_seqscan = off")
                plan = [row[0] for row in store.all("EXPLAIN " + query)]
        assert any("portal_grants_ws_seq" in line for line in plan), plan
