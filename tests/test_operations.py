"""Clock moves in the background: `"wait": false` answers an operation to poll or cancel."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clikit import Cli, connected_session
from jsonschema import Draft202012Validator
from test_foundation_restart import KEY, Client, free_port, server

from simulator.core.timeutil import iso, parse_iso
from simulator.domain import operations
from simulator.testing import Api, Sim
from simulator.web import schemas

KIND = "test.operation_step"
BLOCKING = "test.operation_block"


class Gate(threading.Event):
    """Releases the blocking job; `entered` is set once that job has started."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()


@pytest.fixture
def release() -> Iterator[Gate]:
    event = Gate()
    yield event
    event.set()  # never leave a blocked job behind


def _workspace(sim: Sim, release: Gate) -> tuple[Api, str, list[int]]:
    api, created = sim.new_workspace(seed=3, clock="manual")
    ran: list[int] = []
    sim.runtime.scheduler.register(KIND, lambda rt, job: ran.append(job.due_ms))

    def block(rt: Any, job: Any) -> None:
        release.entered.set()
        assert release.wait(60), "the test never released the job"
        ran.append(job.due_ms)

    sim.runtime.scheduler.register(BLOCKING, block)
    return api, created["id"], ran


def _poll(api: Api, location: str) -> dict[str, Any]:
    """Poll the operation until it is no longer running (a real thread runs it)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        op = api.get(location).json
        if op["status"] != "running":
            return op
        time.sleep(0.01)
    raise AssertionError(f"still running: {op}")


def _valid(op: dict[str, Any]) -> dict[str, Any]:
    Draft202012Validator(schemas.CLOCK_OPERATION).validate(op)
    return op


def _ms(text: str) -> int:
    return parse_iso(text)


def test_advance_in_the_background_runs_every_due_job_and_ends_at_the_target(
    sim: Sim, release: Gate
) -> None:
    api, ws, ran = _workspace(sim, release)
    start = sim.runtime.now(ws)
    for seconds in (10, 20, 4000):
        sim.runtime.scheduler.schedule(ws, KIND, start + seconds * 1000)
    resp = api.post("/_sim/clock/advance", {"seconds": 3600, "wait": False})
    assert resp.status_code == 202
    created = _valid(resp.json)
    assert resp.headers["Location"] == f"/_sim/operations/{created['id']}"
    assert created["id"].startswith("op_") and created["kind"] == "advance"
    assert created["from"] == iso(start) and created["target"] == iso(start + 3_600_000)
    done = _valid(_poll(api, resp.headers["Location"]))
    assert done["status"] == "succeeded" and done["failure_code"] is None
    assert done["jobs_run"] == 2 and ran == [start + 10_000, start + 20_000]
    assert done["virtual_time"] == done["target"] == api.now() == iso(start + 3_600_000)
    assert done["progress"] == 1.0 and done["finished_at"] is not None
    listed = api.get("/_sim/operations").json["data"]
    assert [op["id"] for op in listed] == [created["id"]]


def test_set_and_run_until_idle_in_the_background(sim: Sim, release: Gate) -> None:
    api, ws, ran = _workspace(sim, release)
    start = sim.runtime.now(ws)
    sim.runtime.scheduler.schedule(ws, KIND, start + 50_000)
    target = iso(start + 86_400_000)
    resp = api.post("/_sim/clock/set", {"now": target, "wait": False})
    assert resp.status_code == 202 and resp.json["kind"] == "set"
    done = _poll(api, resp.headers["Location"])
    assert (done["status"], done["jobs_run"], done["virtual_time"]) == ("succeeded", 1, target)
    sim.runtime.scheduler.schedule(ws, KIND, start + 86_400_000 + 7_000)
    resp = api.post("/_sim/clock/run-until-idle", {"max_seconds": 3600, "wait": False})
    assert resp.status_code == 202 and resp.json["kind"] == "run_until_idle"
    done = _poll(api, resp.headers["Location"])
    assert done["status"] == "succeeded" and done["jobs_run"] == 1
    # run-until-idle stops at the last job run, not at its limit
    assert done["virtual_time"] == api.now() == iso(start + 86_400_000 + 7_000)
    assert len(ran) == 2


def test_progress_shows_while_it_runs_and_cancel_stops_it_after_the_current_job(
    sim: Sim, release: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, ws, ran = _workspace(sim, release)
    start = sim.runtime.now(ws)
    sim.runtime.scheduler.schedule(ws, KIND, start + 60_000)
    sim.runtime.scheduler.schedule(ws, BLOCKING, start + 120_000)
    sim.runtime.scheduler.schedule(ws, KIND, start + 180_000)
    resp = api.post("/_sim/clock/advance", {"seconds": 3600, "wait": False})
    location = resp.headers["Location"]
    deadline = time.monotonic() + 30
    while (op := api.get(location).json)["jobs_run"] < 1:  # the first job's progress
        assert time.monotonic() < deadline, op
    assert op["status"] == "running"
    assert op["virtual_time"] == iso(start + 60_000)
    assert 0 < op["progress"] < 1
    monkeypatch.setattr(operations, "CANCEL_WAIT_S", 0.0)  # the blocked job is still running
    answered = api.post(f"{location}/cancel")
    assert answered.status_code == 200 and answered.json["status"] == "running"
    release.set()
    done = _valid(_poll(api, location))
    assert done["status"] == "cancelled"
    assert done["jobs_run"] == 2  # the job running at the cancel finished; the next never ran
    assert ran == [start + 60_000, start + 120_000]
    assert done["virtual_time"] == api.now() == iso(start + 120_000)
    # cancelling a finished operation answers it unchanged
    again = api.post(f"{location}/cancel")
    assert again.status_code == 200 and again.json == done
    # the job it never reached runs on the next move
    api.advance(3600)
    assert ran[-1] == start + 180_000


def test_the_clock_cancel_call_stops_a_background_move_too(sim: Sim, release: Gate) -> None:
    api, ws, ran = _workspace(sim, release)
    start = sim.runtime.now(ws)
    sim.runtime.scheduler.schedule(ws, BLOCKING, start + 60_000)
    sim.runtime.scheduler.schedule(ws, KIND, start + 120_000)
    resp = api.post("/_sim/clock/advance", {"seconds": 600, "wait": False})
    assert release.entered.wait(30)  # the move is running its first job
    assert sim.runtime.scheduler.stop_move(ws)
    release.set()
    done = _poll(api, resp.headers["Location"])
    assert (done["status"], done["jobs_run"]) == ("cancelled", 1)
    assert api.now() == iso(start + 60_000)


def test_a_cancel_before_the_move_starts_runs_nothing(
    sim: Sim, release: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, ws, ran = _workspace(sim, release)
    monkeypatch.setattr(operations, "CANCEL_WAIT_S", 0.0)
    start = sim.runtime.now(ws)
    sim.runtime.scheduler.schedule(ws, KIND, start + 1_000)
    with sim.runtime.scheduler.lock(ws):  # another move holds the clock: the operation waits
        resp = api.post("/_sim/clock/advance", {"seconds": 60, "wait": False})
        answered = api.post(f"{resp.headers['Location']}/cancel")
        assert answered.json["status"] == "running"  # still waiting for the clock
    done = _poll(api, resp.headers["Location"])
    assert (done["status"], done["jobs_run"]) == ("cancelled", 0)
    assert ran == [] and api.now() == iso(start)


def test_a_set_in_the_past_by_the_time_it_runs_fails_with_the_reason(
    sim: Sim, release: Gate
) -> None:
    api, ws, _ = _workspace(sim, release)
    start = sim.runtime.now(ws)
    with sim.runtime.scheduler.lock(ws):
        resp = api.post("/_sim/clock/set", {"now": iso(start + 60_000), "wait": False})
        sim.runtime.scheduler.advance(ws, 3600)  # another move goes past that instant first
    done = _valid(_poll(api, resp.headers["Location"]))
    assert done["status"] == "failed" and done["failure_code"] == "invalid_move"
    assert "only moves forward" in done["failure_message"]
    assert api.now() == iso(start + 3_600_000)


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/_sim/clock/advance", {"seconds": 60, "wait": "no"}, "wait"),
        ("/_sim/clock/advance", {"seconds": 60, "wait": 0}, "wait"),
        ("/_sim/clock/set", {"now": "2030-01-01T00:00:00Z", "wait": None}, "wait"),
        ("/_sim/clock/run-until-idle", {"wait": "false"}, "wait"),
        ("/_sim/clock/advance", {"seconds": -1, "wait": False}, "seconds"),
    ],
)
def test_bad_input_is_a_400_envelope_and_starts_nothing(
    api: Api, path: str, body: dict[str, Any], param: str
) -> None:
    resp = api.post(path, body)
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "invalid_data"
    assert resp.json["error"]["param"] == param
    assert api.get("/_sim/operations").json["data"] == []


def test_a_backwards_set_is_refused_before_any_operation_starts(api: Api) -> None:
    resp = api.post("/_sim/clock/set", {"now": "2000-01-01T00:00:00Z", "wait": False})
    assert resp.status_code == 400 and resp.json["error"]["param"] == "now"
    assert api.get("/_sim/operations").json["data"] == []


def test_unknown_and_foreign_operations_are_404(sim: Sim, release: Gate) -> None:
    api, _, _ = _workspace(sim, release)
    other, _ = sim.new_workspace(seed=4)
    for path in ("/_sim/operations/op_nope", "/_sim/operations/op_nope/cancel"):
        resp = api.get(path) if path.endswith("nope") else api.post(path)
        assert resp.status_code == 404
        assert resp.json["error"]["code"] == "resource_not_found"
    resp = api.post("/_sim/clock/advance", {"seconds": 1, "wait": False})
    assert other.get(resp.headers["Location"]).status_code == 404  # keys reach their own
    _poll(api, resp.headers["Location"])


def test_wait_true_is_the_synchronous_move(api: Api) -> None:
    resp = api.post("/_sim/clock/advance", {"seconds": 60, "wait": True})
    assert resp.status_code == 200 and set(resp.json) == {"now", "mode", "jobs_run"}


def test_an_operation_left_running_by_a_stopped_process_is_failed_interrupted(
    tmp_path: Any, release: Gate
) -> None:
    db = str(tmp_path / "sim.db")
    first = Sim(db_path=db)
    try:
        api, ws, _ = _workspace(first, release)
        start = first.runtime.now(ws)
        first.runtime.scheduler.schedule(ws, BLOCKING, start + 60_000)
        resp = api.post("/_sim/clock/advance", {"seconds": 600, "wait": False})
        location = resp.headers["Location"]
        while first.runtime.now(ws) == start:  # the move is at its blocked job
            pass
        # A new process opens the store while this one's operation is still `running`.
        with Sim(db_path=db) as second:
            op = second.api(api.api_key).get(location).json
            assert op["status"] == "failed" and op["failure_code"] == "interrupted"
            assert op["finished_at"] is not None
        release.set()
        # the first process's move ends later; it does not overwrite the settled row
        first.runtime.background.join(f"{ws}:{resp.json['id']}", 30)
        assert api.get(location).json["status"] == "failed"
    finally:
        release.set()
        first.close()


def test_stopping_the_runtime_interrupts_a_running_operation_after_its_job(
    tmp_path: Any, release: Gate
) -> None:
    db = str(tmp_path / "sim.db")
    sim = Sim(db_path=db)
    api, ws, ran = _workspace(sim, release)
    start = sim.runtime.now(ws)
    sim.runtime.scheduler.schedule(ws, BLOCKING, start + 60_000)
    sim.runtime.scheduler.schedule(ws, KIND, start + 120_000)
    resp = api.post("/_sim/clock/advance", {"seconds": 600, "wait": False})
    while sim.runtime.now(ws) == start:
        pass
    settled: list[bool] = []
    stopper = threading.Thread(target=lambda: settled.append(sim.runtime.stop_background(30)))
    stopper.start()
    # once the runtime is stopping nothing new starts (and the running move was asked to stop)
    while (refused := api.post("/_sim/clock/advance", {"seconds": 1, "wait": False}).json)[
        "status"
    ] == "running":
        pass
    assert refused["status"] == "failed" and refused["failure_code"] == "interrupted"
    release.set()  # the blocked job ends; the move stops after it
    stopper.join(30)
    assert settled == [True]
    op = api.get(resp.headers["Location"]).json
    sim.close()
    assert (op["status"], op["failure_code"], op["jobs_run"]) == ("failed", "interrupted", 1)
    assert ran == [start + 60_000]
    assert op["virtual_time"] == iso(start + 60_000)


# -- against a served simulator, through the command line ------------------------------------


def _percent(line: str) -> float:
    return float(re.search(r"advance:\s+([\d.]+)%", line).group(1))


def test_cli_clock_advance_30d_prints_progress_and_ends_at_the_exact_instant(
    tmp_path: Path,
) -> None:
    port = free_port()
    with server(tmp_path / "sim.db", port, tmp_path / "serve.log", args=("--quiet",)):
        client = Client(port)
        connected_session(client)  # hourly tokens: a refresh about every 55 min, daily pulls
        start = _ms(client.get("/_sim/clock")["now"])
        cli = Cli(port, "clock", "advance", "30d")
        assert cli.finish() == 0, cli.seen
        target = iso(start + 30 * 86_400_000)
        (final,) = cli.output("out")
        assert final.startswith(f"{target}  manual clock, ")
        jobs = int(re.search(r"(\d+) jobs run$", final).group(1))
        assert jobs > 700  # 30 days of refreshes and pulls
        assert client.get("/_sim/clock")["now"] == target
        progress = [line for line in cli.output("err") if line.startswith("advance:")]
        percents = [_percent(line) for line in progress]
        assert percents == sorted(percents) and percents[0] == 0.0
        assert any(0 < p < 100 for p in percents), progress  # seen part-way
        (op,) = client.get("/_sim/operations")["data"]
        assert (op["status"], op["jobs_run"], op["virtual_time"]) == ("succeeded", jobs, target)


def test_ctrl_c_cancels_the_cli_move_and_sigterm_interrupts_a_background_one(
    tmp_path: Path,
) -> None:
    port, db, log = free_port(), tmp_path / "sim.db", tmp_path / "serve.log"
    with server(db, port, log, args=("--quiet",)) as proc:
        client = Client(port)
        connected_session(client)
        start = _ms(client.get("/_sim/clock")["now"])
        cli = Cli(port, "clock", "advance", "30d")
        try:
            cli.wait_for(lambda line: "advance:" in line and " 0 jobs" not in line, "err")
            assert cli.interrupt() == 130
        finally:
            cli.close()
        (line,) = cli.output("out")
        assert line.endswith("(cancelled)")
        (op,) = client.get("/_sim/operations")["data"]
        assert op["status"] == "cancelled" and 0 < op["jobs_run"]
        stopped_at = client.get("/_sim/clock")["now"]
        assert line.startswith(f"{stopped_at}  manual clock, {op['jobs_run']} jobs run")
        assert start < _ms(stopped_at) < start + 30 * 86_400_000
        # a background move still running when the server gets SIGTERM
        running = client.post("/_sim/clock/advance", {"seconds": 30 * 86400, "wait": False})
        while client.get(f"/_sim/operations/{running['id']}")["jobs_run"] == 0:
            pass  # polling a real server until the move is under way
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    assert "exiting without it" not in log.read_text()  # the drain waited for it
    with server(db, port, tmp_path / "again.log", args=("--quiet",)):
        client = Client(port)
        op = client.get(f"/_sim/operations/{running['id']}")
        assert (op["status"], op["failure_code"]) == ("failed", "interrupted")
        assert op["jobs_run"] > 0 and op["finished_at"] is not None
        # the clock stayed where its last job left it, short of the target
        assert client.get("/_sim/clock")["now"] == op["virtual_time"] < op["target"]


def test_on_a_terminal_the_cli_move_draws_a_progress_bar(tmp_path: Path) -> None:
    port = free_port()
    with server(tmp_path / "sim.db", port, tmp_path / "serve.log", args=("--quiet",)):
        client = Client(port)
        connected_session(client)
        start = _ms(client.get("/_sim/clock")["now"])
        parent, child = pty.openpty()
        env = {
            **os.environ,
            "CONNECT_SIM_BASE_URL": f"http://127.0.0.1:{port}",
            "CONNECT_SIM_API_KEY": KEY,
            "COLUMNS": "120",
            "TERM": "xterm",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "clock", "advance", "3d"],
            stdout=child,
            stderr=child,
            env=env,
        )
        os.close(child)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(parent, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(parent)
        assert proc.wait(timeout=60) == 0
    shown = b"".join(chunks).decode("utf-8", errors="replace")
    assert "━" in shown and "100%" in shown  # rich's bar, drawn to the end
    assert f"{iso(start + 3 * 86_400_000)}  manual clock, " in shown
