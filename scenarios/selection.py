"""`-k EXPR` and `--tags` selection of scenarios."""

from __future__ import annotations

import re

from scenarios.validation import Scenario

_TOKEN = re.compile(r"\(|\)|[^\s()]+")


def keyword_matches(expr: str, haystack: str) -> bool:
    """pytest-like: words are substrings (case-insensitive) joined by and/or/not/()."""
    text = haystack.lower()
    out = []
    for token in _TOKEN.findall(expr):
        low = token.lower()
        if low in ("and", "or", "not", "(", ")"):
            out.append(low)
        else:
            out.append(repr(low in text))
    try:
        return bool(eval(" ".join(out) or "True", {"__builtins__": {}}, {}))  # noqa: S307
    except SyntaxError:
        raise ValueError(f"-k: cannot read the expression '{expr}'") from None


def select(scenarios: list[Scenario], keyword: str | None, tags: str | None) -> list[Scenario]:
    wanted = {t.strip() for t in (tags or "").split(",") if t.strip()}
    chosen = []
    for sc in scenarios:
        if wanted and not wanted & set(sc.tags):
            continue
        if keyword and not keyword_matches(keyword, f"{sc.name} {sc.file} {' '.join(sc.tags)}"):
            continue
        chosen.append(sc)
    return chosen
