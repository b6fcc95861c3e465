"""Typed rows: what each owner module hands out for a row of its table.

Each object's module defines a frozen slots dataclass whose fields are its
table's columns, deriving from `Row`, and its reads answer that dataclass.
JSON columns (`metadata`, `scopes`, `events`, ...) keep their stored text and
are decoded where they are rendered, so a row stays immutable all the way down.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from simulator.core.store import row_dict

StoredRow = Mapping[str, Any]
"""A row as the store answers it: the values of its columns by name."""


class Row:
    """The base of the row dataclasses: `from_row` builds one from a stored row."""

    __slots__ = ()

    @classmethod
    def from_row(cls, row: StoredRow) -> Self:
        """The dataclass of a stored row (its columns are the fields, by name)."""
        return cls(**row_dict(row))

    @classmethod
    def maybe(cls, row: StoredRow | None) -> Self | None:
        """`from_row`, or None when there is no row."""
        return None if row is None else cls.from_row(row)
