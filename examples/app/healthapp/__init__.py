"""HealthApp: a small integrator of Medblocks Connect (an example, tested on connect-sim).

It creates patients and patient sessions (Picker and Direct mode), handles the return
URL in both modes (verified server-side, never trusted), verifies and stores webhooks,
and shows each patient's connection status and records.

    MEDBLOCKS_BASE_URL=http://127.0.0.1:8700 MEDBLOCKS_API_KEY=mb_sk_sbx_... \\
    HEALTHAPP_PUBLIC_URL=http://localhost:5000 flask --app healthapp run
    flask --app healthapp register-webhook   # once: registers PUBLIC_URL/webhooks
"""

from __future__ import annotations

import os
import time
from typing import Any

import click
from flask import Flask

from healthapp import store, views
from healthapp.connect import ConnectClient


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        MEDBLOCKS_BASE_URL=os.environ.get("MEDBLOCKS_BASE_URL", "https://app.medblocks.com"),
        MEDBLOCKS_API_KEY=os.environ.get("MEDBLOCKS_API_KEY", ""),
        # where the patient's browser and Connect's webhooks reach this app
        PUBLIC_URL=os.environ.get("HEALTHAPP_PUBLIC_URL", "http://localhost:5000"),
        DATABASE=os.path.join(app.instance_path, "healthapp.sqlite"),
        DATABASE_TIMEOUT=5.0,
        WEBHOOK_SECRET=os.environ.get("MEDBLOCKS_WEBHOOK_SECRET"),
        CLOCK=time.time,  # what webhook timestamps are checked against
    )
    app.config.update(config or {})
    os.makedirs(os.path.dirname(os.path.abspath(app.config["DATABASE"])), exist_ok=True)
    store.init_app(app)
    app.extensions["healthapp.connect"] = ConnectClient(
        app.config["MEDBLOCKS_BASE_URL"], app.config["MEDBLOCKS_API_KEY"]
    )
    app.register_blueprint(views.bp)
    app.cli.add_command(register_webhook_command)
    return app


def register_webhook(app: Flask) -> str:
    """Register `PUBLIC_URL/webhooks` for every event and keep its secret; answers its id."""
    with app.app_context():
        client: ConnectClient = app.extensions["healthapp.connect"]
        endpoint = client.create_webhook(app.config["PUBLIC_URL"].rstrip("/") + "/webhooks")
        store.set_setting("webhook_id", endpoint["id"])
        store.set_setting("webhook_secret", endpoint["secret"])
        return endpoint["id"]


@click.command("register-webhook")
def register_webhook_command() -> None:
    """Register this app's webhook endpoint with Connect."""
    from flask import current_app

    click.echo(register_webhook(current_app._get_current_object()))  # type: ignore[attr-defined]
