"""Matchers for expected values: equals, not, regex, exists, absent, one_of, length,
gte/lte, contains. A plain value means `equals`."""

from __future__ import annotations

import re
from typing import Any

from scenarios.schema import MATCHERS

MISSING = object()


def is_matcher(expected: Any) -> bool:
    return isinstance(expected, dict) and bool(expected) and set(expected) <= set(MATCHERS)


def describe(expected: Any) -> str:
    """The expectation in words, for failure text."""
    if not is_matcher(expected):
        return f"equals {_show(expected)}"
    words = []
    for name, arg in expected.items():
        if name in ("exists", "absent"):
            words.append(name if arg else ("absent" if name == "exists" else "exists"))
        elif name == "not":
            words.append(f"not ({describe(arg)})")
        elif name == "length":
            words.append(f"length {describe(arg) if is_matcher(arg) else _show(arg)}")
        elif name == "one_of":
            words.append(f"one of {_show(arg)}")
        else:
            words.append(f"{name} {_show(arg)}")
    return " and ".join(words)


def _show(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    if isinstance(value, str):
        return repr(value)
    import json

    try:
        return json.dumps(value, sort_keys=True)
    except TypeError:
        return repr(value)


def show(value: Any) -> str:
    return _show(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(actual: Any, bound: Any) -> tuple[Any, Any] | None:
    if _number(actual) and _number(bound):
        return actual, bound
    if isinstance(actual, str) and isinstance(bound, str):
        return actual, bound  # ISO instants compare as text
    return None


def matches(expected: Any, actual: Any) -> bool:
    """Whether `actual` (MISSING when the path is absent) meets `expected`."""
    if not is_matcher(expected):
        return actual is not MISSING and actual == expected
    for name, arg in expected.items():
        if not _one(name, arg, actual):
            return False
    return True


def _one(name: str, arg: Any, actual: Any) -> bool:
    present = actual is not MISSING
    if name == "exists":
        return present == bool(arg)
    if name == "absent":
        return (not present) == bool(arg)
    if name == "not":
        return not matches(arg, actual)
    if not present:
        return False
    if name == "equals":
        return actual == arg
    if name == "regex":
        return isinstance(actual, str) and re.search(str(arg), actual) is not None
    if name == "one_of":
        return isinstance(arg, list) and actual in arg
    if name == "length":
        if not isinstance(actual, list | str | dict):
            return False
        return matches(arg, len(actual))
    if name in ("gte", "lte"):
        pair = _compare(actual, arg)
        if pair is None:
            return False
        return pair[0] >= pair[1] if name == "gte" else pair[0] <= pair[1]
    if name == "contains":
        if isinstance(actual, str):
            return isinstance(arg, str) and arg in actual
        if isinstance(actual, list):
            if is_matcher(arg):
                return any(matches(arg, item) for item in actual)
            if isinstance(arg, dict):
                return any(_subset(arg, item) for item in actual)
            return arg in actual
        if isinstance(actual, dict):
            return isinstance(arg, dict) and _subset(arg, actual)
        return False
    return False


def _subset(part: dict[str, Any], whole: Any) -> bool:
    return isinstance(whole, dict) and all(k in whole and whole[k] == v for k, v in part.items())
