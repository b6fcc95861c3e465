"""The pytest plugin collects `*.scenario.yaml` files and fails them with the runner's text."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_plugin_collects_and_runs_scenario_files(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".scenario.yaml",
        ok="name: ok\nsteps:\n  - app: list_patients\n",
        no="name: nope\nsteps:\n  - app: list_patients\n    expect: {status: 201}\n",
        bad="name: bad\nsteps:\n  - clok: {}\n",
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*bad.scenario.yaml:3:5: unknown step kind 'clok'*",
            "*no.scenario.yaml:4:22 (step 1): status: expected equals 201",
            "*seen:     200",
        ]
    )


def test_the_library_is_collected_and_run(pytester: pytest.Pytester) -> None:
    from pathlib import Path

    library = Path(__file__).resolve().parents[1] / "scenarios" / "library"
    assert len(list(library.glob("*.scenario.yaml"))) >= 30
    collected = pytester.runpytest("--collect-only", "-q", str(library))
    assert sum(".scenario.yaml" in line for line in collected.stdout.lines) >= 30
    direct = len(list(library.glob("*direct*.scenario.yaml")))
    assert direct >= 5
    result = pytester.runpytest("-p", "no:cacheprovider", str(library), "-k", "direct")
    result.assert_outcomes(passed=direct)
