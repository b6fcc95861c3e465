"""Deliveries are signed with the wall-clock time of the send, so a real receiver's
300 s tolerance holds after any clock move; virtual-time signing is an opt-in."""

from __future__ import annotations

import time

from webhooks_support import fire_sync_failed, inbox_endpoint, ms, received

from simulator.domain.webhooks import chaos
from simulator.testing import Api
from simulator.webhooks import verify_signature

THIRTY_DAYS = 30 * 86400


def _t(request: dict) -> int:
    header = request["headers"]["Medblocks-Signature"]
    return int(dict(p.split("=", 1) for p in header.split(","))["t"])


def test_after_a_30_day_advance_a_delivery_verifies_against_the_real_clock(api: Api) -> None:
    box, wh = inbox_endpoint(api)
    api.advance(THIRTY_DAYS)
    fire_sync_failed(api)
    request = received(api, box["id"])[-1]
    assert abs(_t(request) - time.time()) < 60  # the send's wall-clock time
    verified = verify_signature(
        request["body"], request["headers"]["Medblocks-Signature"], wh["secret"], tolerance=300
    )  # now = the real clock
    assert verified["id"] == request["event_id"] and verified["type"] == "records.sync.failed"
    # the event itself keeps virtual time: 30 days ahead of the signature
    assert ms(verified["created_at"]) // 1000 - _t(request) > THIRTY_DAYS - 60
    assert request["signature"] == {"valid": True, "reason": None}  # the inbox agrees


def test_virtual_signing_is_an_opt_in_for_deterministic_replays(api: Api) -> None:
    box, wh = inbox_endpoint(api)
    state = api.put(f"/_sim/webhooks/{wh['id']}/chaos", {"signing_clock": "virtual"}).json
    assert state["signing_clock"] == "virtual"
    api.advance(THIRTY_DAYS)
    fire_sync_failed(api)
    request = received(api, box["id"])[-1]
    assert _t(request) == ms(api.now()) // 1000  # the workspace's clock, not the wall's
    assert request["signature"] == {"valid": True, "reason": None}
    reset = api.delete(f"/_sim/webhooks/{wh['id']}/chaos").json
    assert reset["signing_clock"] == "wall"


def test_stale_timestamp_chaos_is_stale_relative_to_the_signing_time(api: Api) -> None:
    box, wh = inbox_endpoint(api)
    api.put(f"/_sim/webhooks/{wh['id']}/chaos", {"stale_timestamp": True})
    api.advance(THIRTY_DAYS)
    fire_sync_failed(api)
    request = received(api, box["id"])[-1]
    assert abs(time.time() - chaos.STALE_SECONDS - _t(request)) < 60
    assert request["signature"] == {"valid": False, "reason": "timestamp_outside_tolerance"}
