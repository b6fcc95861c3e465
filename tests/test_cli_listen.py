"""`connect-sim listen` against a served simulator: events tailed live, and with
`--forward-to` signed deliveries to a local receiver, each one's status printed."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import Cli, Receiver, connected_session
from test_foundation_restart import Client, free_port, server

from simulator.webhooks import verify_signature


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, Client]]:
    port = free_port()
    with server(tmp_path / "sim.db", port, tmp_path / "serve.log", args=("--quiet",)):
        yield port, Client(port)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver()
    yield box
    box.close()


def _secret(cli: Cli) -> tuple[str, str]:
    ready = cli.wait_for(lambda line: "endpoint wh_" in line, stream="err")
    secret_line = cli.wait_for(lambda line: "signing secret" in line, stream="err")
    endpoint = re.search(r"endpoint (wh_\w+)", ready).group(1)
    return endpoint, re.search(r"(whsec_\w+)", secret_line).group(1)


def test_forward_to_delivers_real_signed_events_and_prints_each_status(
    served: tuple[int, Client], receiver: Receiver
) -> None:
    port, client = served
    cli = Cli(port, "listen", "--forward-to", receiver.url, "--interval", "0.1")
    try:
        endpoint, secret = _secret(cli)
        listed = client.get("/webhooks")["data"]
        assert [(e["id"], e["url"], e["events"]) for e in listed] == [
            (endpoint, receiver.url, ["*"])
        ]
        session = connected_session(client)  # completes: patient_session.completed, pull
        by_type: dict[str, str] = {}
        while len(by_type) < 2:  # the two may be delivered in either order
            line = cli.wait_for(lambda line: "--> " in line)
            by_type[line.split()[1]] = line
        lines = [by_type["patient_session.completed"], by_type["records.sync.completed"]]
    finally:
        code = cli.interrupt()
        cli.close()
    assert code == 0
    got = receiver.received()
    types = [json.loads(r["body"])["type"] for r in got]
    assert "patient_session.completed" in types and "records.sync.completed" in types
    for request in got:
        header = request["headers"]["Medblocks-Signature"]
        event = verify_signature(request["body"], header, secret)  # raises unless valid
        t, v1 = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header).groups()
        expected = hmac.new(secret.encode(), f"{t}.".encode() + request["body"], hashlib.sha256)
        assert hmac.compare_digest(v1, expected.hexdigest())
        assert request["path"] == "/hooks" and event["id"].startswith("evt_")
    completed = next(
        json.loads(r["body"]) for r in got if b"patient_session.completed" in r["body"]
    )
    assert completed["data"]["object"]["id"] == session["id"]
    for line in lines:
        assert "--> [200] POST " + receiver.url in line and re.search(r"\d+ ms", line), line
    assert completed["id"] in lines[0]
    # Ctrl-C removed the endpoint it made
    assert client.get("/webhooks")["data"] == []
    assert any(f"endpoint {endpoint} deleted" in line for line in cli.output("err"))


def test_a_failed_delivery_is_retried_on_the_clock_and_each_attempt_printed(
    served: tuple[int, Client],
) -> None:
    port, client = served
    flaky = Receiver(plan=(500, 200))
    cli = Cli(
        port,
        "listen",
        "--forward-to",
        flaky.url,
        "--events",
        "patient_session.completed",
        "--interval",
        "0.1",
    )
    try:
        _secret(cli)
        session = client.post(
            "/patient-sessions", {"patient_id": "p9", "return_url": "https://app.example/x"}
        )
        client.post(
            "/_sim/events", {"type": "patient_session.completed", "object_id": session["id"]}
        )
        first = cli.wait_for(lambda line: "[500]" in line)
        client.post("/_sim/clock/advance", {"seconds": 60})  # the schedule's +1 min retry
        second = cli.wait_for(lambda line: "[200]" in line)
    finally:
        cli.interrupt()
        cli.close()
        flaky.close()
    assert "patient_session.completed" in first and "(attempt 2)" in second
    event_id = re.search(r"(evt_\w+)", first).group(1)
    assert event_id in second
    assert [json.loads(r["body"])["id"] for r in flaky.received()] == [event_id, event_id]


def test_listen_without_forwarding_prints_each_new_event_once(served: tuple[int, Client]) -> None:
    port, client = served
    session = client.post("/patient-sessions", {"patient_id": "p2", "return_url": "https://a.x/"})
    before = client.post(
        "/_sim/events", {"type": "patient_session.completed", "object_id": session["id"]}
    )
    cli = Cli(port, "listen", "--events", "patient_session.completed", "--interval", "0.1")
    try:
        cli.wait_for(lambda line: line.startswith("Ready!"), stream="err")
        fired = [
            client.post(
                "/_sim/events", {"type": "patient_session.completed", "object_id": session["id"]}
            )
            for _ in range(3)
        ]
        seen = [cli.wait_for(lambda line: "occ_" in line) for _ in fired]
    finally:
        cli.interrupt()
        cli.close()
    assert [re.search(r"(occ_\w+)", line).group(1) for line in seen] == [f["id"] for f in fired]
    assert all(session["id"] in line for line in seen)
    assert before["id"] not in "\n".join(cli.output("out"))  # earlier events are not news


def test_listen_refuses_an_unknown_event_type(served: tuple[int, Client]) -> None:
    port, _ = served
    for args in (
        ("--events", "patient.nope"),
        ("--events", "nope", "--forward-to", "http://localhost:1/x"),
    ):
        cli = Cli(port, "listen", *args)
        try:
            code = cli.finish()
        finally:
            cli.close()
        assert code == 1
        errors = "\n".join(cli.output("err"))
        assert "400" in errors and "Traceback" not in errors
