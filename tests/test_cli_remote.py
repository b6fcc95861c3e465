"""`connect-sim clock …`, `connect-sim workspace …` and `--version` against a simulator
(in process here: `requests` to its base URL is routed into its WSGI app)."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner
from test_foundation_restart import free_port

from simulator import __version__
from simulator.cli import main
from simulator.testing import Sim


def _run(sim: Sim, *args: str, key: str | None = None):  # noqa: ANN202
    env = {"CONNECT_SIM_BASE_URL": sim.base_url}
    if key:
        env["CONNECT_SIM_API_KEY"] = key
    return CliRunner().invoke(main, list(args), env=env)


def _new_key(sim: Sim) -> str:
    made = _run(sim, "workspace", "new", "--seed", "7")
    assert made.exit_code == 0, made.output
    return re.search(r"export CONNECT_SIM_API_KEY=(mb_sk_\S+)", made.output).group(1)


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_a_new_workspace_of_another_generation_and_strict(sim: Sim) -> None:
    made = _run(sim, "workspace", "new", "--naming", "B", "--strict", "--json")
    assert made.exit_code == 0, made.output
    answer = json.loads(made.output)
    assert (answer["naming"], answer["strict"]) == ("B", True)
    shown = json.loads(_run(sim, "workspace", "show", "--json", key=answer["api_key"]).output)
    assert (shown["naming"], shown["strict"]) == ("B", True)


def test_a_new_workspace_its_clock_moved_and_reset(sim: Sim) -> None:
    sim.route_outbound()
    key = _new_key(sim)
    shown = json.loads(_run(sim, "clock", "show", "--json", key=key).output)
    assert shown["mode"] == "manual"
    moved = _run(sim, "clock", "advance", "2h", key=key)
    assert moved.exit_code == 0 and "jobs run" in moved.output, moved.output
    after = json.loads(_run(sim, "clock", "show", "--json", key=key).output)
    assert after["now"] > shown["now"]
    idle = json.loads(_run(sim, "clock", "run-until-idle", "--max", "1d", "--json", key=key).output)
    assert idle["jobs_run"] >= 0
    info = json.loads(_run(sim, "workspace", "show", "--json", key=key).output)
    assert info["seed"] == 7 and info["clock"]["now"] == idle["now"]
    reset = _run(sim, "workspace", "reset", key=key)
    assert reset.exit_code == 0 and "empty again" in reset.output


def test_errors_are_one_clear_line(sim: Sim) -> None:
    sim.route_outbound()
    key = _new_key(sim)
    bad = _run(sim, "clock", "advance", "soon", key=key)
    assert bad.exit_code == 2 and "not a duration" in bad.output
    past = _run(sim, "clock", "set", "2020-01-01T00:00:00Z", key=key)
    assert past.exit_code == 1 and "400 invalid_data" in past.output and "forward" in past.output
    keyless = _run(sim, "clock", "show")
    assert keyless.exit_code == 2 and "CONNECT_SIM_API_KEY" in keyless.output
    wrong = _run(sim, "clock", "show", key="mb_sk_sbx_not_a_key")
    assert wrong.exit_code == 1 and "401" in wrong.output
    for result in (bad, past, keyless, wrong):
        assert "Traceback" not in result.output


def test_an_unreachable_simulator_is_said_plainly() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(main, ["clock", "show", "--base-url", url, "--api-key", "mb_sk_x"])
    assert result.exit_code == 1 and "cannot reach" in result.output
