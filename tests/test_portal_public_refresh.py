"""A public client refreshes with exactly `grant_type` and `refresh_token` (RFC 6749
section 6, what SMART's client-js sends) at every portal; a confidential client that
does not authenticate is still refused."""

from __future__ import annotations

import pytest
import requests
from portalkit import SLUGS, new_launch

from simulator.testing import Sim


@pytest.fixture
def key(sim: Sim) -> str:
    sim.route_outbound()
    return sim.new_workspace(seed=5)[1]["api_key"]


def _refresh(launch, form: dict[str, str]) -> requests.Response:  # noqa: ANN001
    return requests.post(launch.conf["token_endpoint"], data=form, timeout=30)


@pytest.mark.parametrize("slug", SLUGS)
def test_a_public_client_refreshes_with_or_without_client_id(sim: Sim, key: str, slug: str):
    launch = new_launch(sim, slug, key, method="none")
    username = "mia" if slug == "bluebutton" else "alice"
    token = launch.connect(username)
    bare = _refresh(
        launch, {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    )
    assert bare.status_code == 200, bare.text
    again = bare.json().get("refresh_token", token["refresh_token"])
    named = _refresh(
        launch,
        {
            "grant_type": "refresh_token",
            "refresh_token": again,
            "client_id": launch.client["client_id"],
        },
    )
    assert named.status_code == 200, named.text


@pytest.mark.parametrize("slug", SLUGS)
def test_a_confidential_client_must_still_authenticate(sim: Sim, key: str, slug: str) -> None:
    launch = new_launch(sim, slug, key)  # client_secret_basic
    username = "mia" if slug == "bluebutton" else "alice"
    token = launch.connect(username)
    resp = _refresh(
        launch, {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    )
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    unknown = _refresh(launch, {"grant_type": "refresh_token", "refresh_token": "nope"})
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
