"""A presented token is read with its grant in one query, as each table holds them."""

from __future__ import annotations

from flowkit import active_connection

from portal_mocks import grants
from simulator.testing import Api, Sim


def test_a_token_looked_up_with_its_grant_is_what_each_table_holds(sim: Sim, api: Api) -> None:
    active_connection(api)
    store = sim.runtime.store
    rows = store.all("SELECT * FROM portal_tokens")
    assert len(rows) >= 2  # an access and a refresh token at least
    for row in rows:
        token = grants._token(row)
        found = grants.lookup_with_grant(sim.runtime, token.slug, token.token)
        grant_row = store.one("SELECT * FROM portal_grants WHERE id = ?", (token.grant_id,))
        assert found == grants.Found(token, grants._grant(grant_row), False)
    # a token whose grant row is gone is found without a grant
    store.execute("DELETE FROM portal_grants WHERE id = ?", (token.grant_id,))
    lone = grants.lookup_with_grant(sim.runtime, token.slug, token.token)
    assert lone == grants.Found(token, None, False)
