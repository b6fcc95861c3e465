"""What a check answers: an outcome, a message, and the HTTP exchanges behind it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """Inferno's five outcomes: omit is a check that does not apply to this target."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"
    OMIT = "omit"


class CheckFailed(AssertionError):
    """The implementation broke the requirement (outcome `fail`)."""


class Skipped(Exception):
    """The check cannot run against this target, e.g. no `/_sim` control plane."""


class Omitted(Exception):
    """The check does not apply to this target at all."""


@dataclass
class Exchange:
    """One HTTP request the suite sent and what came back (secrets redacted)."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: Any
    status: int
    response_headers: dict[str, str]
    response_body: Any
    elapsed_ms: float
    virtual_time: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Result:
    """The outcome of one check (or one grader test) with its evidence."""

    id: str
    area: str
    requirement: str
    source: str
    outcome: Outcome
    message: str = ""
    exchanges: list[Exchange] = field(default_factory=list)
    duration_s: float = 0.0
    artifacts: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.outcome in (Outcome.FAIL, Outcome.ERROR)

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["outcome"] = str(self.outcome)
        return body


def summary(results: list[Result]) -> dict[str, int]:
    """How many results of each outcome, every outcome present (zero included)."""
    counts = {str(outcome): 0 for outcome in Outcome}
    for result in results:
        counts[str(result.outcome)] += 1
    return counts
