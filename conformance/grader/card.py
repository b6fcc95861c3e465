"""The grade card: one table row per graded item, then a pass/fail line."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from conformance.results import Outcome, Result

_STYLE = {
    Outcome.PASS: "green",
    Outcome.FAIL: "red",
    Outcome.ERROR: "red",
    Outcome.SKIP: "yellow",
    Outcome.OMIT: "dim",
}


def statuses(result: Result) -> str:
    """The HTTP statuses the receiver answered, `-` where nothing came back in time."""
    return " ".join(str(e.status) if e.status else "-" for e in result.exchanges) or "-"


def latency(result: Result) -> str:
    """The slowest answer of the item."""
    if not result.exchanges:
        return "-"
    return f"{max(e.elapsed_ms for e in result.exchanges):.0f} ms"


def passed(results: list[Result]) -> bool:
    """Every graded item passed (and there was at least one)."""
    return bool(results) and all(r.outcome is Outcome.PASS for r in results)


def verdict_line(results: list[Result]) -> str:
    failed = [r.id for r in results if r.outcome is not Outcome.PASS]
    if passed(results):
        return f"PASS: all {len(results)} graded items passed"
    return f"FAIL: {len(failed)} of {len(results)} graded items did not pass ({', '.join(failed)})"


def render(results: list[Result], console: Console, url: str = "") -> None:
    """Print the card: id, requirement, outcome, statuses, latency; failures' reasons below."""
    table = Table(title=f"Webhook receiver grade card{': ' + url if url else ''}")
    table.add_column("id", no_wrap=True)
    table.add_column("requirement")
    table.add_column("outcome", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("latency", justify="right", no_wrap=True)
    for result in results:
        style = _STYLE[result.outcome]
        table.add_row(
            result.id,
            result.requirement,
            f"[{style}]{result.outcome}[/{style}]",
            statuses(result),
            latency(result),
        )
    console.print(table)
    for result in results:
        if result.outcome is not Outcome.PASS:
            console.print(f"[red]{result.id}[/red] {result.message}", highlight=False)
    style = "bold green" if passed(results) else "bold red"
    console.print(f"[{style}]{verdict_line(results)}[/{style}]", highlight=False)
