"""The built-in inbox: records what arrives and answers as told."""

from __future__ import annotations

from webhooks_support import fire_sync_failed, inbox, inbox_endpoint, received

from simulator.core import ids
from simulator.core.timeutil import parse_iso
from simulator.domain.webhooks.signature import signature_header
from simulator.testing import Api, Sim


def post_raw(sim: Sim, url: str, body: bytes, headers: dict | None = None):
    return sim.client.post(url.replace(sim.base_url, ""), data=body, headers=headers or {})


def test_inbox_records_headers_body_and_answers(sim: Sim, api: Api) -> None:
    box = inbox(api)
    assert box["url"] == f"{sim.base_url}/_sim/inboxes/{box['id']}/receive"
    resp = post_raw(sim, box["url"], b'{"id":"evt_x","type":"t"}', {"X-Test": "1"})
    assert resp.status_code == 200
    (got,) = received(api, box["id"])
    assert got["body"] == '{"id":"evt_x","type":"t"}'
    assert got["headers"]["X-Test"] == "1"
    assert got["event_id"] == "evt_x" and got["event_type"] == "t"
    assert got["signature"] == {"valid": None, "reason": "no_secret_known"}
    assert got["response_status"] == 200


def test_inbox_with_its_own_secret_checks_signatures(sim: Sim, api: Api) -> None:
    box = inbox(api, secret="whsec_mine", status=204)
    now = parse_iso(api.now()) // 1000
    body = b'{"id":"evt_1"}'
    good = signature_header(body, ["whsec_mine"], now)
    bad = signature_header(body, ["whsec_other"], now)
    assert post_raw(sim, box["url"], body, {"Medblocks-Signature": good}).status_code == 204
    post_raw(sim, box["url"], body, {"Medblocks-Signature": bad})
    post_raw(sim, box["url"], body)
    post_raw(sim, box["url"], body, {"Medblocks-Signature": "nonsense"})
    post_raw(
        sim, box["url"], b"{", {"Medblocks-Signature": signature_header(b"{", ["whsec_mine"], now)}
    )
    stale = signature_header(body, ["whsec_mine"], now - 301)
    post_raw(sim, box["url"], body, {"Medblocks-Signature": stale})
    verdicts = [r["signature"] for r in received(api, box["id"])]
    assert verdicts == [
        {"valid": True, "reason": None},
        {"valid": False, "reason": "no_matching_signature"},
        {"valid": False, "reason": "missing_header"},
        {"valid": False, "reason": "malformed_header"},
        {"valid": False, "reason": "invalid_json"},
        {"valid": False, "reason": "timestamp_outside_tolerance"},
    ]


def test_sequence_repeats_its_last_answer_and_put_restarts_it(sim: Sim, api: Api) -> None:
    box = inbox(api, sequence=[500, {"status": 201, "body": "made"}])
    statuses = [post_raw(sim, box["url"], b"{}").status_code for _ in range(4)]
    assert statuses == [500, 201, 201, 201]
    assert post_raw(sim, box["url"], b"{}").get_data() == b"made"
    again = api.put(f"/_sim/inboxes/{box['id']}", {"sequence": [418]}).json
    assert again["sequence_position"] == 0 and again["received_count"] == 5
    assert post_raw(sim, box["url"], b"{}").status_code == 418
    assert post_raw(sim, box["url"], b"{}").status_code == 418


def test_delay_is_applied_and_recorded(api: Api) -> None:
    box, wh = inbox_endpoint(api, delay_ms=50)
    fire_sync_failed(api)
    (got,) = received(api, box["id"])
    assert got["response_delay_ms"] == 50
    (attempt,) = api.get(f"/_sim/webhooks/{wh['id']}/attempts").json["data"]
    assert attempt["duration_ms"] >= 50 and attempt["succeeded"] is True


def test_requests_list_is_paginated_newest_first(sim: Sim, api: Api) -> None:
    box = inbox(api)
    for i in range(3):
        post_raw(sim, box["url"], f'{{"id":"evt_{i}"}}'.encode())
    page = api.get(f"/_sim/inboxes/{box['id']}/requests", limit=2).json
    assert [r["event_id"] for r in page["data"]] == ["evt_2", "evt_1"]
    rest = api.get(
        f"/_sim/inboxes/{box['id']}/requests", limit=2, starting_after=page["next_cursor"]
    ).json
    assert [r["event_id"] for r in rest["data"]] == ["evt_0"]
    assert [r["event_id"] for r in received(api, box["id"])] == ["evt_0", "evt_1", "evt_2"]


def test_inboxes_are_per_workspace_and_deletable(sim: Sim, api: Api) -> None:
    box = inbox(api)
    other, _ = sim.new_workspace(seed=9)
    assert other.get(f"/_sim/inboxes/{box['id']}").status_code == 404
    assert [b["id"] for b in api.get("/_sim/inboxes").json["data"]] == [box["id"]]
    assert api.delete(f"/_sim/inboxes/{box['id']}").json["deleted"] is True
    assert api.get(f"/_sim/inboxes/{box['id']}").status_code == 404
    assert post_raw(sim, box["url"], b"{}").status_code == 404


def test_inbox_input_validation(api: Api) -> None:
    assert api.post("/_sim/inboxes", {"status": 99}).status_code == 400
    assert api.post("/_sim/inboxes", {"sequence": []}).status_code == 400
    assert api.post("/_sim/inboxes", {"delay_ms": 10**9}).status_code == 400
    assert api.post("/_sim/inboxes", {"colour": "red"}).status_code == 400


def test_two_workspaces_with_one_seed_each_get_their_own_inbox(sim: Sim) -> None:
    first, _ = sim.new_workspace(seed=42)
    second, _ = sim.new_workspace(seed=42)
    one, two = inbox(first), inbox(second)
    assert one["id"] != two["id"]
    assert all(ids.is_ulid_shaped(box["id"], "inb_") for box in (one, two))
    assert post_raw(sim, one["url"], b'{"id":"evt_1","type":"t"}').status_code == 200
    assert post_raw(sim, two["url"], b'{"id":"evt_2","type":"t"}').status_code == 200
    assert [r["event_id"] for r in received(first, one["id"])] == ["evt_1"]
    assert [r["event_id"] for r in received(second, two["id"])] == ["evt_2"]
    # the first workspace's ids stay those of its seed: a fresh server gives the same one
    with Sim() as again:
        fresh, _ = again.new_workspace(seed=42)
        assert inbox(fresh)["id"] == one["id"]


def test_whole_floats_are_statuses_and_1xx_is_refused(sim: Sim, api: Api) -> None:
    box = api.post("/_sim/inboxes", {"status": 202.0, "sequence": [500.0, {"status": 503.0}]})
    assert box.status_code == 200, box.json
    url = box.json["url"]
    answered = [post_raw(sim, url, b'{"id":"evt_x","type":"t"}').status_code for _ in range(3)]
    assert answered == [500, 503, 503]  # the sequence's last answer repeats
    plain = api.post("/_sim/inboxes", {"status": 202.0}).json["url"]
    assert post_raw(sim, plain, b'{"id":"evt_y","type":"t"}').status_code == 202
    for bad in ({"status": 101}, {"sequence": [199]}, {"sequence": [{"status": 100}]}):
        resp = api.post("/_sim/inboxes", bad)
        assert resp.status_code == 400, (bad, resp.json)
        assert resp.json["error"]["code"] == "invalid_data"
