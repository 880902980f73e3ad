"""Opening a stonks database: path rule, pragmas, schema migrations, write transactions.

The schema's one definition is the SQL files in ``stonks/migrations`` (a link to
``src/store/migrations`` in the repository, copied into the wheel at build time).
"""

from __future__ import annotations

import os
import re
import sqlite3
import time

from ._errors import DatabaseError, NotAStonksFileError, SchemaVersionError, StonksError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000
#: ``PRAGMA application_id`` of every stonks file: "STNK" in ASCII.
APPLICATION_ID = 0x53544E4B
#: Bytes the write-ahead log is cut back to after a checkpoint resets it; without
#: a limit it keeps the size of its largest burst forever.
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
#: Pages after which a commit checkpoints the log (SQLite's default, set explicitly for both SDKs).
WAL_AUTOCHECKPOINT_PAGES = 1000
#: Size of the write-ahead log past which a writer checkpoints and truncates it itself (checkpoint_if_large).
WAL_TRUNCATE_BYTES = 16 * 1024 * 1024
#: How long that checkpoint waits for readers to finish; a later commit tries again.
_TRUNCATE_WAIT_MS = 1000
#: Per database path: the log size at which to try again after a checkpoint found readers busy.
_truncate_retry_at: dict[str, int] = {}
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")
_MIGRATION_FILE = re.compile(r"^(\d{4})_.*\.sql$")
_REMOTE = re.compile(r"^https?://", re.IGNORECASE)


_migrations: list[tuple[int, str]] | None = None
_shapes: dict[int, str] = {}


def resolve_target(db: str | None = None) -> str:
    """Explicit ``db`` > ``STONKS_DB`` environment variable > ``./stonks.db``: a file path or a server URL."""
    if db is not None and not isinstance(db, (str, os.PathLike)):
        raise StonksError(f"db must be a path, a server URL or None, not {type(db).__name__}.")
    path = os.fspath(db) if db is not None else ""
    if path == "":
        path = os.environ.get("STONKS_DB", "") or "./stonks.db"
    return path


def is_remote(target: str) -> bool:
    """Whether ``target`` names a stonks server (http:// or https://) rather than a file."""
    return _REMOTE.match(target) is not None


def resolve_db_path(db: str | None = None) -> str:
    """The database file to read: explicit ``db`` > ``STONKS_DB`` > ``./stonks.db``; a server URL raises."""
    path = resolve_target(db)
    if is_remote(path):
        raise StonksError(
            f"{path} is a stonks server address; the Python SDK logs to a server but reads only files. "
            "Read the server's runs with its REST API (GET /api/runs/{id}, GET /api/runs/{id}/metrics?key=...; "
            "docs/rest-api.md), or open its database file on the server's machine."
        )
    return path


def migrations() -> list[tuple[int, str]]:
    """Every ``NNNN_*.sql`` migration, in version order."""
    global _migrations
    if _migrations is None:
        try:
            names = sorted(n for n in os.listdir(MIGRATIONS_DIR) if _MIGRATION_FILE.match(n))
        except OSError as error:
            raise StonksError(
                f"stonks cannot find its schema files in {MIGRATIONS_DIR} ({error}); reinstall the package."
            ) from None
        loaded = []
        for name in names:
            with open(os.path.join(MIGRATIONS_DIR, name), encoding="utf-8") as handle:
                loaded.append((int(name[:4]), handle.read()))
        if not loaded:
            raise StonksError(f"stonks found no schema files in {MIGRATIONS_DIR}; reinstall the package.")
        _migrations = loaded
    return _migrations


def schema_version() -> int:
    """The schema version this stonks writes (``PRAGMA user_version``)."""
    return migrations()[-1][0]


def split_statements(sql: str) -> list[str]:
    """Splits a SQL script into complete statements (executescript would commit our transaction)."""
    statements = []
    current = ""
    for piece in sql.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \t\r\n;"):
                statements.append(current)
            current = ""
    return statements


def is_busy(error: BaseException) -> bool:
    if not isinstance(error, sqlite3.OperationalError):
        return False
    message = str(error).lower()
    return "locked" in message or "busy" in message


def connect(path: str) -> sqlite3.Connection:
    """Opens ``path`` (an empty database is created where there is no file, as the original stonks
    did): busy timeout, foreign keys, recognition, WAL, synchronous=NORMAL, migrations.

    A file that is not a stonks database, or is of a newer schema version,
    raises (NotAStonksFileError / SchemaVersionError) before anything is written to it.
    """
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as error:
        raise DatabaseError(f"Cannot open {path}: {error}. Check that its folder exists and is writable.") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        # Recognise the file before anything writes: someone else's file, or a newer one, must stay untouched.
        version, stamped = _recognise(conn, path)
        conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}").fetchone()
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}").fetchone()
        # synchronous first: switching a new file to WAL under the default FULL costs an fsync.
        conn.execute("PRAGMA synchronous = NORMAL")
        _switch_to_wal(conn)
        if version < schema_version() or not stamped:
            _upgrade(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """``PRAGMA journal_mode = WAL``, retried while another process holds the file.

    Switching a new file to WAL needs an exclusive lock, and SQLite answers "database is locked"
    at once, without waiting out the busy timeout, when several processes create one file together.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as error:
            if not is_busy(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


_TABLE_SHAPE_SQL = (
    "SELECT m.name, p.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p "
    "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY m.name, p.cid"
)


def _table_columns(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Every table of the file (but SQLite's own) with its columns in order."""
    columns: dict[str, list[str]] = {}
    for table, column in conn.execute(_TABLE_SHAPE_SQL):
        columns.setdefault(table, []).append(column)
    return columns


def _shape_line(columns: dict[str, list[str]]) -> str:
    """Tables with their columns as one comparable line: "a(x,y) b(z)"."""
    return " ".join(f"{table}({','.join(names)})" for table, names in columns.items())


# The columns every version of the original stonks package (pjhartout/stonks) gave its tables;
# its newer schema adds a projects table. Same rule as isOriginalStonksLayout in src/store/connection.ts.
_ORIGINAL_COLUMNS: dict[str, list[str]] = {
    "experiments": ["id", "name", "description", "created_at", "metadata"],
    "runs": ["id", "experiment_id", "name", "status", "config", "created_at", "ended_at", "last_heartbeat"],
    "metrics": ["id", "run_id", "key", "value", "step", "timestamp"],
}
_ORIGINAL_EXTRA_TABLES = {"projects"}


def _is_original_layout(columns: dict[str, list[str]]) -> bool:
    """Whether the tables are those the original stonks package writes (both of its schema versions)."""
    for table, required in _ORIGINAL_COLUMNS.items():
        present = columns.get(table)
        if present is None or not all(column in present for column in required):
            return False
    return all(table in _ORIGINAL_COLUMNS or table in _ORIGINAL_EXTRA_TABLES for table in columns)


def original_file_message(path: str) -> str:
    """The one line that tells a user of the original package how to bring such a file into stonks."""
    return (
        f"{path} was written by the original stonks package (pjhartout/stonks), whose layout this stonks "
        f"does not open; stonks left it untouched. Import it with: stonks import {path} --db NEW.db"
    )


def _stonks_shape(version: int) -> str:
    """The tables a stonks file of ``version`` has: the migrations up to it, applied to an empty database."""
    if version not in _shapes:
        scratch = sqlite3.connect(":memory:")
        try:
            for number, sql in migrations():
                if number <= version:
                    scratch.executescript(sql)
            _shapes[version] = _shape_line(_table_columns(scratch))
        finally:
            scratch.close()
    return _shapes[version]


def _recognise(conn: sqlite3.Connection, path: str) -> tuple[int, bool]:
    """(user_version, stamped) of a file that is ours, reading only; raises for any other file.

    A stonks file carries our application_id; one written before the stamp
    existed is known by its exact tables and columns; an empty file is new.
    """
    try:
        # One snapshot: read separately, a process creating the file in between
        # could make a new stonks file look like someone else's database.
        conn.execute("BEGIN")
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            columns = _table_columns(conn)
        finally:
            conn.execute("COMMIT")
    except sqlite3.DatabaseError as error:
        raise NotAStonksFileError(
            f"{path} is not a stonks database ({error}); stonks left it untouched. Choose another file."
        ) from None
    shape = _shape_line(columns)
    newest = schema_version()
    stamped = app_id == APPLICATION_ID
    blank = app_id == 0 and version == 0 and shape == ""
    older = app_id == 0 and 1 <= version <= newest and shape == _stonks_shape(version)
    if version > newest and app_id in (0, APPLICATION_ID):
        # Without the stamp this may be another program's file too: say both, touch nothing.
        also = "" if stamped else ", or is not a stonks database"
        raise SchemaVersionError(
            f"{path} uses stonks schema version {version}, newer than this stonks understands ({newest}){also}. "
            "Upgrade stonks (pip install -U stonks) to use it; the file was left untouched."
        )
    if not (stamped or blank or older) and app_id == 0 and _is_original_layout(columns):
        raise NotAStonksFileError(original_file_message(path))
    if not (stamped or blank or older):
        raise NotAStonksFileError(
            f"{path} is a SQLite database of another program, not a stonks database; "
            "stonks left it untouched. Choose another file."
        )
    return version, stamped


def _upgrade(conn: sqlite3.Connection) -> None:
    """Applies the missing migrations and stamps the application id, in one transaction."""

    def apply() -> None:
        # Another process may have migrated between our check and the lock.
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        for version, sql in migrations():
            if version <= current:
                continue
            for statement in split_statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
        if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    run_immediate(conn, apply)


def checkpoint_if_large(conn: sqlite3.Connection, path: str) -> None:
    """Called by writers after a commit: truncates the write-ahead log once it passes WAL_TRUNCATE_BYTES.

    SQLite's automatic checkpoint never waits for readers, and the log starts
    over only when no reader is using it: with a server reading all the time
    that moment may never come and the log grows without bound. This waits
    briefly for the readers, copies the whole log into the file and truncates it.
    """
    try:
        size = os.stat(path + "-wal").st_size
    except OSError:
        return
    if size < max(WAL_TRUNCATE_BYTES, _truncate_retry_at.get(path, 0)):
        return
    conn.execute(f"PRAGMA busy_timeout = {_TRUNCATE_WAIT_MS}")
    done = False
    try:
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        done = busy == 0
    except sqlite3.Error:
        # The points are committed already; a checkpoint that fails now is tried again later.
        pass
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # Readers that stay busy must not make every commit wait: try again once the log has grown further.
    if done:
        _truncate_retry_at.pop(path, None)
    else:
        _truncate_retry_at[path] = size + WAL_TRUNCATE_BYTES


def run_immediate(conn: sqlite3.Connection, fn: Callable[[], T], attempts: int = 5) -> T:
    """Runs fn inside ``BEGIN IMMEDIATE`` ... ``COMMIT``, retrying while another process holds the lock."""
    for attempt in range(1, attempts + 1):
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if not is_busy(error) or attempt == attempts:
                raise
            time.sleep(0.05 * attempt)
            continue
        try:
            result = fn()
            conn.execute("COMMIT")
            return result
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    raise AssertionError("unreachable")


def read_snapshot(conn: sqlite3.Connection, fn: Callable[[], T]) -> T:
    """Runs fn in one read transaction so several statements see one snapshot."""
    if conn.in_transaction:
        return fn()
    conn.execute("BEGIN")
    try:
        return fn()
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")
