"""Blueprints of the Connect REST API (what the real service exposes)."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from simulator.web.api import (
        connections,
        health,
        launch_contexts,
        openapi_doc,
        patient_connections,
        patients,
        records,
        sessions,
    )

    for module in (
        health,
        openapi_doc,
        patients,
        patient_connections,
        records,
        sessions,
        connections,
        launch_contexts,
    ):
        app.register_blueprint(module.bp)
    from simulator.web.api import guard, webhooks

    app.register_blueprint(webhooks.bp)
    guard.install(app)
