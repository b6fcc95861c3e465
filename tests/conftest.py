from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator.testing import Api, Sim


@pytest.fixture
def sim() -> Iterator[Sim]:
    """A whole simulator in memory with a manual clock; outbound HTTP routed in-process."""
    with Sim() as s:
        s.route_outbound()
        yield s


@pytest.fixture
def api(sim: Sim) -> Api:
    """A client for a fresh workspace (manual clock, seed 1)."""
    client, _ = sim.new_workspace(seed=1, clock="manual")
    return client
