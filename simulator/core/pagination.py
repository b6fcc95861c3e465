"""Cursor pagination for list endpoints: `limit` (1-100, default 10) and `starting_after`.

Lists run newest first by the workspace sequence number. A cursor is an
opaque token holding a position and a MAC over the position, the list (its
kind and filters) and the workspace's cursor scope (its id and reset count).
So a cursor keeps working when the object it came from is deleted, while a
cursor of another list, another workspace, from before a reset, or one that
was tampered with is a clear 400.

The scope is set for the current request by authentication (`set_scope`);
callers outside a request may pass `scope=` explicitly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from simulator.core.errors import invalid
from simulator.core.store import Store

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
_MAC_BYTES = 10

_scope: ContextVar[str] = ContextVar("cursor_scope", default="")


def set_scope(scope: str) -> None:
    """Bind cursors made and accepted from now on in this context to `scope`."""
    _scope.set(scope)


def _mac(kind: str, position: int, scope: str | None) -> bytes:
    key = (scope if scope is not None else _scope.get()).encode()
    message = f"{kind}\x1f{position}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def encode_cursor(kind: str, seq: int, scope: str | None = None) -> str:
    raw = int(seq).to_bytes(8, "big") + _mac(kind, seq, scope)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    kind: str, cursor: str, param: str = "starting_after", scope: str | None = None
) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii"))
        if len(raw) != 8 + _MAC_BYTES:
            raise ValueError
        seq = int.from_bytes(raw[:8], "big")
        if not hmac.compare_digest(raw[8:], _mac(kind, seq, scope)):
            raise ValueError
        return seq
    except (ValueError, UnicodeEncodeError, binascii.Error):
        raise invalid(
            f"'{param}' is not a cursor of this list: pass the next_cursor of a previous page"
            " of the same list, with the same filters, in the same workspace (a reset ends"
            " earlier cursors)",
            param,
        ) from None


def parse_limit(args: Mapping[str, str], default: int = DEFAULT_LIMIT) -> int:
    raw = args.get("limit")
    if raw is None:
        return default
    text = raw.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()):
        raise invalid("'limit' must be an integer between 1 and 100", "limit")
    value = int(text)
    if not 1 <= value <= MAX_LIMIT:
        raise invalid("'limit' must be an integer between 1 and 100", "limit")
    return value


def page(
    store: Store,
    table: str,
    *,
    kind: str,
    match: Mapping[str, Any],
    args: Mapping[str, str],
    render: Callable[[Any], dict[str, Any]],
    condition: str = "",
) -> dict[str, Any]:
    """One page of the `table` rows whose columns equal `match`, newest first by `seq`.

    For the module that owns `table`: a `None` in `match` leaves that column
    unfiltered, and `condition` (SQL over the table's own columns) narrows further.
    """
    limit = parse_limit(args)
    filters = {column: value for column, value in match.items() if value is not None}
    clauses = [f"{column} = ?" for column in filters] + ([condition] if condition else [])
    values = list(filters.values())
    cursor = args.get("starting_after")
    if cursor is not None:
        clauses.append("seq < ?")
        values.append(decode_cursor(kind, cursor))
    sql = f"SELECT * FROM {table} WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT ?"
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
