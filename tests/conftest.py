from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from simulator.testing import TEST_DB_ENV, Api, Sim


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db-backend",
        choices=("sqlite", "postgres"),
        default=None,
        help="the store every in-memory Sim uses: sqlite (in memory) or postgres (a fresh"
        f" schema per Sim in the database at ${TEST_DB_ENV}); default: postgres when"
        f" ${TEST_DB_ENV} is set",
    )


def pytest_configure(config: pytest.Config) -> None:
    backend = config.getoption("--db-backend")
    if backend == "postgres" and not os.environ.get(TEST_DB_ENV, "").startswith("postgres"):
        raise pytest.UsageError(
            f"--db-backend=postgres needs ${TEST_DB_ENV}=postgresql://… (make test starts a"
            " throwaway cluster with scripts/install-postgres.sh)"
        )
    if backend == "sqlite":
        os.environ.pop(TEST_DB_ENV, None)


def pytest_report_header(config: pytest.Config) -> str:
    return "store: " + ("postgres" if os.environ.get(TEST_DB_ENV) else "sqlite")


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
