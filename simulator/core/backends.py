"""Which store a database URL names: PostgreSQL for `postgresql://…`, else a SQLite file."""

from __future__ import annotations

from collections.abc import Sequence

from simulator.core.store import Column, SqliteStore, Store

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


def open_store(
    url: str,
    schemas: Sequence[str] = (),
    columns: Sequence[Column] = (),
    *,
    shared: bool = False,
) -> Store:
    """The store named by `url` (a SQLite path may be `:memory:`). `shared`: other processes
    use the SQLite file at the same time (a PostgreSQL database always may be shared)."""
    if is_postgres_url(url):
        from simulator.core.store_pg import PgStore  # psycopg loads only when asked for

        return PgStore(url, schemas, columns)
    if shared:
        from simulator.core.store_sqlite_shared import SharedSqliteStore

        return SharedSqliteStore(url, schemas, columns)
    return SqliteStore(url, schemas, columns)
