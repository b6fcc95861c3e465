"""What the benchmarks share: a bounded rate measurement, and a report as one JSON line."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any


def measure(
    label: str,
    call: Callable[[int], None],
    requests: int,
    seconds: float,
    *,
    unit: str = "req/s",
    width: int = 28,
) -> float:
    """Run `call(i)` up to `requests` times or until `seconds` pass; print and return the rate."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while done < requests and time.perf_counter() < deadline:
        call(done)
        done += 1
    elapsed = time.perf_counter() - start
    rate = done / elapsed if elapsed > 0 else float("inf")
    print(f"{label:<{width}} {rate:>9.0f} {unit}   ({done} in {elapsed:.2f} s)")
    return rate


class Report:
    """Rates measured under labels: each printed as a table row when measured, then all of
    them as one JSON line (`{"bench": name, ..., "results": {label: rate}}`)."""

    def __init__(self, bench: str, *, unit: str = "req/s", width: int = 28) -> None:
        self.bench = bench
        self.unit = unit
        self.width = width
        self.results: dict[str, Any] = {}

    def measure(
        self, label: str, call: Callable[[int], None], requests: int, seconds: float
    ) -> float:
        rate = measure(label, call, requests, seconds, unit=self.unit, width=self.width)
        self.results[label] = round(rate, 1)
        return rate

    def add(self, label: str, value: Any) -> None:
        self.results[label] = value

    def json(self, **extra: Any) -> None:
        print(
            json.dumps({"bench": self.bench, "unit": self.unit, **extra, "results": self.results})
        )
