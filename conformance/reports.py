"""Reports of a run: JSON, JUnit XML (one testcase per result) and a self-contained HTML page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from conformance.results import Outcome, Result, summary


def as_json(suite: str, results: list[Result], meta: dict[str, Any] | None = None) -> str:
    body = {
        "suite": suite,
        "meta": meta or {},
        "summary": summary(results),
        "results": [r.as_dict() for r in results],
    }
    return json.dumps(body, indent=2, sort_keys=False)


def write_json(
    path: str | Path, suite: str, results: list[Result], meta: dict[str, Any] | None = None
) -> None:
    Path(path).write_text(as_json(suite, results, meta))


def as_junit(suite: str, results: list[Result]) -> str:
    counts = summary(results)
    root = ET.Element("testsuites", name=suite)
    node = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(counts["fail"]),
        errors=str(counts["error"]),
        skipped=str(counts["skip"] + counts["omit"]),
        time=f"{sum(r.duration_s for r in results):.3f}",
    )
    for result in results:
        case = ET.SubElement(
            node,
            "testcase",
            classname=f"{suite}.{result.area}",
            name=f"{result.id} {result.requirement}",
            time=f"{result.duration_s:.3f}",
        )
        if result.outcome is Outcome.FAIL:
            ET.SubElement(case, "failure", message=result.message[:500]).text = result.message
        elif result.outcome is Outcome.ERROR:
            ET.SubElement(case, "error", message=result.message[:500]).text = result.message
        elif result.outcome in (Outcome.SKIP, Outcome.OMIT):
            ET.SubElement(case, "skipped", message=result.message[:500])
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def write_junit(path: str | Path, suite: str, results: list[Result]) -> None:
    Path(path).write_text(as_junit(suite, results))
