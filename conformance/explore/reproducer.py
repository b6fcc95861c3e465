"""Every executed rule as a scenario step; a failing run written as a `*.scenario.yaml`.

The steps use the scenario language (`scenarios/README.md`): saved responses
stand for ids (`${s1.id}`, `${c2.connection.id}`, `${box3.webhook.id}`), and the
workspace starts where scenarios start by default, so the file replays the
same story on `connect-sim scenario run FILE`. The last step is the
expectation the target broke, holding the value the model predicts.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SCENARIO_START = "2030-01-01T00:00:00Z"  # the scenario runner's default workspace start


@dataclass
class Recorder:
    """The scenario steps of one example, in the order the rules ran."""

    steps: list[dict[str, Any]] = field(default_factory=list)

    def add(self, step: dict[str, Any]) -> None:
        self.steps.append(step)


class InvariantBroken(AssertionError):
    """The target broke an invariant; carries the steps that show it and the expectation."""

    def __init__(
        self, invariant: str, detail: str, expectation: list[dict[str, Any]], steps: list[Any]
    ) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant = invariant
        self.detail = detail
        self.expectation = expectation
        self.steps = list(steps)


def duration(ms: int) -> str:
    """A scenario duration for `ms` milliseconds (`90s`, `1500ms`, `2h`)."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def scenario_document(
    name: str, seed: int, broken: InvariantBroken, description: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "description": description or f"Found by the conformance exploration: {broken}",
        "tags": ["exploration", "reproducer"],
        "seed": seed,
        "workspace": {"clock": "manual", "start": SCENARIO_START},
        "steps": [*broken.steps, *broken.expectation],
    }


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "invariant"


def write_reproducer(
    broken: InvariantBroken, *, seed: int, directory: Path | None, label: str
) -> Path:
    """Write the reproducer and answer its path (a new temporary folder by default)."""
    folder = directory if directory is not None else Path(tempfile.mkdtemp(prefix="explore-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{label.lower()}_{_slug(broken.invariant)}.scenario.yaml"
    document = scenario_document(f"{label}: {broken.invariant}", seed, broken)
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100))
    return path
