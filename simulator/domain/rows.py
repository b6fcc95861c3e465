"""Typed rows: what each owner module hands out for a row of its table.

Each object's module defines a frozen slots dataclass whose fields are its
table's columns, deriving from `Row`, and its reads answer that dataclass.
JSON columns (`metadata`, `scopes`, `events`, ...) keep their stored text and
are decoded where they are rendered, so a row stays immutable all the way down.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from typing import Any, Self

from simulator.core.store import field_positions

StoredRow = Mapping[str, Any]
"""A row as the store answers it: the values of its columns by name."""


@functools.lru_cache(maxsize=1024)
def _positions(cls: type, names: tuple[str, ...]) -> tuple[int, ...]:
    """Where each field of `cls` stands among these columns (`field_positions`). Columns
    that are not the fields are a TypeError, as `cls(**row)` raises."""
    fields = tuple(f.name for f in dataclasses.fields(cls))
    unknown, missing = sorted(set(names) - set(fields)), sorted(set(fields) - set(names))
    if unknown or missing:
        raise TypeError(f"{cls.__name__}: columns {unknown} are not fields, {missing} missing")
    return field_positions(fields, names)


class Row:
    """The base of the row dataclasses: `from_row` builds one from a stored row."""

    __slots__ = ()

    @classmethod
    def from_row(cls, row: StoredRow) -> Self:
        """The dataclass of a stored row (its columns are the fields, by name)."""
        if isinstance(row, Mapping):
            return cls(**row)
        return cls.from_columns(row.keys(), tuple(row))

    @classmethod
    def from_columns(cls, names: Sequence[str], values: Sequence[Any]) -> Self:
        """The dataclass of a row's column names and values (by position, not by a dict of
        them: a row read by name builds none)."""
        return cls(*[values[i] for i in _positions(cls, tuple(names))])

    @classmethod
    def maybe(cls, row: StoredRow | None) -> Self | None:
        """`from_row`, or None when there is no row."""
        return None if row is None else cls.from_row(row)
