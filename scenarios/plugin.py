"""pytest plugin: every `*.scenario.yaml` is a test item (entry point `pytest11`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scenarios.results import ScenarioResult
from scenarios.validation import InvalidScenario, load_scenario

_TRANSPORT_KEY = pytest.StashKey[Any]()


class ScenarioFailed(Exception):
    """A scenario failed; the text is the runner's failure text."""


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.name.endswith((".scenario.yaml", ".scenario.yml")):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("connect-sim scenarios")
    group.addoption(
        "--scenario-base-url",
        default=None,
        help="run *.scenario.yaml against this connect-sim (default: in-process)",
    )


def _transport(config: pytest.Config) -> Any:
    if _TRANSPORT_KEY not in config.stash:
        base_url = config.getoption("--scenario-base-url", default=None)
        if base_url:
            from scenarios.client import HttpTransport

            config.stash[_TRANSPORT_KEY] = (HttpTransport(base_url), None)
        else:
            from scenarios.runner import in_process_transport

            cm = in_process_transport()
            config.stash[_TRANSPORT_KEY] = (cm.__enter__(), cm)
    return config.stash[_TRANSPORT_KEY][0]


def pytest_unconfigure(config: pytest.Config) -> None:
    held = config.stash.get(_TRANSPORT_KEY, None)
    if held is not None and held[1] is not None:
        held[1].__exit__(None, None, None)


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            scenario = load_scenario(self.path)
        except InvalidScenario as exc:
            yield InvalidScenarioItem.from_parent(self, name=self.path.name, problems=str(exc))
            return
        item = ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)
        item.extra_keyword_matches.update(scenario.tags)
        yield item


class InvalidScenarioItem(pytest.Item):
    def __init__(self, *, problems: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problems = problems

    def runtest(self) -> None:
        raise InvalidScenario([])

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return f"invalid scenario file (nothing ran):\n{self.problems}"

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario file {self.path.name}"


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.result: ScenarioResult | None = None

    def runtest(self) -> None:
        from scenarios.runner import in_process_transport, run_scenario

        if self.config.getoption("--scenario-base-url", default=None):
            self.result = run_scenario(self.scenario, _transport(self.config))
        else:
            with in_process_transport() as transport:
                self.result = run_scenario(self.scenario, transport)
        if not self.result.passed:
            assert self.result.failure is not None
            raise ScenarioFailed(self.result.failure.text())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario: {self.name}"
