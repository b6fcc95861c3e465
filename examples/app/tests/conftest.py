"""HealthApp's tests drive it against the Connect simulator through the connect-sim plugin.

`sim` is the plugin's `connect_sim` (everything in this process, no server) unless
CONNECT_SIM_BASE_URL is set: then it is `connect_sim_server`, a fresh workspace on
that running simulator (what the CI recipe does).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from healthapp import create_app, register_webhook


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Any:
    served = bool(os.environ.get("CONNECT_SIM_BASE_URL"))
    return request.getfixturevalue("connect_sim_server" if served else "connect_sim")


@pytest.fixture
def app(sim: Any, tmp_path: Any) -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "MEDBLOCKS_BASE_URL": sim.base_url,
            "MEDBLOCKS_API_KEY": sim.api_key,
            "DATABASE": str(tmp_path / "healthapp.sqlite"),
            "DATABASE_TIMEOUT": 0.2,
        }
    )
    # where the simulator's webhooks (and the patient's browser) reach the app
    app.config["PUBLIC_URL"] = sim.mount_app(app, "healthapp")
    app.config["WEBHOOK_ID"] = register_webhook(app)
    return app


@pytest.fixture
def browser(app: Flask) -> FlaskClient:
    """The patient's browser on HealthApp's own pages."""
    return app.test_client()


@pytest.fixture
def patient(browser: FlaskClient) -> str:
    """A patient created through HealthApp's form."""
    resp = browser.post("/patients", data={"patient_id": "user_42", "name": "Ada Lovelace"})
    assert resp.status_code == 303
    return "user_42"
