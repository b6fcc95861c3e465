"""Mock SMART on FHIR portals (authorization servers + FHIR R4 servers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

if TYPE_CHECKING:
    from simulator.runtime import Runtime


def create_app(runtime: Runtime) -> Flask:
    """Every mock portal, each under `/<slug>/` (mounted at `/portals` by the simulator)."""
    app = Flask(__name__)
    app.extensions["connect_sim"] = runtime
    return app
