"""A rotating portal accepts the refresh token it just replaced for a short while (as Okta
does), answering the current one: a client that missed the answer does not lose the grant."""

from __future__ import annotations

import pytest
import requests
from portalkit import new_launch

from portal_mocks.tokens import REUSE_WINDOW_MS
from simulator.testing import Sim


@pytest.fixture
def launch(sim: Sim):  # noqa: ANN201
    sim.route_outbound()
    api, body = sim.new_workspace(seed=3)
    return api, new_launch(sim, "lakeside-cerner", body["api_key"])


def test_the_replaced_token_answers_the_current_one_within_the_window(launch) -> None:  # noqa: ANN001
    api, portal = launch
    first = portal.connect("alice")["refresh_token"]
    rotated = portal.refresh_raw(first).json()
    second = rotated["refresh_token"]
    assert second != first
    again = portal.refresh_raw(first)  # the retry of a client that never saw `rotated`
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] == second  # not rotated a second time
    assert again.json()["access_token"] != rotated["access_token"]
    assert portal.refresh_raw(second).status_code == 200  # the chain goes on from there


def test_outside_the_window_or_two_rotations_back_it_is_refused(launch) -> None:  # noqa: ANN001
    api, portal = launch
    first = portal.connect("alice")["refresh_token"]
    second = portal.refresh_raw(first).json()["refresh_token"]
    api.advance(REUSE_WINDOW_MS / 1000 + 1)
    late = portal.refresh_raw(first)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
    third = portal.refresh_raw(second).json()["refresh_token"]
    assert third != second
    stale = portal.refresh_raw(first)  # replaced twice over: never reusable
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_grant"
    assert requests.post(portal.conf["token_endpoint"], timeout=10).status_code == 400
