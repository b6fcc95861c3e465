"""The JSON report: every scenario, step, request and the timeline (secrets redacted)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from scenarios.reports.redact import redact
from scenarios.results import ScenarioResult

WALL_FIELDS = ("wall_ms",)


def _exchange(ex: Any) -> dict[str, Any]:
    return {
        "method": ex.method,
        "path": ex.path,
        "query": ex.query,
        "body": ex.body,
        "status": ex.status,
        "response": ex.response,
        "headers": ex.headers,
        "virtual_time": ex.virtual_time,
    }


def scenario_dict(result: ScenarioResult) -> dict[str, Any]:
    failure = None
    if result.failure is not None:
        f = result.failure
        failure = {
            "file": f.file,
            "line": f.line,
            "column": f.column,
            "step": f.step,
            "message": f.message,
            "expected": f.expected,
            "seen": f.seen,
            "virtual_time": f.virtual_time,
            "requests": [_exchange(e) for e in f.requests],
            "webhooks": f.webhooks,
            "text": f.text(),
        }
    steps = []
    for s in result.steps:
        item = asdict(s)
        item["requests"] = [_exchange(e) for e in s.requests]
        steps.append(item)
    return redact(
        {
            "name": result.name,
            "file": result.file,
            "tags": result.tags,
            "seed": result.seed,
            "status": result.status,
            "virtual_start": result.virtual_start,
            "virtual_end": result.virtual_end,
            "wall_ms": round(result.wall_ms, 1),
            "steps": steps,
            "failure": failure,
            "timeline": result.timeline,
        }
    )


def summary(results: list[ScenarioResult]) -> dict[str, Any]:
    return {
        "total": len(results),
        "passed": sum(r.status == "passed" for r in results),
        "failed": sum(r.status == "failed" for r in results),
        "errors": sum(r.status == "error" for r in results),
        "wall_ms": round(sum(r.wall_ms for r in results), 1),
    }


def build_report(results: list[ScenarioResult]) -> dict[str, Any]:
    return {
        "format": "connect-sim-scenarios/1",
        "summary": summary(results),
        "scenarios": [scenario_dict(r) for r in results],
    }


def write_json(results: list[ScenarioResult], path: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(build_report(results), fh, indent=2, sort_keys=True)
        fh.write("\n")


def without_wall_clock(value: Any) -> Any:
    """The report with its wall-clock fields removed (what must repeat between runs)."""
    if isinstance(value, dict):
        return {k: without_wall_clock(v) for k, v in value.items() if k not in WALL_FIELDS}
    if isinstance(value, list):
        return [without_wall_clock(v) for v in value]
    return value
