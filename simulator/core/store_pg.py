"""The store on PostgreSQL: psycopg 3 and its connection pool, behind `Store`'s interface.

Chosen by `open_store` for a `postgresql://` URL. Several simulator instances may
use one database at once, so nothing is cached across statements (`shared`).

* A transaction (`tx()`) holds one pooled connection for its thread from BEGIN to
  COMMIT; nested calls in the same thread join it. A statement outside any
  transaction runs on a pooled connection in autocommit. Results are read in
  full before the connection goes back, so a returned cursor outlives it.
* Statements arrive in the domain's words (SQLite's `?` placeholders and column
  types); `POSTGRES` (the dialect, in `simulator.core.store`) rewrites them once
  each. Rows answer by index and by column name, like `sqlite3.Row`.
* `workspace_lock` adds a session advisory lock, held on a pooled connection of
  its own while the workspace is locked: two instances never move one
  workspace's clock at once, and a killed instance's lock ends with its
  connection.
* `ensure_schema` runs under a transaction-scoped advisory lock, so instances
  starting together create (or migrate) the tables once, one after another.
"""

from __future__ import annotations

import functools
import hashlib
import select
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from psycopg_pool import ConnectionPool, PoolTimeout

from simulator.core.store import (
    HEALTH_CACHE_S,
    POSTGRES,
    Column,
    Result,
    Soon,
    Store,
    StoreError,
    WorkspaceLock,
    WorkspaceLocks,
    _split_sql,
)

# How long a thread holding a workspace lock (a clock move running jobs) waits for the
# server's answer on the CPU before sleeping: most answers come within it, and a process
# that sleeps on every round trip is woken late on a loaded machine.
EAGER_WAIT_S = 0.0003

# Connections one process keeps at most: a request thread holds one for its transaction,
# and one more while it holds a workspace lock.
POOL_MAX = 24
CONNECT_TIMEOUT_S = 10.0

# The advisory lock that serialises schema creation between instances starting together.
_SCHEMA_LOCK = 0x636F6E6E656374  # "connect"


class PgRow:
    """A row read by index (`row[0]`) or by column name (`row["id"]`), like sqlite3.Row."""

    __slots__ = ("_values", "_columns")

    def __init__(self, values: Sequence[Any], columns: _Columns) -> None:
        self._values = values
        self._columns = columns

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._columns.index[key]]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._columns.names)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._columns.names, self._values, strict=True))})"


class _Columns:
    """A result's column names in order (a join may repeat one) and where each name is
    first found (what a lookup by name answers, as in sqlite3.Row)."""

    __slots__ = ("names", "index")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.index: dict[str, int] = {}
        for i, name in enumerate(names):
            self.index.setdefault(name, i)


@functools.lru_cache(maxsize=4096)
def _columns(names: tuple[str, ...]) -> _Columns:
    return _Columns(names)


def _names(result: Any) -> tuple[str, ...]:
    """A result's column names, read from libpq's result (cheaper than `description`)."""
    return tuple(result.fname(i).decode() for i in range(result.nfields))


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Any]:
    result = cursor.pgresult
    if result is None or result.nfields == 0:
        return tuple
    columns = _columns(_names(result))
    return lambda values: PgRow(values, columns)


def _of_cursor(cursor: Any) -> Result:
    """A psycopg cursor's answer, read in full."""
    result = cursor.pgresult
    returns = result is not None and result.nfields > 0
    return Result(
        cursor.rowcount,
        _names(result) if returns else None,
        cursor.fetchall() if returns else [],
    )


@functools.lru_cache(maxsize=4096)
def _numbered(sql: str) -> bytes:
    """A statement in the domain's words with libpq's numbered parameters (`$1`, `$2`, …)."""
    parts = sql.split("?")
    return (parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))).encode()


class _Prepared:
    """One connection's prepared statements, run straight through libpq.

    A statement the domain runs again and again (a claim, a token lookup) is
    parsed and planned once per connection, then each run is one `PQexecPrepared`:
    parameters dumped and rows loaded by psycopg's own adapters (its `Transformer`),
    without the cursor machinery around them. Keyed by the statement and its
    parameters' types, so a `NULL` where an integer went before gets a plan of its own.

    In a transaction, what needs no answer of its own waits in `_queue` and travels
    in one pipeline with the next statement that does: BEGIN goes with the first
    statement, a write run with `later` with the next one or with COMMIT. A
    transaction that ran nothing sends nothing.
    """

    __slots__ = (
        "_conn",
        "_pgconn",
        "_tx",
        "_names",
        "_made",
        "_encoding",
        "_queue",
        "_open",
        "_within",
        "_store",
        "schema",
        "eager",
    )

    def __init__(self, conn: psycopg.Connection, store: PgStore) -> None:
        self._conn = conn
        self._store = store
        self._pgconn = conn.pgconn
        self._tx = Transformer(conn)
        self._names: dict[tuple[str, tuple[int, ...]], tuple[bytes, list[_Columns | None]]] = {}
        self._made = 0
        self._encoding = conn.info.encoding
        self._queue: list[_Sent] = []
        self.eager = False  # wait for answers on the CPU first (`_await`)
        self._open = False  # BEGIN reached the server
        self._within = False  # a transaction is under way
        self.schema = store._schema

    @classmethod
    def of(cls, conn: psycopg.Connection, store: PgStore) -> _Prepared:
        """The prepared statements of `conn`. A plan made before the store's latest DDL
        run is forgotten (a `SELECT *` may have new columns)."""
        prepared = getattr(conn, "_connect_sim_prepared", None)
        if prepared is None:
            prepared = cls(conn, store)
            conn._connect_sim_prepared = prepared  # type: ignore[attr-defined]
        elif prepared.schema != store._schema:
            prepared._names.clear()  # names are never reused: the old plans are never run
            prepared.schema = store._schema
        return prepared

    # -- transactions ---------------------------------------------------------------------

    def begin(self) -> None:
        """Start a transaction: BEGIN waits for the first statement (reads queued before
        it go first)."""
        self._queue.append(_BEGIN)
        self._open = False
        self._within = True

    def commit(self) -> None:
        self._within = False
        if not self._open and self._queue[-1:] == [_BEGIN]:
            self._queue.pop()  # nothing ran in it: nothing to send for it
            return
        self._send([_COMMIT])
        self._open = False

    def rollback(self) -> None:
        opened, self._queue, self._open, self._within = self._open, [], False, False
        if opened:
            self._store.round_trips += 1
            self._check(self._pgconn.exec_(b"ROLLBACK"))

    # -- statements -----------------------------------------------------------------------

    def run(self, sql: str, params: tuple, *, later: bool = False) -> Result:
        sent = self.bound(sql, params)
        if later and self._within:
            self._queue.append(sent)
            return Result(-1, None, [])  # no answer yet, and none will be read
        if self._queue:
            result = self._send([sent])
        elif self.eager:
            self._store.round_trips += 1
            pg = self._pgconn
            pg.send_query_prepared(sent.name, sent.values, sent.formats)
            self._await(pg)
            result = _next_result(pg)
            while _next_result(pg) is not None:  # the end of its results
                pass
            self._check(result)
        else:
            self._store.round_trips += 1
            result = self._pgconn.exec_prepared(sent.name, sent.values, sent.formats)
            self._check(result)
        return self._result(sent, result)

    def soon(self, sent: _Sent, soon: Soon) -> None:
        """Queue a read whose row `soon` receives when something carries it."""
        sent.into = soon
        self._queue.append(sent)

    def queued(self, sent: _Sent) -> bool:
        return sent in self._queue

    def drop_reads(self) -> None:
        """Forget the reads still queued outside a transaction (the connection goes back to
        the pool; a `Soon` not carried reads again when asked)."""
        if not self._within:
            self._queue = []

    def bound(self, sql: str, params: tuple) -> _Sent:
        """The prepared statement of `sql` (prepared now on first use) with `params`."""
        tx = self._tx
        if params:
            values = tx.dump_sequence(params, [PyFormat.AUTO] * len(params))
            types, formats = tuple(tx.types), tx.formats
        else:
            values, types, formats = None, (), None
        key = (sql, types)
        entry = self._names.get(key)
        if entry is None:
            self._made += 1
            self._store.round_trips += 1
            name = f"connect_sim_{self._made}".encode()
            self._check(self._pgconn.prepare(name, _numbered(sql), types or None))
            entry = self._names[key] = (name, [None])
        return _Sent(entry[0], values, formats, entry[1])

    def _result(self, sent: _Sent, result: Any) -> Result:
        if result.nfields == 0:
            rowcount = result.command_tuples
            return Result(-1 if rowcount is None else rowcount, None, [])
        holder = sent.columns
        columns = holder[0]
        if columns is None:
            columns = holder[0] = _columns(_names(result))
        tx = self._tx
        tx.set_pgresult(result)
        rows = tx.load_rows(0, result.ntuples, lambda values: PgRow(values, columns))
        tx.set_pgresult(None)
        return Result(result.ntuples, columns.names, rows)

    def command(self, sql: bytes) -> None:
        """A statement without parameters or rows, run now."""
        self.flush()
        self._store.round_trips += 1
        self._check(self._pgconn.exec_(sql))

    def flush(self) -> None:
        """Send what waits (before psycopg's own calls use the connection)."""
        if self._queue:
            self._send([])

    def _send(self, last: list[_Sent]) -> Any:
        """What waits in the queue and `last`, in one round trip; answers the last result
        (the first error, if any, is raised once every result is read)."""
        sending, self._queue = [*self._queue, *last], []
        self._store.round_trips += 1
        if _BEGIN in sending:
            self._open = True
        pg = self._pgconn
        pg.enter_pipeline_mode()
        try:
            for item in sending:
                if item.values is _COMMAND:
                    pg.send_query_params(item.name, None)
                else:
                    pg.send_query_prepared(item.name, item.values, item.formats)
            pg.pipeline_sync()
            self._await(pg)
            results = []
            for _ in sending:
                results.append(_next_result(pg))
                while _next_result(pg) is not None:  # the end of that statement's results
                    pass
            _next_result(pg)  # the pipeline's sync
        finally:
            pg.exit_pipeline_mode()
        for item, result in zip(sending, results, strict=True):
            if result.status == pq.ExecStatus.PIPELINE_ABORTED:
                continue
            self._check(result)
            if item.into is not None:
                item.into.arrived(self._result(item, result).fetchone())
        for result in results:
            if result.status == pq.ExecStatus.PIPELINE_ABORTED:
                raise psycopg.errors.PipelineAborted("a statement before this one failed")
        return results[-1]

    def _await(self, pg: Any) -> None:
        """Send what libpq holds (reading what arrives meanwhile); on an eager connection,
        then wait for the first answer on the CPU for up to `EAGER_WAIT_S` before
        `_next_result` sleeps in `select`."""
        while pg.flush():
            readable, _, _ = select.select([pg.socket], [pg.socket], [])
            if readable:
                pg.consume_input()
        if not self.eager:
            return
        deadline = time.perf_counter() + EAGER_WAIT_S
        while pg.is_busy() and time.perf_counter() < deadline:
            pg.consume_input()

    def _check(self, result: Any) -> None:
        if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
            raise psycopg.errors.error_from_result(result, encoding=self._encoding)


def _next_result(pg: Any) -> Any:
    """libpq's next result, waited for in `select`, which lets this process's other threads
    run. (`PQgetResult` waits inside libpq holding the interpreter lock: a statement that
    waits for a row lock another thread of this process holds would stop every thread,
    that one included, for good.)"""
    while pg.is_busy():
        select.select([pg.socket], [], [])
        pg.consume_input()
    return pg.get_result()


class _Sent:
    """A statement bound for the server: a prepared one's name and its parameters, or a
    command's text (`values` is `_COMMAND`); `columns` holds its prepared statement's
    column names once known, and `into` the `Soon` of a read queued for later."""

    __slots__ = ("name", "values", "formats", "columns", "into")

    def __init__(
        self, name: bytes, values: Any, formats: Any, columns: list[_Columns | None] | None = None
    ) -> None:
        self.name = name
        self.values = values
        self.formats = formats
        self.columns = columns
        self.into: Soon | None = None


_COMMAND = object()
_BEGIN = _Sent(b"BEGIN", _COMMAND, None)
_COMMIT = _Sent(b"COMMIT", _COMMAND, None)


def _params(params: tuple | dict) -> tuple | dict:
    """SQLite stores a bool as 0/1 in an INTEGER column; PostgreSQL's BIGINT wants the int."""
    if isinstance(params, dict):
        return {k: int(v) if isinstance(v, bool) else v for k, v in params.items()}
    return tuple(int(v) if isinstance(v, bool) else v for v in params)


def redact(url: str) -> str:
    """The URL without its password (for banners and messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class PgStore(Store):
    """A PostgreSQL database shared by every thread of this process and by other instances."""

    dialect = POSTGRES
    shared = True

    def __init__(
        self, url: str, schemas: Sequence[str] = (), columns: Sequence[Column] = ()
    ) -> None:
        self.url = url
        self.path = redact(url)
        self._local = threading.local()
        self._trace: Callable[[str], None] | None = None
        self._checked: tuple[float, str | None] | None = None
        self._schema = 0  # how many times this process ran DDL (prepared plans predate it)
        # Statements and pipelines sent through `_Prepared` (a benchmark's figure; threads
        # add to it without a lock, so under concurrency it may miss a few).
        self.round_trips = 0
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_MAX,
            kwargs={"autocommit": True, "row_factory": _row_factory},
            open=False,
            name="connect-sim",
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except (PoolTimeout, psycopg.Error) as exc:
            self._pool.close()
            raise StoreError(f"{self.path} cannot be reached ({exc})") from None
        try:
            where = self.one("SELECT current_database(), current_schema()")
            if where is None or where[1] is None:
                raise StoreError(f"{self.path} has no schema to create tables in")
            self._namespace = f"{where[0]}.{where[1]}"
            self._locks = WorkspaceLocks(lambda ws_id: _AdvisoryLock(self, self._key(ws_id)))
            self.ensure_schema(schemas, columns)
        except psycopg.Error as exc:
            self._pool.close()
            raise StoreError(f"{self.path} cannot be used ({exc})") from None
        except StoreError:
            self._pool.close()
            raise

    def _key(self, ws_id: str) -> int:
        digest = hashlib.sha256(f"{self._namespace}:{ws_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def ensure_schema(self, schemas: Sequence[str], columns: Sequence[Column] = ()) -> None:
        """Create tables and indexes and add missing columns, one instance at a time."""
        with self.tx():
            self.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            statements = [POSTGRES.ddl(s) for ddl in schemas for s in _split_sql(ddl)]
            statements += [
                POSTGRES.ddl(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {decl}")
                for table, column, decl in columns
            ]
            if statements:  # one round trip: a script without parameters
                _Prepared.of(self._local.conn, self).flush()
                self._local.conn.execute(";\n".join(statements).encode())
                self._schema += 1

    @contextmanager
    def tx(self) -> Iterator[PgStore]:
        """A transaction on this thread's connection (nested calls join the outer one)."""
        local = self._local
        if getattr(local, "conn", None) is not None:
            yield self
            return
        pinned = getattr(local, "pinned", None)
        conn = pinned if pinned is not None else self._pool.getconn()
        prepared = _Prepared.of(conn, self)
        prepared.begin()
        local.conn = conn
        try:
            try:
                yield self
            except BaseException:
                local.conn = None
                prepared.rollback()
                raise
            local.conn = None
            try:
                prepared.commit()
            except BaseException:
                prepared.rollback()
                raise
        finally:
            if pinned is None:
                self._pool.putconn(conn)

    def _pin(self, conn: psycopg.Connection) -> None:
        """While this thread holds a workspace lock, its statements run on the lock's own
        connection (no pool round trip per statement); the outermost lock's, if several."""
        if getattr(self._local, "pinned", None) is None:
            self._local.pinned = conn
            _Prepared.of(conn, self).eager = True

    def _unpin(self, conn: psycopg.Connection) -> None:
        if getattr(self._local, "pinned", None) is conn:
            self._local.pinned = None
            prepared = _Prepared.of(conn, self)
            prepared.eager = False
            prepared.drop_reads()

    def _run(self, sql: str, params: tuple | dict, later: bool = False) -> Result:
        if self._trace is not None:
            self._trace(sql)
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = getattr(local, "pinned", None)
        if conn is not None:
            return self._on(conn, sql, params, later)
        with self._pool.connection() as conn:
            return self._on(conn, sql, params, later)

    def _on(self, conn: psycopg.Connection, sql: str, params: tuple | dict, later: bool) -> Result:
        prepared = _Prepared.of(conn, self)
        if isinstance(params, dict):  # named parameters: psycopg's own path
            prepared.flush()
            return _of_cursor(conn.execute(POSTGRES.statement(sql), _params(params)))
        return prepared.run(sql, _params(params), later=later)

    def execute(self, sql: str, params: tuple | dict = ()) -> Result:
        return self._run(sql, params)

    def execute_later(self, sql: str, params: tuple = ()) -> None:
        """In a transaction, the statement travels with the next one that needs an answer
        (or with COMMIT), and its error, if any, is raised there."""
        self._run(sql, params, later=True)

    def one_soon(self, sql: str, params: tuple = ()) -> Soon:
        """On the connection this thread holds (a transaction's, or a workspace lock's),
        the read waits for the next statement that needs an answer, or for COMMIT."""
        local = self._local
        conn = getattr(local, "conn", None) or getattr(local, "pinned", None)
        if conn is None:
            return Soon.ready(self.one(sql, params))
        if self._trace is not None:
            self._trace(sql)
        prepared = _Prepared.of(conn, self)
        sent = prepared.bound(sql, _params(params))

        def send() -> None:
            held = getattr(local, "conn", None) or getattr(local, "pinned", None)
            if held is conn and prepared.queued(sent):
                prepared.flush()
            if soon.pending:  # not carried (a rollback, another thread): read now
                soon.arrived(self.one(sql, params))

        soon = Soon(send)
        prepared.soon(sent, soon)
        return soon

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        if self._trace is not None:
            self._trace(sql)
        text = POSTGRES.statement(sql)
        with self.tx():
            _Prepared.of(self._local.conn, self).flush()
            self._local.conn.cursor().executemany(text, [_params(r) for r in rows])

    def one(self, sql: str, params: tuple | dict = ()) -> PgRow | None:
        return self._run(sql, params).fetchone()

    def all(self, sql: str, params: tuple | dict = ()) -> list[PgRow]:
        return self._run(sql, params).fetchall()

    def trace(self, callback: Callable[[str], None] | None) -> None:
        self._trace = callback

    def tables_with_column(self, column: str) -> list[str]:
        return [
            row[0]
            for row in self.all(
                "SELECT table_name FROM information_schema.columns WHERE table_schema ="
                " current_schema() AND column_name = ? ORDER BY table_name",
                (column,),
            )
        ]

    @contextmanager
    def exclusive(self, name: str) -> Iterator[PgStore]:
        """A transaction holding a transaction-scoped advisory lock on `name`."""
        with self.tx():
            self.execute("SELECT pg_advisory_xact_lock(?)", (self._key("exclusive:" + name),))
            yield self

    def workspace_lock(self, ws_id: str) -> WorkspaceLock:
        """An in-process lock plus an advisory lock every instance on the database honours."""
        return self._locks.get(ws_id)

    def health(self) -> str | None:
        now = time.monotonic()
        if self._checked is not None and now - self._checked[0] < HEALTH_CACHE_S:
            return self._checked[1]
        problem: str | None = None
        try:
            self.one("SELECT 1")
        except (psycopg.Error, PoolTimeout) as exc:
            problem = f"the database {self.path} cannot be reached ({exc})"
        self._checked = (now, problem)
        return problem

    def close(self) -> None:
        self._pool.close()


class _AdvisoryLock(WorkspaceLock):
    """The workspace's in-process lock, and while held a session advisory lock on a pooled
    connection (given back when the last holder in this process releases it)."""

    __slots__ = ("_store", "_key", "_conn")

    def __init__(self, store: PgStore, key: int) -> None:
        super().__init__()
        self._store = store
        self._key = key
        self._conn: Any = None

    def _acquire_shared(self, blocking: bool) -> bool:
        pool = self._store._pool
        conn = pool.getconn()
        try:
            if blocking:
                conn.execute("SELECT pg_advisory_lock(%s)", (self._key,))
                got = True
            else:
                got = bool(
                    conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()[0]
                )
        except BaseException:
            pool.putconn(conn)
            raise
        if not got:
            pool.putconn(conn)
            return False
        self._conn = conn
        self._store._pin(conn)
        return True

    def _release_shared(self) -> None:
        conn, self._conn = self._conn, None
        self._store._unpin(conn)
        try:
            conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
        finally:
            self._store._pool.putconn(conn)


# -- throwaway schemas (tests and benchmarks) ---------------------------------------------------


def with_schema(url: str, schema: str) -> str:
    """`url` with `schema` first on the search path (where tables are created and read)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def create_schema(url: str, schema: str) -> str:
    """Create an empty schema in the database of `url`; answers the URL that uses it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return with_schema(url, schema)


def drop_schema(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
