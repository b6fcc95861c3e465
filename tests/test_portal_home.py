"""Each portal's home page tells an app developer what its discovery will not."""

from __future__ import annotations

from simulator.testing import Sim


def test_the_athena_like_portal_page_says_client_js_needs_unsafe_v1(sim: Sim) -> None:
    athena = sim.client.get("/portals/maple-athena/")
    assert athena.status_code == 200 and 'pkceMode: "unsafeV1"' in athena.get_data(as_text=True)
    epic = sim.client.get("/portals/summit-epic/")
    assert "unsafeV1" not in epic.get_data(as_text=True)
