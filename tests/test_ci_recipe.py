"""The CI recipe (examples/ci): the shell steps both CI files run, run here the same way."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
import yaml
from test_foundation_restart import free_port

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / "examples" / "ci"
SCRIPT = "examples/ci/run-against-simulator.sh"


def junit_totals(path: Path) -> dict[str, int]:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    keys = ("tests", "failures", "errors", "skipped")
    return {k: sum(int(s.get(k, "0")) for s in suites) for k in keys}


def test_the_github_workflow_runs_the_script_and_keeps_the_reports() -> None:
    flow = yaml.safe_load((CI / "github-actions.yml").read_text())
    assert set(flow[True]) == {"push", "pull_request"}  # YAML 1.1 reads the key `on` as True
    (job,) = flow["jobs"].values()
    runs = [step for step in job["steps"] if "run" in step]
    assert [step["run"] for step in runs] == [f"bash {SCRIPT}"]
    assert runs[0]["env"]["REPORTS_DIR"] == "reports"
    (upload,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/"


def test_the_gitlab_job_runs_the_script_and_keeps_the_reports() -> None:
    config = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    (job,) = config.values()
    assert job["script"] == [f"bash {SCRIPT}"]
    assert job["variables"]["REPORTS_DIR"] == "reports"
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always" and artifacts["paths"] == ["reports/"]
    assert artifacts["reports"]["junit"] == [
        "reports/app-junit.xml",
        "reports/conformance-junit.xml",
    ]


def test_the_script_runs_the_app_tests_and_the_conformance_suite_locally(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_SIM_")}
    env.update(
        SKIP_INSTALL="1",  # the project is installed already
        PYTHON=sys.executable,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        CONNECT_SIM_PORT=str(port),
        REPORTS_DIR=str(reports),
        CONFORMANCE_ARGS="--examples 0",  # the checks; the exploration is tested elsewhere
    )
    run = subprocess.run(
        ["bash", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert f"connect-sim is up at http://127.0.0.1:{port}" in run.stdout
    app = junit_totals(reports / "app-junit.xml")
    assert app["tests"] >= 15 and app["failures"] == app["errors"] == app["skipped"] == 0
    conformance = junit_totals(reports / "conformance-junit.xml")
    assert conformance["tests"] > 100
    assert conformance["failures"] == conformance["errors"] == 0
    html = (reports / "conformance.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "connect-conformance" in html
    assert (reports / "conformance.json").exists() and (reports / "connect-sim.log").exists()
    with pytest.raises(requests.ConnectionError):  # the script stopped the simulator
        requests.get(f"http://127.0.0.1:{port}/health", timeout=2)


def test_the_script_fails_when_the_apps_tests_fail(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_SIM_")}
    env.update(
        SKIP_INSTALL="1",
        PYTHON=sys.executable,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        CONNECT_SIM_PORT=str(free_port()),
        REPORTS_DIR=str(tmp_path / "reports"),
        APP_TEST_CMD='test "$CONNECT_SIM_API_KEY" != "" && exit 3',
        CONFORMANCE_ARGS="--examples 0 --only CAT-001",
    )
    run = subprocess.run(
        ["bash", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 3, run.stdout[-3000:] + run.stderr[-3000:]
    assert "app tests exit code: 3" in run.stdout
    assert junit_totals(tmp_path / "reports" / "conformance-junit.xml")["tests"] == 1


def test_the_script_refuses_a_port_already_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_SIM_")}
        env.update(
            SKIP_INSTALL="1",
            PYTHON=sys.executable,
            CONNECT_SIM_PORT=str(taken.getsockname()[1]),
            REPORTS_DIR=str(tmp_path / "reports"),
        )
        run = subprocess.run(
            ["bash", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
    assert run.returncode == 2 and "is taken" in run.stderr
