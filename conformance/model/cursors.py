"""Paging rules of lists (§2.2) and of the records page (§1.10, §2.1).

Lists take `limit` 1–100 (default 10) and `starting_after`; a page says
`has_more` and carries `next_cursor`, null exactly when nothing follows.
Records take `count` 1–100 (default 100) and 12-character cursors
(`starting_after`, `ending_before`) that stay valid for 7 days. Per
docs/decisions.md ("Records page") a records cursor is also bound to the
patient and to the `type`/`since` filters it was issued under.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

LIST_LIMIT_DEFAULT = 10
LIST_LIMIT_RANGE = (1, 100)
RECORDS_COUNT_DEFAULT = 100
RECORDS_COUNT_RANGE = (1, 100)
RECORDS_CURSOR_LENGTH = 12  # §1.1 "opaque 12 chars", e.g. aB3xK9mQp2Lz
RECORDS_CURSOR_LIFETIME_MS = 7 * 86_400_000  # §2.2 "Record-page cursors stay valid for 7 days"
LIST_FIELDS = ("resource_type", "data", "has_more", "next_cursor")
RECORDS_FIELDS = (
    "resource_type",
    "patient_id",
    "data",
    "has_more",
    "next_cursor",
    "previous_cursor",
)
_RECORDS_CURSOR = re.compile(r"^[A-Za-z0-9]{12}$")


def limit_valid(value: object, bounds: tuple[int, int] = LIST_LIMIT_RANGE) -> bool:
    """A `limit` (or records `count`) is an integer within its bounds."""
    low, high = bounds
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def effective_limit(value: int | None, *, records: bool = False) -> int:
    """The page size a request asks for, its default when absent."""
    if value is None:
        return RECORDS_COUNT_DEFAULT if records else LIST_LIMIT_DEFAULT
    if not limit_valid(value, RECORDS_COUNT_RANGE if records else LIST_LIMIT_RANGE):
        raise ValueError(f"page size {value!r} is outside 1–100")
    return value


@dataclass(frozen=True)
class Page:
    """The page a list of `total` items ordered once and for all should answer."""

    start: int
    stop: int
    has_more: bool


def expected_page(total: int, start: int, limit: int) -> Page:
    """Items `start`..`stop` of `total`, and whether more follow."""
    stop = min(total, start + limit)
    return Page(start, stop, stop < total)


def page_walk(total: int, limit: int) -> list[Page]:
    """The pages a client following `next_cursor` from the start sees: each item once."""
    pages, start = [], 0
    while True:
        page = expected_page(total, start, limit)
        pages.append(page)
        if not page.has_more:
            return pages
        start = page.stop


def list_page_problems(body: Any, *, records: bool = False) -> list[str]:
    """What is wrong with a list (or records) page's envelope; empty when it is right."""
    if not isinstance(body, dict):
        return ["the page is not a JSON object"]
    fields = RECORDS_FIELDS if records else LIST_FIELDS
    problems = [f"the page lacks {name}" for name in fields if name not in body]
    if problems:
        return problems
    if body["resource_type"] != "list":
        problems.append(f"resource_type is {body['resource_type']!r}, not 'list'")
    if not isinstance(body["data"], list):
        problems.append("data is not an array")
    if not isinstance(body["has_more"], bool):
        problems.append("has_more is not a boolean")
    elif body["has_more"] != (body["next_cursor"] is not None):
        problems.append(
            f"has_more is {body['has_more']} but next_cursor is {body['next_cursor']!r}"
            " (null exactly when no more)"
        )
    if records:
        for name in ("next_cursor", "previous_cursor"):
            cursor = body[name]
            if cursor is not None and not records_cursor_well_formed(cursor):
                problems.append(f"{name} {cursor!r} is not a 12-character cursor")
    return problems


def records_cursor_well_formed(cursor: object) -> bool:
    """§1.1/§2.1: a records cursor is an opaque 12-character token."""
    return isinstance(cursor, str) and _RECORDS_CURSOR.match(cursor) is not None


def records_cursor_usable(
    issued_ms: int,
    now_ms: int,
    *,
    issued_for: tuple[str, Sequence[str], str | None],
    used_for: tuple[str, Sequence[str], str | None],
) -> bool:
    """A records cursor works within 7 days of its page, for the same patient, `type`
    and `since` (docs/decisions.md "Records page"); otherwise the call is 400."""
    (pid_a, types_a, since_a), (pid_b, types_b, since_b) = issued_for, used_for
    same = pid_a == pid_b and sorted(types_a) == sorted(types_b) and since_a == since_b
    return same and now_ms - issued_ms < RECORDS_CURSOR_LIFETIME_MS
