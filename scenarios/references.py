"""`${name.field.sub[0]}` references to values saved by earlier steps."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

REFERENCE = re.compile(r"\$\{([^}]*)\}")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_TOKEN = re.compile(r"\.?([A-Za-z0-9_-]+)|\[(-?\d+)\]")


class ReferenceError_(LookupError):
    """A reference that does not resolve."""


def parse_path(path: str) -> list[str | int]:
    """`a.b[0].c` -> ["a", "b", 0, "c"]; raises ValueError on a malformed path."""
    parts: list[str | int] = []
    pos = 0
    text = path.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or (pos == 0 and text.startswith(".")):
            raise ValueError(f"'{path}' is not a path (write name.field[0].sub)")
        parts.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        pos = match.end()
    if not parts:
        raise ValueError("empty path")
    return parts


def get_path(value: Any, parts: list[str | int]) -> Any:
    """Follow `parts` into `value`; raises KeyError naming the missing part."""
    current = value
    for done, part in enumerate(parts):
        where = format_path(parts[: done + 1])
        if isinstance(part, int):
            if not isinstance(current, list) or not -len(current) <= part < len(current):
                raise KeyError(where)
            current = current[part]
        elif isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part == "length":
            current = len(current)
        else:
            raise KeyError(where)
    return current


def format_path(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def names_in(text: str) -> Iterator[tuple[str, str]]:
    """(name, whole expression) for each reference in `text`."""
    for match in REFERENCE.finditer(text):
        expr = match.group(1).strip()
        head = re.split(r"[.\[]", expr, maxsplit=1)[0]
        yield head, expr


def resolve(value: Any, lookup: Callable[[str], Any]) -> Any:
    """Replace references in strings inside `value` (recursively).

    A string that is exactly one reference becomes the referenced value (any type);
    references inside a longer string are formatted into it.
    """
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value.strip())
        if whole:
            return _lookup(whole.group(1), lookup)
        return REFERENCE.sub(lambda m: _text(_lookup(m.group(1), lookup)), value)
    if isinstance(value, list):
        return [resolve(v, lookup) for v in value]
    if isinstance(value, dict):
        return {resolve(k, lookup): resolve(v, lookup) for k, v in value.items()}
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _lookup(expr: str, lookup: Callable[[str], Any]) -> Any:
    try:
        parts = parse_path(expr)
    except ValueError as exc:
        raise ReferenceError_(f"${{{expr}}}: {exc}") from None
    root = lookup(str(parts[0]))
    try:
        return get_path(root, parts[1:])
    except KeyError as exc:
        raise ReferenceError_(f"${{{expr}}}: nothing at '{parts[0]}.{exc.args[0]}'") from None
