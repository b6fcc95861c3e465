"""`connect-conformance`: run the black-box conformance suite, or list its checks."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import click
import requests
from rich.console import Console
from rich.table import Table
from rich.text import Text

from conformance import registry, reports, runner
from conformance.registry import Check
from conformance.results import Outcome, Result, summary
from conformance.target import Target, http_target, in_process_target

SUITE = "connect-conformance"
STYLE = MappingProxyType(
    {"pass": "green", "fail": "bold red", "error": "bold magenta", "skip": "yellow"}
)


def _patterns(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _selected(only: str | None, skip: str | None) -> list[Check]:
    checks = registry.select(registry.collect(), _patterns(only), _patterns(skip))
    if not checks:
        raise click.UsageError(f"no check matches --only {only!r} / --skip {skip!r}")
    return checks


def _outcome(result: Result) -> Text:
    name = str(result.outcome)
    return Text(name.upper(), style=STYLE.get(name, "dim"))


@click.group()
def main() -> None:
    """The Medblocks Connect conformance suite (HTTP only)."""


@main.command("list")
@click.option("--only", default=None, help="Comma-separated ids, areas or globs to keep.")
@click.option("--skip", default=None, help="Comma-separated ids, areas or globs to leave out.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--markdown", is_flag=True, help="Markdown tables by area (for the guide).")
def list_checks(only: str | None, skip: str | None, as_json: bool, markdown: bool) -> None:
    """Every check with its requirement and fact-sheet section."""
    checks = _selected(only, skip)
    if markdown:
        click.echo(markdown_table(checks))
        return
    if as_json:
        rows = [
            {
                "id": c.id,
                "area": c.area,
                "requirement": c.requirement,
                "source": c.source,
                "needs_control": c.needs_control,
            }
            for c in checks
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(checks)} checks")
    for column in ("id", "area", "requirement", "section"):
        table.add_column(column, overflow="fold")
    for c in checks:
        table.add_row(c.id, c.area, c.requirement, c.source)
    Console().print(table)


def markdown_table(checks: list[Check]) -> str:
    """The checks as one Markdown table per area (docs/conformance.md holds this output)."""
    lines: list[str] = []
    area = None
    for c in checks:
        if c.area != area:
            area = c.area
            lines += ["", f"### {area}", "", "| id | requirement | section | needs `/_sim` |"]
            lines.append("|---|---|---|---|")
        requirement = c.requirement.replace("*", "\\*").replace("|", "\\|")
        lines.append(
            f"| {c.id} | {requirement} | {c.source} | {'yes' if c.needs_control else ''} |"
        )
    return "\n".join(lines)


@main.command("run")
@click.option("--base-url", default=None, help="The target; without it, an in-process simulator.")
@click.option("--api-key", default=None, help="Key for a target without the /_sim control plane.")
@click.option("--only", default=None, help="Comma-separated ids, areas or globs to run.")
@click.option("--skip", default=None, help="Comma-separated ids, areas or globs to leave out.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--examples", default=20, show_default=True, type=click.IntRange(min=0))
@click.option("--max-steps", default=25, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--reproducers",
    default="conformance-reproducers",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the exploration writes a reproducer for each failure.",
)
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), default=None)
def run_suite(
    base_url: str | None,
    api_key: str | None,
    only: str | None,
    skip: str | None,
    seed: int,
    examples: int,
    max_steps: int,
    reproducers: Path,
    junit: Path | None,
    json_path: Path | None,
    html: Path | None,
) -> None:
    """Run the checks (then the stateful exploration) and exit 1 on any failure or error."""
    checks = _selected(only, skip)
    console = Console(highlight=False)
    target = http_target(base_url, api_key) if base_url else in_process_target()
    _reach(target)
    started = datetime.now(UTC)
    clock = time.perf_counter()
    console.print(f"[bold]{SUITE}[/] against {target.label or target.base_url} (seed {seed})")

    def progress(result: Result) -> None:
        line = Text.assemble(
            (f"{result.id:<9} ", "bold"), _outcome(result), "  ", result.requirement
        )
        console.print(line, soft_wrap=True)
        if result.failed or result.outcome is Outcome.SKIP:
            first = (result.message.splitlines() or [""])[0]
            console.print(Text(f"          {first[:300]}", "dim"))

    try:
        results = runner.run(checks, target, seed=seed, progress=progress)
        if examples > 0:
            for result in _explore(target, seed, examples, max_steps, reproducers):
                progress(result)
                results.append(result)
    finally:
        _close(target)
    meta = _meta(target, seed, examples, max_steps, started, time.perf_counter() - clock)
    _summary(console, results)
    _write_reports(results, meta, junit=junit, json_path=json_path, html=html)
    raise SystemExit(1 if any(r.failed for r in results) else 0)


def _write_reports(
    results: list[Result],
    meta: dict[str, Any],
    *,
    junit: Path | None,
    json_path: Path | None,
    html: Path | None,
) -> None:
    try:
        if junit:
            reports.write_junit(junit, SUITE, results)
        if json_path:
            reports.write_json(json_path, SUITE, results, meta)
        if html:
            reports.write_html(html, SUITE, results, meta)
    except OSError as exc:
        raise click.ClickException(f"cannot write a report: {exc}") from None


def _close(target: Target) -> None:
    """Stop the in-process simulator's background work (a target over HTTP has none)."""
    sim = getattr(target, "sim", None)
    if sim is not None:
        sim.close()


def _reach(target: Target) -> None:
    """Fail early, in one line, when the target does not answer at all."""
    try:
        target.has_control_plane  # noqa: B018 - the first request
    except requests.RequestException as exc:
        raise click.ClickException(
            f"cannot reach {target.base_url}: {type(exc).__name__}"
        ) from None


def _explore(
    target: Target, seed: int, examples: int, max_steps: int, reproducers: Path
) -> list[Result]:
    """The Hypothesis exploration of the reference model (after the checks)."""
    from conformance.explore import explore

    return explore(
        target, seed=seed, examples=examples, max_steps=max_steps, reproducer_dir=reproducers
    )


def _meta(
    target: Target,
    seed: int,
    examples: int,
    max_steps: int,
    started: datetime,
    duration_s: float,
) -> dict[str, Any]:
    return {
        "target": target.label or target.base_url,
        "base_url": target.base_url,
        "control_plane": target.has_control_plane,
        "seed": seed,
        "examples": examples,
        "max_steps": max_steps,
        "started_at": started.isoformat(timespec="seconds"),
        "duration_s": round(duration_s, 3),
    }


def _summary(console: Console, results: list[Result]) -> None:
    table = Table(title="Summary")
    table.add_column("area")
    outcomes = [str(o) for o in Outcome]
    for name in outcomes:
        table.add_column(name, justify="right", style=STYLE.get(name))
    by_area: dict[str, list[Result]] = {}
    for result in results:
        by_area.setdefault(result.area, []).append(result)
    for area, items in sorted(by_area.items()):
        counts = summary(items)
        table.add_row(area, *(str(counts[name]) for name in outcomes))
    totals = summary(results)
    table.add_row("all", *(str(totals[name]) for name in outcomes), style="bold")
    console.print(table)
    failed = [r for r in results if r.failed]
    for result in failed:
        console.print(Text.assemble(_outcome(result), f" {result.id}: ", result.message[:500]))


def _add_grader() -> None:
    from conformance.grader.cli import grade_receiver

    main.add_command(grade_receiver)


_add_grader()
