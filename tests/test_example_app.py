"""The example integrator app (examples/app) passes its own test suite, run as a newcomer would.

The suite runs in a child pytest from the example's folder, with its own pyproject.toml
and conftest: nothing of the project's tests is loaded, only the installed plugin.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "app"

# the behaviours the example must demonstrate, each by at least one passing test
SHOWN = ("success", "denial", "expires", "refresh_failure", "retried", "forged")


def test_the_example_apps_suite_passes_in_process(tmp_path: Path) -> None:
    junit = tmp_path / "healthapp.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_SIM_")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("tests", "0")) >= 15
    assert suite.get("failures") == suite.get("errors") == suite.get("skipped") == "0"
    names = [case.get("name", "") for case in suite.iter("testcase")]
    for behaviour in SHOWN:
        assert any(behaviour in name for name in names), behaviour
