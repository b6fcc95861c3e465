"""The portals' JSON as it goes on the wire, so that bodies can be encoded once and spliced.

`encode` writes a plain JSON value exactly as the portal app's JSON provider
does (`create_app` sets `sort_keys = False` and `compact = True`; non-ASCII is
escaped): compact separators, keys in insertion order, no trailing newline
(the response adds the one `jsonify` adds). A resource encoded once can then
go into every Bundle page that holds it without being encoded again.
"""

from __future__ import annotations

import json
from typing import Any

_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))


def encode(value: Any) -> bytes:
    """`value` (plain JSON types only) as compact, ASCII-escaped JSON bytes."""
    return _ENCODER.encode(value).encode("ascii")
