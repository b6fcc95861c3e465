"""One SQLite file used by several processes at once (`serve --workers N` on a file).

Each check runs real processes on one file: a workspace's lock excludes the other
processes and is given back by the kernel when its holder is killed; writers in
several processes lose nothing and never fail as "database is locked"; and the job
engine, run from two processes at once, runs every job exactly once. A process that
is a file's only user (a plain `serve`) and processes that share it never open it
together.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.cli import main
from simulator.core import workspaces
from simulator.core.config import Config
from simulator.core.runtime import Runtime
from simulator.core.store import SqliteStore, StoreError
from simulator.core.store_sqlite_shared import SharedSqliteStore

ROOT = Path(__file__).resolve().parent.parent
KIND = "test.shared"
JOBS = 60  # per workspace, eight workspaces


def child(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


_HOLD = """
import sys, time
from simulator.core.store_sqlite_shared import SharedSqliteStore
store = SharedSqliteStore(sys.argv[1])
store.workspace_lock("ws_held").acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_a_workspace_lock_excludes_other_processes_until_its_holder_dies(tmp_path: Path) -> None:
    path = str(tmp_path / "sim.db")
    store = SharedSqliteStore(path)
    holder = child(_HOLD, path)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        lock = store.workspace_lock("ws_held")
        assert not lock.acquire(blocking=False)  # held by the other process
        other = store.workspace_lock("ws_other")
        assert other.acquire(blocking=False)  # another workspace is free
        other.release()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        assert lock.acquire(blocking=False)  # the kernel gave it back with the process
        lock.release()
    finally:
        holder.kill()
        holder.wait(timeout=10)
        store.close()


_WRITE = """
import sys
from simulator.core.store_sqlite_shared import SharedSqliteStore
store = SharedSqliteStore(sys.argv[1])
for i in range(int(sys.argv[2])):
    with store.tx():
        store.execute("UPDATE counter SET n = n + 1 WHERE id = 1")
    store.execute("INSERT INTO rows (who) VALUES (?)", (sys.argv[3],))
store.close()
"""


def test_writers_in_several_processes_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "sim.db")
    store = SharedSqliteStore(
        path,
        [
            "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
            "CREATE TABLE rows (id INTEGER PRIMARY KEY AUTOINCREMENT, who TEXT NOT NULL)"
        ],
    )
    store.execute("INSERT INTO counter (id, n) VALUES (1, 0)")
    writers = [child(_WRITE, path, "300", f"w{i}") for i in range(3)]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err  # never "database is locked"
    assert store.scalar("SELECT n FROM counter WHERE id = 1") == 900
    counts = dict(store.all("SELECT who, COUNT(*) FROM rows GROUP BY who"))
    assert counts == {"w0": 300, "w1": 300, "w2": 300}
    store.close()


_RUN = """
import os, sys, time
from simulator.core.config import Config
from simulator.core.runtime import Runtime
rt = Runtime(Config(db_path=sys.argv[1], shared_db=True))
rt.store.execute("CREATE TABLE IF NOT EXISTS runs (job_id INTEGER NOT NULL, pid INTEGER NOT NULL)")
rt.store.execute("CREATE TABLE IF NOT EXISTS started (pid INTEGER NOT NULL)")
rt.scheduler.register(
    "test.shared",
    lambda runtime, job: runtime.store.execute(
        "INSERT INTO runs (job_id, pid) VALUES (?, ?)", (job.id, os.getpid())
    ),
)
print("ready", flush=True)
sys.stdin.readline()
rt.store.execute("INSERT INTO started (pid) VALUES (?)", (os.getpid(),))
while rt.store.scalar("SELECT COUNT(*) FROM started") < 2:  # both start at once
    time.sleep(0.005)
spaces = sys.argv[2].split(",")
while rt.store.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'test.shared' AND state != 'done'"):
    for ws_id in spaces:
        rt.scheduler.try_run_due(ws_id)
rt.close()
"""


def test_jobs_run_once_when_two_processes_run_them(tmp_path: Path) -> None:
    path = str(tmp_path / "sim.db")
    rt = Runtime(Config(db_path=path, shared_db=True))
    spaces = []
    for seed in range(8):
        ws, _ = workspaces.create(rt.store, wall_ms=rt.wall(), seed=seed)
        spaces.append(ws.id)
        for n in range(JOBS):
            rt.scheduler.schedule(ws.id, KIND, rt.now(ws.id) - n)
    runners = [child(_RUN, path, ",".join(spaces)) for _ in range(2)]
    try:
        for runner in runners:
            assert runner.stdout is not None and runner.stdout.readline() == "ready\n"
        for runner in runners:  # both go at once
            assert runner.stdin is not None
            runner.stdin.write("go\n")
            runner.stdin.flush()
        for runner in runners:
            _, err = runner.communicate(timeout=120)
            assert runner.returncode == 0, err
        rows = rt.store.all("SELECT job_id, pid FROM runs")
        assert len(rows) == 8 * JOBS  # each job once
        assert len({row[0] for row in rows}) == 8 * JOBS
        assert len({row[1] for row in rows}) == 2  # and both processes ran some
    finally:
        for runner in runners:
            runner.kill()
        rt.close()


_OPEN = """
import sys, time
from simulator.core.store import SqliteStore
from simulator.core.store_sqlite_shared import SharedSqliteStore
store = (SharedSqliteStore if sys.argv[2] == "shared" else SqliteStore)(sys.argv[1])
print("open", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("first", ["sole", "shared"])
def test_a_sole_user_and_sharing_processes_never_open_one_file_together(
    tmp_path: Path, first: str
) -> None:
    path = str(tmp_path / "sim.db")
    holder = child(_OPEN, path, first)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        with pytest.raises(StoreError, match="in use by another process"):
            SqliteStore(path)  # a second `serve` on the file of a running one
        if first == "sole":
            with pytest.raises(StoreError, match="its only user"):
                SharedSqliteStore(path)
        else:
            SharedSqliteStore(path).close()  # one more worker is welcome
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        SqliteStore(path).close()  # a restart after a kill -9 opens it
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_serve_on_a_file_another_serve_uses_is_a_clear_error(tmp_path: Path) -> None:
    path = str(tmp_path / "sim.db")
    holder = child(_OPEN, path, "sole")
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        result = CliRunner().invoke(main, ["serve", "--db", path, "--port", "0"])
        assert result.exit_code == 1
        assert "cannot open the database" in result.output
        assert "in use by another process (another connect-sim serve?)" in result.output
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_a_database_path_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    path = str(tmp_path / "a-file" / "sim.db")
    result = CliRunner().invoke(main, ["serve", "--db", path, "--port", "0"])
    assert result.exit_code == 1
    assert f"cannot open the database: {path} cannot be opened" in result.output
    assert "Traceback" not in result.output


def test_a_write_outside_a_transaction_answers_like_on_a_plain_store(tmp_path: Path) -> None:
    """Outside a transaction a shared store's write runs in one (under the write byte); its
    rows are read before COMMIT, which refuses a statement still in progress."""
    schema = ["CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v INTEGER NOT NULL)"]
    answers = []
    for store in (
        SqliteStore(str(tmp_path / "plain.db"), schema),
        SharedSqliteStore(str(tmp_path / "shared.db"), schema),
    ):
        made = store.execute("INSERT INTO t (v) VALUES (1), (2), (3) RETURNING id, v")
        first = tuple(made.fetchone())
        rest = [tuple(row) for row in made.fetchall()]
        answers.append(
            (
                first,
                rest,
                made.rowcount,
                store.one("UPDATE t SET v = v + 10 RETURNING v")[0],  # three rows, one read
                [tuple(r) for r in store.all("UPDATE t SET v = 0 WHERE id > 1 RETURNING id")],
                store.execute("DELETE FROM t WHERE id = 3").rowcount,
                store.scalar("SELECT SUM(v) FROM t"),
            )
        )
        store.close()
    assert answers[0] == answers[1]
    assert answers[1] == ((1, 1), [(2, 2), (3, 3)], 3, 11, [(2,), (3,)], 1, 11)


_COMMIT_ONE = """
import sys
from simulator.core.store_sqlite_shared import SharedSqliteStore
store = SharedSqliteStore(sys.argv[1])
with store.tx():
    store.execute("INSERT INTO t (n) VALUES (100)")
print("committed", flush=True)
"""


def test_a_read_left_unfinished_does_not_lock_out_the_next_writer(tmp_path: Path) -> None:
    """A read outside a transaction, not read to its end by its caller (a thread that
    has let the store go), must not hold a snapshot: once another process commits,
    the next BEGIN IMMEDIATE on this connection would fail at once as locked."""
    path = str(tmp_path / "sim.db")
    store = SharedSqliteStore(path)
    store.ensure_schema(["CREATE TABLE IF NOT EXISTS t (n INTEGER)"])
    with store.tx():
        for n in range(3):
            store.execute("INSERT INTO t (n) VALUES (?)", (n,))
    unfinished = store.execute("SELECT n FROM t ORDER BY n")
    assert unfinished.fetchone()[0] == 0  # one row read, two left
    other = child(_COMMIT_ONE, path)
    out, err = other.communicate(timeout=60)
    assert other.returncode == 0 and out == "committed\n", err
    with store.tx():  # this thread's next write
        store.execute("INSERT INTO t (n) VALUES (200)")
    assert [r[0] for r in unfinished.fetchall()] == [1, 2]
    assert store.scalar("SELECT COUNT(*) FROM t") == 5
    store.close()
