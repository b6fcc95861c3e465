"""What a well-formed id looks like (fact sheet §1.1: a prefix and a 26-character ULID)."""

from __future__ import annotations

import re

ULID = "[0-9A-HJKMNP-TV-Z]{26}"
ID_PATTERNS = {
    "session": re.compile(f"^ps_{ULID}$"),
    "connection": re.compile(f"^conn_{ULID}$"),
    "endpoint": re.compile(f"^wh_{ULID}$"),
    "event": re.compile(f"^evt_{ULID}$"),
}
