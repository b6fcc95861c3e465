"""Blueprints of the Connect REST API (what the real service exposes)."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from . import connections, health, patient_connections, patients, sessions

    for module in (health, patients, patient_connections, sessions, connections):
        app.register_blueprint(module.bp)
