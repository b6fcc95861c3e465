"""`grade-receiver`: grade a webhook receiver; exit 0 only when every item passes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import click
from rich.console import Console

from conformance.grader.card import passed, render
from conformance.grader.grading import DEFAULT_TIMEOUT, SUITE, grade
from conformance.http import redact_text
from conformance.reports import write_json, write_junit

SECRET_ENV = "CONNECT_SIM_WEBHOOK_SECRET"
SECRET_PREFIX = "whsec_"


def check_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError:
        raise click.BadParameter("is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter("must be an absolute http:// or https:// URL of the receiver")
    try:
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise click.BadParameter("has a port that is not a number") from None
    return value


def check_secret(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    if not value:
        raise click.BadParameter(f"is required (or set {SECRET_ENV})")
    if not value.startswith(SECRET_PREFIX) or len(value) == len(SECRET_PREFIX):
        # the value is never echoed: it may be some other secret pasted by mistake
        raise click.BadParameter(
            f"must be the endpoint's signing secret, which starts with '{SECRET_PREFIX}'"
        )
    return value


def check_timeout(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0 < value <= 60:
        raise click.BadParameter("must be more than 0 and at most 60 seconds")
    return value


@click.command("grade-receiver")
@click.option("--url", required=True, callback=check_url, help="The receiver's URL.")
@click.option(
    "--secret",
    envvar=SECRET_ENV,
    callback=check_secret,
    help=f"The endpoint's signing secret (whsec_…); or set {SECRET_ENV}.",
)
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    callback=check_timeout,
    help="Seconds a valid delivery may take to be acknowledged.",
)
@click.option("--junit", "junit", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def grade_receiver(
    url: str, secret: str, timeout: float, junit: Path | None, json_path: Path | None
) -> None:
    """Send a webhook receiver valid and forged deliveries and grade its answers."""
    console = Console()
    results = grade(url, secret, timeout=timeout)
    render(results, console, redact_text(url))
    meta = {"url": redact_text(url), "timeout_s": timeout}
    try:
        if json_path is not None:
            write_json(json_path, SUITE, results, meta)
        if junit is not None:
            write_junit(junit, SUITE, results)
    except OSError as exc:
        raise click.ClickException(f"cannot write the report: {exc.strerror or exc}") from None
    if not passed(results):
        click.get_current_context().exit(1)
