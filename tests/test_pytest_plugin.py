"""The pytest plugin: lazy to load, its in-process and served simulators, their helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from flask import Flask, request
from werkzeug.serving import make_server

from simulator.harness.client import SimError
from simulator.harness.inprocess import InProcessSim
from simulator.harness.served import ServedSim, SimServer

ROOT = Path(__file__).resolve().parent.parent


def receiver() -> tuple[Flask, list[dict[str, Any]]]:
    """A tiny app that records what it receives and answers 500 first, then 200."""
    app = Flask("receiver")
    got: list[dict[str, Any]] = []

    @app.post("/hook")
    def hook() -> tuple[str, int]:
        got.append(
            {"body": request.get_data(), "signature": request.headers.get("Medblocks-Signature")}
        )
        return ("later", 500) if len(got) == 1 else ("ok", 200)

    return app, got


def fire_failed_sync(sim: Any) -> dict[str, Any]:
    sim.call("POST", "/patients", {"patient_id": "p1"})
    return sim.fire("records.sync.failed", patient_id="p1", connection_id=sim.source("summit-epic"))


# -- loading ----------------------------------------------------------------------------------


def test_the_plugin_is_registered_and_loading_it_imports_no_simulator_code() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert names["connect_sim"] == "simulator.pytest_plugin"
    code = (
        "import sys, simulator.pytest_plugin\n"
        "print([m for m in sys.modules if m.split('.')[0] in"
        " ('simulator', 'responses', 'flask', 'werkzeug', 'scenarios')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert sorted(eval(out.stdout)) == ["simulator", "simulator.pytest_plugin"]


def test_its_fixture_names_leave_the_projects_own_alone() -> None:
    conftest = (ROOT / "tests" / "conftest.py").read_text()
    for name in ("connect_sim", "connect_sim_server", "connect_sim_server_url"):
        assert f"def {name}(" not in conftest


# -- in process -------------------------------------------------------------------------------


@pytest.fixture
def inproc() -> Iterator[InProcessSim]:
    sim = InProcessSim(seed=3)
    try:
        yield sim
    finally:
        sim.close()


def test_plain_requests_reach_the_in_process_simulator_in_a_fresh_workspace(
    inproc: InProcessSim,
) -> None:
    assert inproc.base_url == "http://connect-sim.test"
    assert requests.get("http://connect-sim.test/health", timeout=5).json()["ok"] is True
    assert inproc.workspace["seed"] == 3 and inproc.workspace["clock"]["mode"] == "manual"
    assert inproc.call("GET", "/patients")["data"] == []
    with pytest.raises(SimError) as caught:
        inproc.call("GET", "/patients/nobody")
    assert caught.value.status_code == 404
    assert caught.value.body["error"]["code"] == "resource_not_found"


def test_two_in_process_simulators_do_not_share_anything() -> None:
    first = InProcessSim()
    try:
        first.call("POST", "/patients", {"patient_id": "only-here"})
        assert first.get("/patients/only-here").status_code == 200
    finally:
        first.close()
    second = InProcessSim()
    try:
        assert second.get("/patients/only-here").status_code == 404
    finally:
        second.close()


def test_other_http_still_reaches_the_network_and_no_call_is_kept(inproc: InProcessSim) -> None:
    app, _ = receiver()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        real = requests.post(f"http://127.0.0.1:{server.server_port}/hook", timeout=5)
        assert real.status_code == 500 and real.text == "later"  # a real socket answered
    finally:
        server.shutdown()
        server.server_close()
    for _ in range(30):
        inproc.get("/health")
    assert len(inproc.router.calls) == 0
    assert all(len(match.calls) == 0 for match in inproc.router.registered())


def test_a_tests_own_responses_mock_can_answer_the_simulator_too(inproc: InProcessSim) -> None:
    app, got = receiver()
    url = inproc.mount_app(app, "receiver")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mine:
        mine.add(responses.GET, "https://other.example/thing", json={"mocked": True})
        inproc.route_into(mine)
        assert requests.get("https://other.example/thing", timeout=5).json() == {"mocked": True}
        assert requests.get(inproc.base_url + "/health", timeout=5).json()["ok"] is True
        assert requests.post(url + "/hook", timeout=5).status_code == 500
    assert len(got) == 1
    assert requests.get(inproc.base_url + "/health", timeout=5).ok  # back to the plugin's mock


def test_closing_puts_requests_back_as_it_was() -> None:
    original = requests.adapters.HTTPAdapter.send
    sim = InProcessSim()
    assert requests.adapters.HTTPAdapter.send is not original
    sim.close()
    assert requests.adapters.HTTPAdapter.send is original


def test_webhooks_reach_a_mounted_app_and_are_retried_on_the_clock(inproc: InProcessSim) -> None:
    app, got = receiver()
    url = inproc.mount_app(app, "receiver")
    assert url == "http://receiver.localhost"
    with pytest.raises(ValueError):
        inproc.mount_app(app, "receiver")
    with pytest.raises(ValueError):
        inproc.mount_app(app, "not a host")
    endpoint = inproc.webhook(url + "/hook")
    fire_failed_sync(inproc)
    assert len(got) == 1  # delivered in process, answered 500
    (record,) = inproc.deliveries(endpoint["id"])
    assert record["attempts"] == 1 and record["delivered_at"] is None
    inproc.clock.advance("59s")
    assert len(got) == 1
    inproc.clock.advance("1s")  # the retry schedule's second attempt, at +1 min
    assert len(got) == 2 and got[0]["body"] == got[1]["body"]
    assert got[1]["signature"].startswith("t=")
    (record,) = inproc.deliveries(endpoint["id"])
    assert record["attempts"] == 2 and record["delivered_at"] is not None


def test_the_headless_patient_in_both_modes(inproc: InProcessSim) -> None:
    epic = inproc.source("summit-epic")
    assert inproc.source("Summit Valley") == epic == inproc.source(epic)
    with pytest.raises(LookupError):
        inproc.source("nowhere")
    direct = inproc.call(
        "POST",
        "/patient-sessions",
        {"patient_id": "p1", "return_url": "https://app.example/back", "connection_id": epic},
    )
    landing = inproc.patient.complete(direct)
    assert landing.startswith("https://app.example/back?") and "success=true" in landing
    picker = inproc.call(
        "POST", "/patient-sessions", {"patient_id": "p1", "return_url": "https://app.example/back"}
    )
    assert inproc.last_session("p1")["id"] == picker["id"]
    denied = inproc.patient.deny(picker, source="lakeside-cerner")
    assert denied["stopped_at"] == "completion"
    assert denied["connection"]["failure_code"] == "access_denied"
    assert "success" not in inproc.patient.done(picker)
    conns = inproc.call("GET", "/patients/p1")["connections"]
    assert [c["status"] for c in conns] == ["failed", "active"]


def test_clock_inbox_and_faults(inproc: InProcessSim) -> None:
    start = inproc.clock.now()
    moved = inproc.clock.advance("1d2h")
    assert moved["now"] > start
    with pytest.raises(ValueError):
        inproc.clock.advance("soon")
    box = inproc.inbox(sequence=[500, 200])
    assert box.endpoint is not None and box.endpoint["url"] == box.url
    fire_failed_sync(inproc)
    assert [r["response_status"] for r in box.received()] == [500]
    inproc.clock.run_until_idle("1h")
    assert [r["response_status"] for r in box.received()] == [500, 200]
    assert all(r["signature"]["valid"] for r in box.received())
    assert [e["type"] for e in inproc.events()] == ["records.sync.failed"]
    inproc.api_fault(502, times=1)
    assert inproc.get("/patients").status_code == 502
    assert inproc.get("/patients").status_code == 200
    inproc.reset()
    assert inproc.call("GET", "/patients")["data"] == []


def test_refresh_failure_and_the_connection_view(inproc: InProcessSim) -> None:
    session = inproc.call(
        "POST",
        "/patient-sessions",
        {
            "patient_id": "p1",
            "return_url": "https://app.example/back",
            "connection_id": inproc.source("summit-epic"),
        },
    )
    conn_id = inproc.patient.connect(session)["connection"]["id"]
    assert inproc.connection(conn_id)["tokens"]["refresh_token"] == "[redacted]"
    assert inproc.refresh_failure(conn_id)["status"] == "refresh_failed"
    assert [e["type"] for e in inproc.events("connection.token_refresh_failed")] == [
        "connection.token_refresh_failed"
    ]


# -- served -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    server = SimServer(tmp_path_factory.mktemp("plugin-serve")).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_served_workspace_is_fresh_and_emptied_when_closed(served: SimServer) -> None:
    sim = ServedSim(served.base_url, seed=5)
    other = ServedSim(served.base_url)
    try:
        assert sim.api_key != other.api_key and sim.workspace["seed"] == 5
        sim.call("POST", "/patients", {"patient_id": "p1"})
        assert other.get("/patients/p1").status_code == 404
    finally:
        sim.close()
        other.close()
    again = requests.get(
        served.base_url + "/patients/p1",
        headers={"Authorization": f"Bearer {sim.api_key}"},
        timeout=10,
    )
    assert again.status_code == 404  # reset: the key works, the objects are gone


def test_a_served_simulator_delivers_to_an_app_served_for_the_test(served: SimServer) -> None:
    sim = ServedSim(served.base_url)
    try:
        app, got = receiver()
        url = sim.mount_app(app)
        assert url.startswith("http://127.0.0.1:")
        sim.webhook(url + "/hook")
        fire_failed_sync(sim)
        sim.clock.advance("1m")
        assert len(got) == 2
        assert sim.env == {
            "CONNECT_SIM_BASE_URL": served.base_url,
            "CONNECT_SIM_API_KEY": sim.api_key,
        }
    finally:
        sim.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/hook", timeout=2)  # the app's server stopped with the test


# -- the fixtures, as a user's test run sees them ------------------------------------------------

USER_TEST = """
import json, os, requests

def test_in_process(connect_sim):
    assert requests.get(connect_sim.base_url + "/health", timeout=5).ok
    assert connect_sim.workspace["clock"]["mode"] == "manual"
    connect_sim.clock.advance("30d")

def test_served(connect_sim_server):
    assert connect_sim_server.base_url.startswith("http://127.0.0.1:")
    assert connect_sim_server.call("GET", "/patients")["data"] == []
    connect_sim_server.call("POST", "/patients", {"patient_id": "p1"})
    with open(os.environ["URL_FILE"], "a") as out:
        out.write(json.dumps(connect_sim_server.env) + "\\n")

def test_served_again_is_a_fresh_workspace(connect_sim_server):
    assert connect_sim_server.get("/patients/p1").status_code == 404
    with open(os.environ["URL_FILE"], "a") as out:
        out.write(json.dumps(connect_sim_server.env) + "\\n")
"""


def readme_example() -> str:
    """The Python block of the README's "Testing your app" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Testing your app", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_a_users_test_run_gets_both_fixtures_and_the_server_is_stopped(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TEST)
    (tmp_path / "test_readme.py").write_text(readme_example())
    urls = tmp_path / "urls.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "CONNECT_SIM_BASE_URL"}
    env["URL_FILE"] = str(urls)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "."],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 passed" in run.stdout  # the README's example among them
    first, second = [json.loads(line) for line in urls.read_text().splitlines()]
    assert first["CONNECT_SIM_BASE_URL"] == second["CONNECT_SIM_BASE_URL"]  # one server per run
    assert first["CONNECT_SIM_API_KEY"] != second["CONNECT_SIM_API_KEY"]  # a workspace per test
    with pytest.raises(requests.ConnectionError):
        requests.get(first["CONNECT_SIM_BASE_URL"] + "/health", timeout=2)
