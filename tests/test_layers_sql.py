"""HTTP code holds no SQL: every query lives in the domain module that owns its table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import simulator.web

WEB = Path(simulator.web.__file__).parent
# Upper-case keywords followed by a space, as SQL is written here; prose is not caught.
SQL = re.compile(r"\b(?:SELECT|INSERT|UPDATE|DELETE FROM) ")


def sql_strings(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string constant in `source` that reads as SQL, in line order."""
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)
    )


def test_the_web_layer_holds_no_sql() -> None:
    modules = sorted(WEB.rglob("*.py"))
    assert modules, f"no modules found under {WEB}"
    found = [
        f"{path.relative_to(WEB.parent.parent)}:{line}: {text!r}"
        for path in modules
        for line, text in sql_strings(path.read_text(encoding="utf-8"))
    ]
    assert found == [], "SQL in web code; move it to the owning domain module:\n" + "\n".join(found)


def test_sql_is_found_in_plain_and_formatted_strings_but_not_in_prose() -> None:
    source = (
        'QUERY = "SELECT * FROM patients WHERE id = ?"\n'
        'def purge(table):\n    return f"DELETE FROM {table} WHERE id = ?"\n'
        'NOTE = "Select a source, then update it; deleting from the list is fine."\n'
        'LABEL = "UPDATED"\n'
    )
    assert [text for _, text in sql_strings(source)] == [
        "SELECT * FROM patients WHERE id = ?",
        "DELETE FROM ",
    ]
