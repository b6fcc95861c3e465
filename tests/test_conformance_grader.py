"""The webhook-receiver grader against the example receivers, broken receivers and the simulator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from conformance.grader import ITEMS, grade
from conformance.grader import events as grader_events
from conformance.grader.card import passed, render, verdict_line
from conformance.grader.cli import grade_receiver
from conformance.grader.deliveries import Expect, Item, event_body, tamper
from conformance.grader.signing import HEADER, sign, signature_header
from conformance.reports import as_json
from conformance.results import Outcome, Result
from simulator.testing import Api, Sim

ROOT = Path(__file__).resolve().parent.parent
RECEIVERS = ROOT / "examples" / "receivers"
SECRET = "whsec_grader_test_0123456789abcdef0123456789abcdef"
EPIC = "fhirsrc_01JGFJJZ00W9QAJQZQHWWQADWX"
ALL_IDS = [f"RCV-{n:03d}" for n in range(1, 14)]
FORGERIES = {"RCV-005", "RCV-006", "RCV-007", "RCV-008", "RCV-009"}
ACKS = {item.id for item in ITEMS if item.expect is Expect.ACK}
NODE = shutil.which("node")


# -- example receivers as subprocesses ---------------------------------------------------


@dataclass
class Running:
    """An example receiver started on a free port; its stdout lines are collected."""

    proc: subprocess.Popen[str]
    url: str = ""
    lines: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handled(self) -> list[str]:
        """The event ids the receiver handled, in order (from its `handled` log lines)."""
        with self.lock:
            return [line.split()[2] for line in self.lines if line.startswith("handled ")]

    def wait_handled(self, count: int, timeout: float = 5.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.handled()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.handled()


def start(command: list[str], secret: str = SECRET) -> Running:
    env = {**os.environ, "CONNECT_SIM_WEBHOOK_SECRET": secret, "PORT": "0"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, bufsize=1)
    running = Running(proc)
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.strip()
            if line.startswith("ready ") and not ready.is_set():
                running.url = line.split()[1]
                ready.set()
            with running.lock:
                running.lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(10):
        proc.kill()
        raise AssertionError(f"{command} printed no ready line")
    return running


def stop(running: Running) -> None:
    running.proc.kill()
    running.proc.wait(5)


@pytest.fixture(scope="module")
def python_receiver() -> Iterator[Running]:
    running = start([sys.executable, str(RECEIVERS / "python_receiver.py")])
    yield running
    stop(running)


@pytest.fixture(scope="module")
def node_receiver() -> Iterator[Running]:
    if NODE is None:
        pytest.skip("node is not installed (make node installs it)")
    running = start([NODE, str(RECEIVERS / "node_receiver.js")])
    yield running
    stop(running)


@pytest.fixture(scope="module")
def careless_receiver() -> Iterator[Running]:
    running = start([sys.executable, str(RECEIVERS / "careless_receiver.py")])
    yield running
    stop(running)


# -- receivers in this process, broken on purpose ----------------------------------------


def verified(raw: bytes, header: str | None) -> dict[str, Any] | None:
    """The event when the header signs the body with SECRET within 300 s; None otherwise."""
    if not header:
        return None
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if not parts.get("t", "").isdigit() or abs(time.time() - int(parts["t"])) > 300:
        return None
    if parts.get("v1") != sign(raw, SECRET, int(parts["t"])):
        return None
    return json.loads(raw)


Answer = Callable[[dict[str, Any]], tuple[int, bytes]]


@dataclass
class InThread:
    """A receiver that verifies signatures (`refusal` when wrong) and answers valid events
    its own way."""

    answer: Answer
    refusal: int = 400
    server: ThreadingHTTPServer = field(init=False)

    def __post_init__(self) -> None:
        answer, refusal = self.answer, self.refusal

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                event = verified(raw, self.headers.get(HEADER))
                status, body = (refusal, b"bad signature") if event is None else answer(event)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


MakeReceiver = Callable[..., InThread]


@pytest.fixture
def in_thread() -> Iterator[MakeReceiver]:
    started: list[InThread] = []

    def make(answer: Answer, refusal: int = 400) -> InThread:
        started.append(InThread(answer, refusal))
        return started[-1]

    yield make
    for receiver in started:
        receiver.close()


# -- helpers -------------------------------------------------------------------------------


def outcomes(results: list[Result]) -> dict[str, Outcome]:
    return {r.id: r.outcome for r in results}


def failing(results: list[Result]) -> set[str]:
    return {r.id for r in results if r.outcome is not Outcome.PASS}


def sent_events(result: Result) -> list[dict[str, Any]]:
    return [json.loads(e.request_body) for e in result.exchanges]


# -- the example receivers ------------------------------------------------------------------


def test_python_receiver_passes_every_item_and_handles_each_event_once(
    python_receiver: Running,
) -> None:
    before = len(python_receiver.handled())
    results = grade(python_receiver.url, SECRET)
    assert [r.id for r in results] == ALL_IDS
    assert failing(results) == set(), [r.message for r in results if r.failed]
    assert {r.area for r in results} == {"receiver"}
    # every acknowledged event of a known type is handled exactly once: the duplicate
    # and the retry are not handled again, the unknown type is not handled at all
    known = {
        e["id"]
        for r in results
        if r.id in ACKS
        for e in sent_events(r)
        if e["type"] in grader_events.EVENT_TYPES
    }
    assert len(known) == 8
    handled = python_receiver.wait_handled(before + 8)[before:]
    time.sleep(0.1)  # a ninth line, if the receiver wrongly handled one twice, shows up here
    assert sorted(python_receiver.handled()[before:]) == sorted(known) == sorted(handled)


def test_node_receiver_passes_every_item_and_handles_each_event_once(
    node_receiver: Running,
) -> None:
    before = len(node_receiver.handled())
    results = grade(node_receiver.url, SECRET)
    assert failing(results) == set(), [r.message for r in results if r.failed]
    handled = node_receiver.wait_handled(before + 8)[before:]
    time.sleep(0.1)
    assert len(node_receiver.handled()) == before + 8
    assert len(set(handled)) == 8


def test_careless_receiver_fails_every_forgery(careless_receiver: Running) -> None:
    results = grade(careless_receiver.url, SECRET)
    assert failing(results) == FORGERIES
    for result in results:
        if result.id in FORGERIES:
            assert result.outcome is Outcome.FAIL
            assert "answered 200, expected a 4xx" in result.message
            assert "forgery was accepted" in result.message
    assert not passed(results)
    assert verdict_line(results).startswith("FAIL: 5 of 13")


def test_a_receiver_with_another_secret_acknowledges_nothing_valid() -> None:
    running = start([sys.executable, str(RECEIVERS / "python_receiver.py")], "whsec_other_one")
    try:
        results = grade(running.url, SECRET)
    finally:
        stop(running)
    # the forgeries are still refused (400), every valid delivery is refused too
    assert failing(results) == ACKS
    assert "answered 400, expected a 2xx" in outcomes_message(results, "RCV-001")


def outcomes_message(results: list[Result], item_id: str) -> str:
    return next(r.message for r in results if r.id == item_id)


@pytest.mark.parametrize(
    "script", ["python_receiver.py", "careless_receiver.py", "node_receiver.js"]
)
def test_example_receivers_refuse_a_bad_port(script: str) -> None:
    runner = sys.executable if script.endswith(".py") else NODE
    if runner is None:
        pytest.skip("node is not installed (make node installs it)")
    got = subprocess.run(
        [runner, str(RECEIVERS / script), "eighty"],
        capture_output=True,
        text=True,
        env={**os.environ, "CONNECT_SIM_WEBHOOK_SECRET": SECRET},
        timeout=10,
    )
    assert got.returncode == 2
    assert "port must be a number" in got.stderr
    assert "Traceback" not in got.stderr and "at " not in got.stderr


def test_python_receiver_refuses_to_start_without_a_secret() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CONNECT_SIM_WEBHOOK_SECRET"}
    got = subprocess.run(
        [sys.executable, str(RECEIVERS / "python_receiver.py"), "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=10,
    )
    assert got.returncode == 2 and "whsec_" in got.stderr


# -- broken receivers ------------------------------------------------------------------------


def test_a_receiver_answering_500_to_valid_deliveries_fails_them(in_thread: MakeReceiver) -> None:
    receiver = in_thread(lambda event: (500, f"boom, secret {SECRET}".encode()))
    results = grade(receiver.url, SECRET)
    assert failing(results) == ACKS
    assert outcomes(results)["RCV-005"] is Outcome.PASS
    assert "answered 500, expected a 2xx acknowledgement" in outcomes_message(results, "RCV-001")
    # two deliveries, both reported
    assert outcomes_message(results, "RCV-011").count("answered 500") == 2
    # the receiver echoed the secret: the results never carry it
    dumped = as_json("receiver-grader", results)
    assert SECRET not in dumped and "[redacted]" in dumped


def test_a_receiver_answering_5xx_to_forgeries_fails_them(in_thread: MakeReceiver) -> None:
    receiver = in_thread(lambda event: (200, b"ok"), refusal=503)
    results = grade(receiver.url, SECRET)
    assert failing(results) == FORGERIES
    assert "answered 503, expected a 4xx refusal" in outcomes_message(results, "RCV-005")
    assert "forgery was accepted" not in outcomes_message(results, "RCV-005")


def test_a_slow_acknowledgement_fails_on_the_timeout(in_thread: MakeReceiver) -> None:
    def slow_for_sync_completed(event: dict[str, Any]) -> tuple[int, bytes]:
        if event["type"] == grader_events.SYNC_COMPLETED:
            time.sleep(0.6)
        return 200, b"ok"

    receiver = in_thread(slow_for_sync_completed)
    results = grade(receiver.url, SECRET, timeout=0.3)
    # RCV-003 and the duplicate and out-of-order items carry records.sync.completed
    assert failing(results) == {"RCV-003", "RCV-011", "RCV-012"}
    assert "timeout: no response within 0.3 s" in outcomes_message(results, "RCV-003")
    slow = next(r for r in results if r.id == "RCV-003")
    assert slow.exchanges[0].status == 0


def test_nothing_listening_fails_every_item() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        url = f"http://127.0.0.1:{closed.server_address[1]}/"
    results = grade(url, SECRET, timeout=1.0)
    assert failing(results) == set(ALL_IDS)
    assert all("connection failed" in r.message for r in results)


# -- what is sent, and what is kept ----------------------------------------------------------


def test_results_carry_requirement_source_and_redacted_exchanges(python_receiver: Running) -> None:
    results = grade(python_receiver.url, SECRET)
    by_id = {r.id: r for r in results}
    assert by_id["RCV-008"].source == "§4.3"
    assert by_id["RCV-001"].requirement.startswith("A valid patient_session.completed")
    stale = by_id["RCV-008"].exchanges[0]
    header = stale.request_headers[HEADER]
    assert header.startswith("t=") and header.endswith(",v1=[redacted]")
    assert time.time() - int(header[2:].split(",")[0]) > 300
    assert stale.status == 400 and "timestamp" in stale.response_body
    assert HEADER not in by_id["RCV-007"].exchanges[0].request_headers
    retry = by_id["RCV-013"]
    first, second = sent_events(retry)
    assert first == second
    stamps = [int(e.request_headers[HEADER][2:].split(",")[0]) for e in retry.exchanges]
    assert stamps[1] - stamps[0] == 60
    created = grader_events.iso(time.time() - 2 * 3600)
    assert first["created_at"] < created  # the event is hours old, its retry signed now
    later, earlier = sent_events(by_id["RCV-012"])
    assert later["created_at"] > earlier["created_at"]
    assert SECRET not in as_json("receiver-grader", results)


def test_a_fault_in_the_grader_is_an_error_and_the_rest_still_run(
    python_receiver: Running,
) -> None:
    def broken(story: grader_events.Story, secret: str, now: float) -> list:
        raise ValueError(f"cannot build with {secret}")

    item = Item("RCV-999", "A broken item", "§4.3", Expect.ACK, broken)
    results = grade(python_receiver.url, SECRET, items=(item, ITEMS[0]))
    assert [r.outcome for r in results] == [Outcome.ERROR, Outcome.PASS]
    assert results[0].message.startswith("the grader failed: ValueError")
    assert SECRET not in results[0].message


def test_tampering_changes_exactly_one_byte_of_valid_json() -> None:
    story = grader_events.Story.new()
    body = event_body(story, grader_events.SYNC_COMPLETED, time.time())
    changed = tamper(body)
    assert len(changed) == len(body)
    assert sum(a != b for a, b in zip(body, changed, strict=True)) == 1
    assert (
        json.loads(changed)["data"]["object"]["total"]
        != json.loads(body)["data"]["object"]["total"]
    )


def test_the_grade_card_lists_every_item_and_the_verdict(careless_receiver: Running) -> None:
    from rich.console import Console

    results = grade(careless_receiver.url, SECRET)
    console = Console(record=True, width=160)
    render(results, console, careless_receiver.url)
    text = console.export_text()
    for item_id in ALL_IDS:
        assert item_id in text
    assert "200 200" in text and " ms" in text
    assert "FAIL: 5 of 13 graded items did not pass (RCV-005" in text


# -- the grader signs as the simulator does ----------------------------------------------


def emit_all_four(api: Api) -> None:
    """A patient connects and finishes (session completed, records synced), the refresh
    fails, and a sync failure is fired: one event of each type."""
    session = api.post(
        "/patient-sessions", {"patient_id": "p-grader", "return_url": "https://a.example/x"}
    ).json
    conn = api.connect(session["id"], "alice", EPIC)["connection"]
    api.done(session["id"])
    assert api.post(f"/_sim/connections/{conn['id']}/refresh-failure").status_code == 200
    fired = api.post(
        "/_sim/events",
        {"type": "records.sync.failed", "patient_id": "p-grader", "connection_id": EPIC},
    )
    assert fired.status_code == 200, fired.json


def test_the_grader_signs_and_encodes_exactly_as_the_simulator() -> None:
    with Sim() as sim:
        sim.route_outbound()
        api, _ = sim.new_workspace(seed=7)
        box = api.post("/_sim/inboxes", {}).json
        secret = api.post("/webhooks", {"url": box["url"], "events": ["*"]}).json["secret"]
        emit_all_four(api)
        arrived = api.get(f"/_sim/inboxes/{box['id']}/requests").json["data"]
    story = grader_events.Story.new()
    seen = set()
    for request in arrived:
        raw = request["body"].encode()
        header = request["headers"][HEADER]
        stamp = int(header.split(",")[0][2:])
        assert signature_header(raw, secret, stamp) == header
        event = json.loads(raw)
        assert grader_events.encode(event) == raw  # compact JSON, byte for byte
        ours = grader_events.envelope(
            event["type"], grader_events.payload(story, event["type"], stamp), stamp
        )
        assert list(ours) == list(event)
        assert set(ours["data"]["object"]) == set(event["data"]["object"]), event["type"]
        assert ours["api_version"] == event["api_version"]
        seen.add(event["type"])
    assert seen == set(grader_events.EVENT_TYPES)


@pytest.mark.parametrize("which", ["python", "node"])
def test_the_simulators_real_deliveries_are_acknowledged_by_the_examples(which: str) -> None:
    if which == "node" and NODE is None:
        pytest.skip("node is not installed (make node installs it)")
    command = (
        [sys.executable, str(RECEIVERS / "python_receiver.py")]
        if which == "python"
        else [NODE, str(RECEIVERS / "node_receiver.js")]
    )
    with Sim() as sim:
        api, _ = sim.new_workspace(seed=8)  # the manual clock starts at the wall clock
        hook = api.post("/webhooks", {"url": "http://127.0.0.1:9/", "events": ["*"]}).json
        running = start(command, hook["secret"])
        try:
            patched = api.patch(f"/webhooks/{hook['id']}", {"url": running.url})
            assert patched.status_code == 200, patched.json
            emit_all_four(api)
            records = api.get(f"/webhooks/{hook['id']}/events", limit=100).json["data"]
            handled = running.wait_handled(len(records))
        finally:
            stop(running)
    assert {r["type"] for r in records} == set(grader_events.EVENT_TYPES)
    assert all(r["last_status_code"] == 200 and r["delivered_at"] for r in records), records
    assert sorted(handled) == sorted(r["id"] for r in records)


# -- the command ---------------------------------------------------------------------------------


def test_cli_passes_and_writes_both_reports(python_receiver: Running, tmp_path: Path) -> None:
    report, junit = tmp_path / "grade.json", tmp_path / "grade.xml"
    got = CliRunner().invoke(
        grade_receiver,
        ["--url", python_receiver.url, "--json", str(report), "--junit", str(junit)],
        env={"CONNECT_SIM_WEBHOOK_SECRET": SECRET},
    )
    assert got.exit_code == 0, got.output
    assert "PASS: all 13 graded items passed" in got.output
    assert SECRET not in got.output
    body = json.loads(report.read_text())
    assert body["suite"] == "receiver-grader"
    assert body["summary"]["pass"] == 13 and len(body["results"]) == 13
    assert SECRET not in report.read_text()
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "13" and suite.get("failures") == "0"


def test_cli_exits_1_when_an_item_fails(careless_receiver: Running, tmp_path: Path) -> None:
    junit = tmp_path / "grade.xml"
    got = CliRunner().invoke(
        grade_receiver,
        ["--url", careless_receiver.url, "--secret", SECRET, "--junit", str(junit)],
    )
    assert got.exit_code == 1, got.output
    assert "FAIL: 5 of 13" in got.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "5"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--url", "http://127.0.0.1:1/", "--secret", "sk_live_oops_123"], "starts with 'whsec_'"),
        (["--url", "http://127.0.0.1:1/", "--secret", "whsec_"], "starts with 'whsec_'"),
        (["--url", "http://127.0.0.1:1/"], "CONNECT_SIM_WEBHOOK_SECRET"),
        (["--url", "ftp://example.com/hooks", "--secret", SECRET], "http:// or https://"),
        (["--url", "example.com/hooks", "--secret", SECRET], "http:// or https://"),
        (["--url", "http://127.0.0.1:port/", "--secret", SECRET], "port that is not a number"),
        (["--url", "http://[::1/", "--secret", SECRET], "is not a URL"),
        (["--url", "http://127.0.0.1:1/", "--secret", SECRET, "--timeout", "0"], "more than 0"),
    ],
)
def test_cli_refuses_bad_options_clearly(args: list[str], says: str) -> None:
    got = CliRunner().invoke(grade_receiver, args, env={"CONNECT_SIM_WEBHOOK_SECRET": None})
    assert got.exit_code == 2, got.output
    assert says in got.output
    assert "Traceback" not in got.output
    assert got.exception is None or isinstance(got.exception, SystemExit)
    assert "sk_live_oops_123" not in got.output


def test_cli_reports_an_unwritable_report_path(careless_receiver: Running, tmp_path: Path) -> None:
    got = CliRunner().invoke(
        grade_receiver,
        [
            "--url",
            careless_receiver.url,
            "--secret",
            SECRET,
            "--json",
            str(tmp_path / "missing" / "grade.json"),
        ],
    )
    assert got.exit_code == 1
    assert "cannot write the report" in got.output
    assert isinstance(got.exception, SystemExit)
