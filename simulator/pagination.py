"""Cursor pagination for list endpoints: `limit` (1-100, default 10) and `starting_after`.

Lists run newest first by the workspace sequence number. A cursor is an
opaque token naming the list kind and a position, so a cursor keeps working
when the object it came from is deleted, and a cursor from another list (or
one that was tampered with) is a clear 400.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

from .errors import invalid
from .store import Store

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


def encode_cursor(kind: str, seq: int) -> str:
    raw = f"{kind}:{seq}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str, param: str = "starting_after") -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode()).decode()
        found_kind, _, seq = raw.partition(":")
        if found_kind != kind or not seq.isdigit():
            raise ValueError
        return int(seq)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise invalid(
            f"'{param}' is not a cursor of this list; pass the next_cursor of a previous page",
            param,
        ) from None


def parse_limit(args: Mapping[str, str], default: int = DEFAULT_LIMIT) -> int:
    raw = args.get("limit")
    if raw is None:
        return default
    if not raw.strip().lstrip("-").isdigit():
        raise invalid("'limit' must be an integer between 1 and 100", "limit")
    value = int(raw)
    if not 1 <= value <= MAX_LIMIT:
        raise invalid("'limit' must be an integer between 1 and 100", "limit")
    return value


def page(
    store: Store,
    *,
    kind: str,
    table: str,
    where: str,
    params: tuple,
    args: Mapping[str, str],
    render: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """One page of `table` rows matching `where`, newest first by `seq`."""
    limit = parse_limit(args)
    sql = f"SELECT * FROM {table} WHERE {where}"
    values = list(params)
    cursor = args.get("starting_after")
    if cursor is not None:
        sql += " AND seq < ?"
        values.append(decode_cursor(kind, cursor))
    sql += " ORDER BY seq DESC LIMIT ?"
    values.append(limit + 1)
    rows = store.all(sql, tuple(values))
    has_more = len(rows) > limit
    rows = rows[:limit]
    return {
        "resource_type": "list",
        "data": [render(r) for r in rows],
        "has_more": has_more,
        "next_cursor": encode_cursor(kind, rows[-1]["seq"]) if has_more else None,
    }


def page_of_items(
    items: list[dict[str, Any]], *, kind: str, args: Mapping[str, str]
) -> dict[str, Any]:
    """Paginate an in-memory list (already in order) by position."""
    limit = parse_limit(args)
    cursor = args.get("starting_after")
    start = decode_cursor(kind, cursor) if cursor is not None else 0
    chunk = items[start : start + limit]
    has_more = start + limit < len(items)
    return {
        "resource_type": "list",
        "data": chunk,
        "has_more": has_more,
        "next_cursor": encode_cursor(kind, start + limit) if has_more else None,
    }
