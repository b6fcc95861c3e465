"""What a run produced: per scenario, per step, and the failure with its context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scenarios.client import Exchange


@dataclass
class Failure:
    file: str
    line: int
    column: int
    step: int | None
    message: str
    expected: str | None = None
    seen: str | None = None
    virtual_time: str | None = None
    requests: list[Exchange] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)

    def text(self) -> str:
        """The failure as shown on the terminal, in JUnit and in pytest."""
        step = f" (step {self.step + 1})" if self.step is not None else ""
        lines = [f"{self.file}:{self.line}:{self.column}{step}: {self.message}"]
        if self.expected is not None:
            lines.append(f"  expected: {self.expected}")
        if self.seen is not None:
            lines.append(f"  seen:     {self.seen}")
        if self.virtual_time:
            lines.append(f"  virtual time: {self.virtual_time}")
        if self.requests:
            lines.append("  last requests:")
            for ex in self.requests:
                lines.append(f"    [{ex.virtual_time}] {ex.method} {ex.path} -> {ex.status}")
        if self.webhooks:
            lines.append("  last webhook arrivals:")
            for hook in self.webhooks:
                sig = hook.get("signature", {}).get("valid")
                lines.append(
                    f"    [{hook.get('received_at')}] {hook.get('event_type')}"
                    f" {hook.get('event_id')} -> {hook.get('response_status')}"
                    f" (signature valid: {sig})"
                )
        return "\n".join(lines)


@dataclass
class StepResult:
    index: int
    kind: str
    label: str
    line: int
    status: str  # passed | failed | error | skipped
    virtual_time: str | None = None
    wall_ms: float = 0.0
    message: str | None = None
    requests: list[Exchange] = field(default_factory=list)


@dataclass
class ScenarioResult:
    name: str
    file: str
    tags: list[str]
    seed: int
    status: str  # passed | failed | error
    steps: list[StepResult] = field(default_factory=list)
    failure: Failure | None = None
    virtual_start: str | None = None
    virtual_end: str | None = None
    wall_ms: float = 0.0
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "passed"
