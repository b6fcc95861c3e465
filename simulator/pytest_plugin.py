"""pytest plugin (entry point `pytest11`): the Connect simulator as fixtures.

    def test_connects(connect_sim):
        session = connect_sim.call("POST", "/patient-sessions", {...})
        landing = connect_sim.patient.complete(session["id"], source="summit-epic")
        connect_sim.clock.advance("30d")

`connect_sim`: a simulator in this process (in-memory store), a fresh workspace per
test on a manual clock, at `http://connect-sim.test`; every `requests` call to that
URL, the app's own included, is answered in process (through `responses`), all other
HTTP reaches the network. `connect_sim_server`: a fresh workspace per test on a
`connect-sim serve` process started once per run on a free port (or on the simulator
at `--connect-sim-url` / `CONNECT_SIM_BASE_URL`), for apps in any language. Both give
the same helpers (`simulator.harness.client.ConnectSim`): `.patient`, `.clock`,
`.inbox()`, `.webhook()`, faults, and `.mount_app(app)` to let webhooks reach the app.

Loading the plugin imports only pytest: the simulator is imported when a fixture is used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from simulator.harness.client import ConnectSim
    from simulator.harness.served import SimServer

URL_ENV = "CONNECT_SIM_BASE_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("connect-sim")
    group.addoption(
        "--connect-sim-url",
        default=None,
        help=f"connect_sim_server uses this running simulator (default: ${URL_ENV}, else it"
        " starts `connect-sim serve` on a free port)",
    )
    group.addoption(
        "--connect-sim-seed",
        type=int,
        default=1,
        help="seed of each test's fresh workspace (ids and synthetic data); default 1",
    )


def _seed(config: pytest.Config) -> int:
    return int(config.getoption("--connect-sim-seed", default=1))


@pytest.fixture
def connect_sim(request: pytest.FixtureRequest) -> Iterator[ConnectSim]:
    """A simulator in this process with a fresh workspace and a manual clock.

    `requests` calls to `connect_sim.base_url` (`http://connect-sim.test`) reach it in
    process; `connect_sim.mount_app(app, "name")` routes `http://name.localhost` to a
    WSGI app, so webhook deliveries there run the app's handler."""
    from simulator.harness.inprocess import InProcessSim

    sim = InProcessSim(seed=_seed(request.config))
    try:
        yield sim
    finally:
        sim.close()


@pytest.fixture(scope="session")
def connect_sim_server_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of the served simulator: the one given, or one started for this run."""
    given = request.config.getoption("--connect-sim-url", default=None) or os.environ.get(URL_ENV)
    if given:
        yield given.rstrip("/")
        return
    from simulator.harness.served import SimServer

    server: SimServer = SimServer(tmp_path_factory.mktemp("connect-sim-serve")).start()
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture
def connect_sim_server(
    request: pytest.FixtureRequest, connect_sim_server_url: str
) -> Iterator[ConnectSim]:
    """A fresh workspace (manual clock) on a served simulator, emptied after the test.

    `connect_sim_server.env` holds its base URL and key for an app in another process;
    `mount_app(wsgi_app)` serves a Python app on a free loopback port for webhooks."""
    from simulator.harness.served import ServedSim

    sim = ServedSim(connect_sim_server_url, seed=_seed(request.config))
    try:
        yield sim
    finally:
        sim.close()
