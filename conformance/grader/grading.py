"""Grading a webhook receiver from outside: deliver each item, judge what came back."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from conformance.grader.deliveries import ITEMS, Expect, Item
from conformance.grader.events import Story
from conformance.grader.sender import Answer, send
from conformance.http import REDACTED, redact_text
from conformance.results import Outcome, Result

AREA = "receiver"
SUITE = "receiver-grader"
DEFAULT_TIMEOUT = 5.0

Progress = Callable[[Result], None]


def verdict(expect: Expect, answer: Answer) -> str | None:
    """Why `answer` breaks the item, or None when it is what the item expects."""
    if answer.error is not None:
        return answer.error
    status = answer.status or 0
    if expect is Expect.ACK and not 200 <= status < 300:
        return f"answered {status}, expected a 2xx acknowledgement"
    if expect is Expect.REJECT and not 400 <= status < 500:
        accepted = " (the forgery was accepted)" if 200 <= status < 300 else ""
        return f"answered {status}, expected a 4xx refusal{accepted}"
    return None


def grade_item(
    item: Item,
    url: str,
    secret: str,
    *,
    timeout: float,
    session: requests.Session,
    story: Story,
    now: Callable[[], float],
) -> Result:
    """Send the item's deliveries in order; it passes when every answer is as expected."""
    start = time.perf_counter()
    answers: list[Answer] = []
    problems: list[str] = []
    try:
        deliveries = item.build(story, secret, now())
        for number, delivery in enumerate(deliveries, start=1):
            answer = send(session, url, delivery, timeout, secret)
            answers.append(answer)
            problem = verdict(item.expect, answer)
            if problem is not None:
                where = f"delivery {number} of {len(deliveries)} ({delivery.label})"
                problems.append(f"{where}: {problem}")
    except Exception as crashed:  # noqa: BLE001 - a grader fault is reported, not raised
        outcome, message = Outcome.ERROR, f"the grader failed: {type(crashed).__name__}: {crashed}"
    else:
        outcome, message = _judged(item, answers, problems)
    return Result(
        id=item.id,
        area=AREA,
        requirement=item.requirement,
        source=item.source,
        outcome=outcome,
        message=redact_text(message).replace(secret, REDACTED) if secret else message,
        exchanges=[a.exchange for a in answers],
        duration_s=round(time.perf_counter() - start, 4),
    )


def _judged(item: Item, answers: list[Answer], problems: list[str]) -> tuple[Outcome, str]:
    if problems:
        return Outcome.FAIL, "; ".join(problems)
    statuses = ", ".join(str(a.status) for a in answers)
    slowest = max(a.elapsed_s for a in answers) * 1000
    what = "acknowledged" if item.expect is Expect.ACK else "refused"
    return Outcome.PASS, f"{what} ({statuses}), slowest answer {slowest:.0f} ms"


def grade(
    url: str,
    secret: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    items: tuple[Item, ...] = ITEMS,
    session: requests.Session | None = None,
    now: Callable[[], float] = time.time,
    progress: Progress | None = None,
) -> list[Result]:
    """Deliver every item to the receiver at `url` and answer one result per item.

    Valid deliveries must be answered 2xx within `timeout` seconds, forged ones
    4xx, repeated and reordered ones 2xx. `now` is the wall clock the signatures
    are dated by (unix seconds). The secret is used to sign and is never recorded.
    """
    http = session or requests.Session()
    story = Story.new()
    results: list[Result] = []
    try:
        for item in items:
            result = grade_item(
                item, url, secret, timeout=timeout, session=http, story=story, now=now
            )
            results.append(result)
            if progress is not None:
                progress(result)
    finally:
        if session is None:
            http.close()
    return results
