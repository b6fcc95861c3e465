"""`connect-sim trigger EVENT --object ID`: a real event for an existing object, delivered
like any other; unknown objects, unknown types and objects of the wrong kind are refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from clikit import Cli, Receiver, connected_session
from flowkit import CERNER, new_session
from test_foundation_restart import Client, free_port, server

from simulator.cli import main
from simulator.testing import Api, Sim
from simulator.webhooks import verify_signature


def _run(sim: Sim, key: str, *args: str):  # noqa: ANN202
    env = {"CONNECT_SIM_BASE_URL": sim.base_url, "CONNECT_SIM_API_KEY": key}
    return CliRunner().invoke(main, list(args), env=env)


def _inbox(api: Api) -> tuple[str, str]:
    """An inbox registered as an endpoint for every event: (inbox id, endpoint secret)."""
    box = api.post("/_sim/inboxes", {"status": 200}).json
    endpoint = api.post("/webhooks", {"url": box["url"], "events": ["*"]}).json
    return box["id"], endpoint["secret"]


def test_trigger_fires_a_real_event_for_a_session_and_it_is_delivered(sim: Sim) -> None:
    sim.route_outbound()
    api, _ = sim.new_workspace(seed=5)
    api.post("/patients", {"patient_id": "p1"})
    session = new_session(api)
    box, secret = _inbox(api)
    result = _run(
        sim, api.api_key, "trigger", "patient_session.completed", "--object", session["id"]
    )
    assert result.exit_code == 0, result.output
    occurrence = re.search(r"\((occ_\w+)\)", result.output).group(1)
    evt = re.search(r"-> (evt_\w+) to endpoint wh_", result.output).group(1)
    assert session["id"] in result.output
    received = api.get(f"/_sim/inboxes/{box}").json["received"]
    assert len(received) == 1 and received[0]["signature"]["valid"] is True
    body = received[0]["body"].encode()
    event = verify_signature(body, received[0]["headers"]["Medblocks-Signature"], secret)
    assert event["id"] == evt and event["type"] == "patient_session.completed"
    assert event["data"]["object"]["id"] == session["id"]
    assert event["data"]["object"] == api.get(f"/patient-sessions/{session['id']}").json
    assert api.get(f"/_sim/events/{occurrence}").json["deliveries"][0]["id"] == evt


def test_trigger_for_a_connection_and_json_output(sim: Sim) -> None:
    sim.route_outbound()
    api, _ = sim.new_workspace(seed=6)
    api.post("/patients", {"patient_id": "p1"})
    session = new_session(api)
    api.connect(session["id"], source=CERNER)
    conn = api.get(f"/patient-sessions/{session['id']}").json["connections"][0]
    for event_type in (
        "connection.token_refresh_failed",
        "records.sync.completed",
        "records.sync.failed",
    ):
        result = _run(sim, api.api_key, "trigger", event_type, "--object", conn["id"], "--json")
        assert result.exit_code == 0, result.output
        fired = json.loads(result.output)
        assert fired["type"] == event_type and fired["id"].startswith("occ_")
        shown = fired["data"]["object"]
        assert shown.get("id") == conn["id"] or shown.get("patient_id") == "p1"
    listed = api.get("/_sim/events", limit=10).json["data"]
    assert [e["type"] for e in listed[:3]] == [
        "records.sync.failed",
        "records.sync.completed",
        "connection.token_refresh_failed",
    ]


def test_unknown_objects_types_and_kinds_are_clear_errors(sim: Sim) -> None:
    sim.route_outbound()
    api, _ = sim.new_workspace(seed=7)
    api.post("/patients", {"patient_id": "p1"})
    session = new_session(api)
    cases = [
        (("patient_session.completed", "--object", "ps_01HK153X000000000000000000"), "404"),
        (("connection.token_refresh_failed", "--object", "conn_nope"), "404"),
        (("patient.created", "--object", session["id"]), "400"),
        (("connection.token_refresh_failed", "--object", session["id"]), "400"),
        (("records.sync.completed", "--object", session["id"]), "400"),
        (("patient_session.completed", "--object", "conn_01HK153X000000000000000000"), "400"),
    ]
    for args, status in cases:
        result = _run(sim, api.api_key, "trigger", *args)
        assert result.exit_code == 1, (args, result.output)
        assert result.output.startswith(f"Error: {status} "), (args, result.output)
        assert "Traceback" not in result.output
    wrong_kind = _run(sim, api.api_key, "trigger", "records.sync.failed", "--object", session["id"])
    assert "is a patient session" in wrong_kind.output and "conn_" in wrong_kind.output
    missing = _run(sim, api.api_key, "trigger", "patient_session.completed")
    assert missing.exit_code == 2 and "--object" in missing.output
    assert api.get("/_sim/events").json["data"] == []  # nothing was fired


def test_a_triggered_event_reaches_listen_forward_to(tmp_path: Path) -> None:
    """Both commands against a served simulator: trigger's event arrives, signed, where
    listen forwards, and listen prints its delivery."""
    port = free_port()
    receiver = Receiver()
    with server(tmp_path / "sim.db", port, tmp_path / "serve.log", args=("--quiet",)):
        client = Client(port)
        session = connected_session(client)
        listen = Cli(
            port,
            "listen",
            "--forward-to",
            receiver.url,
            "--events",
            "connection.token_refresh_failed",
            "--interval",
            "0.1",
        )
        try:
            line = listen.wait_for(lambda line: "signing secret" in line, stream="err")
            secret = re.search(r"(whsec_\w+)", line).group(1)
            conn = session["connections"][0]["id"]
            trigger = Cli(port, "trigger", "connection.token_refresh_failed", "--object", conn)
            assert trigger.finish() == 0, trigger.seen
            evt = re.search(r"-> (evt_\w+)", "\n".join(trigger.output("out"))).group(1)
            delivered = listen.wait_for(lambda line: evt in line)
        finally:
            listen.interrupt()
            listen.close()
            receiver.close()
    assert "connection.token_refresh_failed" in delivered and "--> [200]" in delivered
    (request,) = receiver.received()
    event = verify_signature(request["body"], request["headers"]["Medblocks-Signature"], secret)
    assert event["id"] == evt and event["data"]["object"]["id"] == conn
