"""The control plane under `/_sim`: what the real service lacks (clock, workspaces, faults...).

The mock portals' part of it (`/_sim/faults/catalog`, `/_sim/portals/...`) is owned by
`portal_mocks.web.control`; the composition root registers it beside these blueprints.
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from simulator.web.control import (
        api_faults,
        api_keys,
        clock,
        connections,
        launch_contexts,
        operations,
        patient,
        sources,
        workspaces,
    )

    for module in (
        workspaces,
        clock,
        operations,
        patient,
        connections,
        api_faults,
        api_keys,
        launch_contexts,
        sources,
    ):
        app.register_blueprint(module.bp)
    from simulator.web.control import inboxes, webhooks

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(inboxes.bp)
