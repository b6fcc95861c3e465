"""Pagination on every list endpoint except records (fact sheet §2.2)."""

from __future__ import annotations

from typing import Any

from conformance.checks import support as s
from conformance.checks.errors import envelope
from conformance.registry import Context, check

LIST_FIELDS = ("resource_type", "data", "has_more", "next_cursor")
DEFAULT_LIMIT = 10


def _lists(ctx: Context, items: int) -> dict[str, str]:
    """Each list endpoint with at least `items` objects made for it (catalog as it is)."""
    pid = s.unique("p")
    for _ in range(items):
        s.new_patient(ctx)
        s.new_session(ctx, pid)
    wh = s.endpoint(ctx, "https://hooks.example/page")
    for index in range(items - 1):
        s.endpoint(ctx, f"https://hooks.example/page/{index}")
    return {
        "/patients": "patients",
        f"/patients/{pid}/patient-sessions": "sessions",
        "/connections": "catalog",
        "/webhooks": "webhooks",
        f"/webhooks/{wh['id']}/events": "events",
    }


def _walk(ctx: Context, path: str, limit: int, **query: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(500):
        page = s.ok(ctx, ctx.api.get(path, limit=limit, starting_after=cursor, **query), path)
        ctx.require(len(page["data"]) <= limit, f"{path}: {len(page['data'])} items > {limit}")
        ids.extend(item["id"] for item in page["data"])
        if not page["has_more"]:
            ctx.require(page["next_cursor"] is None, f"{path}: next_cursor on the last page")
            return ids
        ctx.require(isinstance(page["next_cursor"], str), f"{path}: has_more without a cursor")
        cursor = page["next_cursor"]
    ctx.require(False, f"{path} never ends")
    return ids


@check(
    "PAGE-001",
    "pagination",
    "Every list answers resource_type list, data, has_more and next_cursor",
    "§2.2",
)
def shape(ctx: Context) -> None:
    for path in _lists(ctx, 1):
        page = s.ok(ctx, ctx.api.get(path), path)
        ctx.require(set(LIST_FIELDS) <= set(page), f"{path} lacks {set(LIST_FIELDS) - set(page)}")
        ctx.require(page["resource_type"] == "list", f"{path}: resource_type")
        ctx.require(isinstance(page["data"], list), f"{path}: data")
        ctx.require(isinstance(page["has_more"], bool), f"{path}: has_more")


@check("PAGE-002", "pagination", "Without limit a list answers at most 10 items", "§2.2")
def default_limit(ctx: Context) -> None:
    extra = DEFAULT_LIMIT + 1
    pid = s.unique("p")
    paths = ["/patients", f"/patients/{pid}/patient-sessions", "/webhooks"]
    for _ in range(extra):
        s.new_patient(ctx)
        s.new_session(ctx, pid)
    if ctx.has_control_plane:  # events first: the endpoints below are not reachable
        _, wh = s.inbox_endpoint(ctx, ["records.sync.failed"])
        for _ in range(extra):
            s.sync_failed(ctx, pid)
        paths.append(f"/webhooks/{wh['id']}/events")
    for index in range(extra):
        s.endpoint(ctx, f"https://hooks.example/default/{index}")
    for path in paths:
        page = s.ok(ctx, ctx.api.get(path), path)
        ctx.require(len(page["data"]) == DEFAULT_LIMIT, f"{path}: {len(page['data'])} items")
        ctx.require(page["has_more"] is True, f"{path}: has_more is false with {extra} items")


@check(
    "PAGE-003",
    "pagination",
    "limit accepts 1–100; 0, 101 and non-integers are 400 invalid_data naming limit",
    "§2.2",
)
def limit_bounds(ctx: Context) -> None:
    for path in _lists(ctx, 1):
        for bad in (0, 101, "ten", -1):
            error = envelope(
                ctx, ctx.api.get(path, limit=bad), 400, "invalid_request_error", "invalid_data"
            )
            ctx.require(error["param"] == "limit", f"{path} limit={bad}: param {error['param']}")
        for good in (1, 100):
            page = s.ok(ctx, ctx.api.get(path, limit=good), f"{path} limit={good}")
            ctx.require(len(page["data"]) <= good, f"{path}: limit={good} not applied")


@check(
    "PAGE-004",
    "pagination",
    "Following next_cursor visits every item exactly once on every list",
    "§2.2",
)
def walk_every_list(ctx: Context) -> None:
    for path in _lists(ctx, 3):
        whole = _walk(ctx, path, 100)
        paged = _walk(ctx, path, 2)
        ctx.require(len(paged) == len(set(paged)), f"{path}: an item repeats across pages")
        ctx.require(paged == whole, f"{path}: paging skipped or reordered items")


@check(
    "PAGE-005",
    "pagination",
    "Filters hold across pages (patients by email, sessions by status)",
    "§2.2",
)
def filters_across_pages(ctx: Context) -> None:
    email = f"{s.unique('page')}@example.com"
    wanted = [s.new_patient(ctx, email=email)["id"] for _ in range(3)]
    s.new_patient(ctx, email="x" + email)
    got = _walk(ctx, "/patients", 1, email=email)
    ctx.require(sorted(got) == sorted(wanted), f"email filter across pages gave {got}")
    pid = s.unique("p")
    for _ in range(3):
        s.new_session(ctx, pid)
    got = _walk(ctx, f"/patients/{pid}/patient-sessions", 1, status="open")
    ctx.require(len(got) == 3, f"status filter across pages gave {len(got)}")


@check(
    "PAGE-006",
    "pagination",
    "A cursor that is not one of this list's is 400 invalid_data naming starting_after "
    "(documented choice)",
    "§2.2",
)
def foreign_cursor(ctx: Context) -> None:
    for _ in range(3):
        s.new_patient(ctx)
        s.endpoint(ctx, f"https://hooks.example/{s.unique('c')}")
    patients = s.ok(ctx, ctx.api.get("/patients", limit=1), "patients")["next_cursor"]
    for path, cursor in (("/webhooks", patients), ("/patients", "not-a-cursor")):
        reply = ctx.api.get(path, starting_after=cursor)
        error = envelope(ctx, reply, 400, "invalid_request_error", "invalid_data")
        ctx.require(error["param"] == "starting_after", f"param {error['param']!r}")


@check(
    "PAGE-007",
    "pagination",
    "Lists are newest first (documented choice); the catalog is ordered by name",
    "§2.2",
)
def order(ctx: Context) -> None:
    made = [s.new_patient(ctx)["id"] for _ in range(3)]
    listed = _walk(ctx, "/patients", 100)
    ctx.require(listed[:3] == made[::-1], f"patients listed {listed[:3]}, made {made}")
    names = [item["name"] for item in s.sources(ctx)]
    ctx.require(names == sorted(names), "the catalog is not ordered by name")
