"""Reading the target's state over HTTP for the invariants (no state of its own)."""

from __future__ import annotations

from typing import Any

from conformance.http import Client
from conformance.results import CheckFailed


def get_json(api: Client, path: str, **query: Any) -> Any:
    reply = api.call("GET", path, query=query or None)
    if reply.status != 200 or reply.json is None:
        raise CheckFailed(f"GET {path} answered {reply.status}: {reply.text[:200]}")
    return reply.json


def all_pages(api: Client, path: str, **query: Any) -> list[dict[str, Any]]:
    """Every item of a list, following `next_cursor` (§2.2), in the order listed."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = get_json(api, path, limit=100, starting_after=cursor, **query)
        items += page.get("data") or []
        cursor = page.get("next_cursor")
        if not page.get("has_more") or not cursor:
            return items
    raise CheckFailed(f"GET {path} kept answering has_more after 100 pages")
