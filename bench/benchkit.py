"""What the benchmarks share: a bounded rate measurement."""

from __future__ import annotations

import time
from collections.abc import Callable


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
