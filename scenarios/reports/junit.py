"""JUnit XML (the Jenkins/Ant shape GitLab, Jenkins and GitHub annotations read)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from scenarios.reports.redact import redact
from scenarios.results import ScenarioResult


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.3f}"


def build_junit(results: list[ScenarioResult], suite_name: str = "connect-sim scenarios") -> str:
    failures = sum(r.status == "failed" for r in results)
    errors = sum(r.status == "error" for r in results)
    total_ms = sum(r.wall_ms for r in results)
    root = ET.Element(
        "testsuites",
        name=suite_name,
        tests=str(len(results)),
        failures=str(failures),
        errors=str(errors),
        time=_seconds(total_ms),
    )
    by_file: dict[str, list[ScenarioResult]] = {}
    for r in results:
        by_file.setdefault(str(Path(r.file).parent), []).append(r)
    for index, (folder, group) in enumerate(by_file.items()):
        suite = ET.SubElement(
            root,
            "testsuite",
            name=folder,
            tests=str(len(group)),
            failures=str(sum(r.status == "failed" for r in group)),
            errors=str(sum(r.status == "error" for r in group)),
            skipped="0",
            time=_seconds(sum(r.wall_ms for r in group)),
            id=str(index),
        )
        for r in group:
            case = ET.SubElement(
                suite,
                "testcase",
                name=r.name,
                classname=Path(r.file).name.removesuffix(".yaml").replace(".", "_"),
                time=_seconds(r.wall_ms),
                file=r.file,
                line=str(r.failure.line if r.failure else 1),
            )
            if r.failure is not None:
                tag = "failure" if r.status == "failed" else "error"
                text = redact(r.failure.text())
                node = ET.SubElement(
                    case,
                    tag,
                    message=redact(r.failure.message)[:1000],
                    type="AssertionError" if tag == "failure" else "ScenarioError",
                )
                node.text = text
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(
                f"[{s.virtual_time}] {s.status:7} step {s.index + 1} (line {s.line}): {s.label}"
                for s in r.steps
            )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def write_junit(results: list[ScenarioResult], path: str) -> None:
    Path(path).write_text(build_junit(results) + "\n", encoding="utf-8")
