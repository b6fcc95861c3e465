"""The whole simulator as one WSGI application: Connect API + control plane + mock portals."""

from __future__ import annotations

from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from simulator.core.config import Config
from simulator.core.runtime import Runtime
from simulator.web.app import create_app

PORTALS_PREFIX = "/portals"


def build_wsgi(runtime: Runtime) -> Any:
    """Mount every mock portal under `/portals` beside the simulator."""
    from portal_mocks import create_app as create_portals

    sim = create_app(runtime=runtime)
    return DispatcherMiddleware(sim, {PORTALS_PREFIX: create_portals(runtime)})


def build(config: Config | None = None) -> tuple[Runtime, Any]:
    rt = Runtime(config)
    return rt, build_wsgi(rt)
