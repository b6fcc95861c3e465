"""`connect-sim scenario run|schema`."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from scenarios.durations import format_duration
from scenarios.results import ScenarioResult
from scenarios.runner import RunOptions, run_all
from scenarios.schema import schema_text
from scenarios.selection import select
from scenarios.validation import InvalidScenario, Scenario, discover, load_scenario

EXIT_PASSED, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
_STYLE = {"passed": "green", "failed": "red", "error": "magenta"}


def _virtual_elapsed(result: ScenarioResult) -> str:
    from scenarios.steps import _ms

    if not result.virtual_start or not result.virtual_end:
        return "?"
    return format_duration(_ms(result.virtual_end) - _ms(result.virtual_start))


def load_all(paths: list[str]) -> tuple[list[Scenario], list[str]]:
    """Every scenario under `paths`, and every problem found (one line each)."""
    scenarios: list[Scenario] = []
    problems: list[str] = []
    for path in discover(list(paths)):
        try:
            scenarios.append(load_scenario(path))
        except InvalidScenario as exc:
            problems += [str(p) for p in exc.problems]
    return scenarios, problems


@click.group("scenario")
def scenario() -> None:
    """YAML scenarios: run them on the virtual clock, print their JSON Schema."""


@scenario.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of scenario files (for editors and the YAML language server)."""
    click.echo(schema_text(), nl=False)


@scenario.command("run")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--base-url", default=None, help="a running connect-sim (default: in-process)")
@click.option("--api-key", default=None, envvar="CONNECT_SIM_API_KEY", help="key for --base-url")
@click.option("-k", "keyword", default=None, help="only scenarios whose name/file match EXPR")
@click.option("--tags", default=None, help="only scenarios with one of these tags (a,b)")
@click.option("--junit", "junit_path", default=None, type=click.Path(), help="JUnit XML file")
@click.option("--json", "json_path", default=None, type=click.Path(), help="JSON report file")
@click.option("--html", "html_path", default=None, type=click.Path(), help="HTML report file")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1, 64))
def run_cmd(
    paths: tuple[str, ...],
    base_url: str | None,
    api_key: str | None,
    keyword: str | None,
    tags: str | None,
    junit_path: str | None,
    json_path: str | None,
    html_path: str | None,
    jobs: int,
) -> None:
    """Run scenario files (or folders of *.scenario.yaml): exit 0 all pass, 1 a failure,
    2 an invalid file (then nothing runs)."""
    console = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    scenarios, problems = load_all(list(paths))
    if problems:
        for line in problems:
            err.print(line, markup=False)
        err.print(f"[red]{len(problems)} problem(s); nothing was run[/red]")
        sys.exit(EXIT_INVALID)
    if not scenarios:
        err.print("no *.scenario.yaml files found")
        sys.exit(EXIT_INVALID)
    try:
        chosen = select(scenarios, keyword, tags)
    except ValueError as exc:
        err.print(str(exc), markup=False)
        sys.exit(EXIT_INVALID)
    where = base_url or "in-process simulator"
    console.print(f"running {len(chosen)} of {len(scenarios)} scenario(s) on {where}")

    def show(result: ScenarioResult) -> None:
        style = _STYLE.get(result.status, "white")
        console.print(
            f"[{style}]{result.status.upper():6}[/{style}] {result.name}  "
            f"[dim]{result.file} · virtual {_virtual_elapsed(result)} · "
            f"wall {result.wall_ms / 1000:.2f}s[/dim]"
        )
        if result.failure is not None:
            console.print(result.failure.text(), markup=False)

    results = run_all(chosen, RunOptions(base_url=base_url, api_key=api_key, jobs=jobs), show)
    if json_path:
        from scenarios.reports.json_report import write_json

        write_json(results, json_path)
    if junit_path:
        from scenarios.reports.junit import write_junit

        write_junit(results, junit_path)
    if html_path:
        from scenarios.reports.html import write_html

        write_html(results, html_path)
    bad = [r for r in results if not r.passed]
    wall = sum(r.wall_ms for r in results) / 1000
    tone = "red" if bad else "green"
    console.print(
        f"[{tone}]{len(results) - len(bad)} passed, {len(bad)} failed[/{tone}] in {wall:.2f}s wall"
    )
    sys.exit(EXIT_FAILED if bad else EXIT_PASSED)
