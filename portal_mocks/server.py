"""The portals alone (`connect-sim portals`): every portal under `/portals`, plus the
fault control plane (`/_sim/faults/catalog`, `/_sim/portals/...`) and the uploaded
personas (`/_sim/personas`) for the default workspace's key, with the same URLs as in
the full simulator.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from portal_mocks import create_wsgi
from simulator.core.config import Config
from simulator.core.runtime import Runtime
from simulator.core.webkit import RUNTIME_KEY, install_error_handling

PORTALS_PREFIX = "/portals"


def control_app(runtime: Runtime) -> Flask:
    from portal_mocks.web import control, personas

    app = Flask("connect_sim_portals_control")
    app.extensions[RUNTIME_KEY] = runtime
    app.json.sort_keys = False
    install_error_handling(app)
    app.register_blueprint(control.bp)
    app.register_blueprint(personas.bp)
    return app


def build_wsgi(runtime: Runtime) -> Any:
    return DispatcherMiddleware(control_app(runtime), {PORTALS_PREFIX: create_wsgi(runtime)})


def build(config: Config) -> tuple[Runtime, Any]:
    rt = Runtime(config)
    return rt, build_wsgi(rt)
