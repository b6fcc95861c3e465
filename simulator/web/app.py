"""The application factory: `create_app(runtime)` builds the simulator's Flask app.

The runtime comes wired from the composition root (`simulator.compose.build_runtime`).
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Blueprint, Flask

from simulator.core.runtime import Runtime
from simulator.web import api, control, dashboard, hosted, reference
from simulator.web.http import RUNTIME_KEY, install_error_handling


def create_app(rt: Runtime, blueprints: Sequence[Blueprint] = ()) -> Flask:
    """The Connect API, the hosted pages, the dashboard and the control plane of one runtime.

    `blueprints` are served (and documented) beside them: the composition root passes
    the mock portals' part of the control plane.
    """
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = rt.config.max_body_bytes
    app.json.sort_keys = False
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.extensions[RUNTIME_KEY] = rt
    install_error_handling(app)
    api.register(app)
    control.register(app)
    app.register_blueprint(hosted.bp)
    app.register_blueprint(reference.bp)
    app.register_blueprint(dashboard.bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app
