"""Opening a stonks database: path rule, pragmas, schema migrations, write transactions.

The schema's one definition is the SQL files in ``stonks/migrations`` (a link to
``src/store/migrations`` in the repository, copied into the wheel at build time).
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from typing import Callable, List, Optional, Tuple, TypeVar

from ._errors import SchemaVersionError, StonksError

BUSY_TIMEOUT_MS = 10_000
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")
_MIGRATION_FILE = re.compile(r"^(\d{4})_.*\.sql$")
_REMOTE = re.compile(r"^https?://", re.IGNORECASE)

T = TypeVar("T")

_migrations: Optional[List[Tuple[int, str]]] = None


def resolve_db_path(db: Optional[str] = None) -> str:
    """Explicit ``db`` > ``STONKS_DB`` environment variable > ``./stonks.db``."""
    if db is not None and not isinstance(db, (str, os.PathLike)):
        raise StonksError(f"db must be a path or None, not {type(db).__name__}.")
    path = os.fspath(db) if db is not None else ""
    if path == "":
        path = os.environ.get("STONKS_DB", "") or "./stonks.db"
    if _REMOTE.match(path):
        raise StonksError(
            f"{path} is a stonks server address, but remote logging is not available yet. "
            "Log to a local SQLite file instead (pass db='./stonks.db' or unset STONKS_DB)."
        )
    return path


def migrations() -> List[Tuple[int, str]]:
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


def split_statements(sql: str) -> List[str]:
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


def connect(path: str, create: bool = True) -> sqlite3.Connection:
    """Opens ``path``: busy timeout, foreign keys, version check, WAL, synchronous=NORMAL, migrations.

    A file of a newer schema version raises SchemaVersionError before anything
    is written to it.
    """
    if path != ":memory:" and not create and not os.path.exists(path):
        raise StonksError(
            f"No stonks database at {path}. Log a run first, or point to the right file (db argument or STONKS_DB)."
        )
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as error:
        raise StonksError(f"Cannot open {path}: {error}. Check that its folder exists and is writable.") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        try:
            # One snapshot for the version and the table check: another process may be
            # committing the first migration between two separate reads.
            conn.execute("BEGIN")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                _check_version(conn, path, version)
            finally:
                conn.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            raise SchemaVersionError(f"{path} is not a SQLite database stonks can read: {error}") from None
        # synchronous first: switching a new file to WAL under the default FULL costs an fsync.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if version < schema_version():
            _migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _check_version(conn: sqlite3.Connection, path: str, version: int) -> None:
    newest = schema_version()
    if version > newest:
        raise SchemaVersionError(
            f"{path} uses stonks schema version {version}, newer than this stonks understands ({newest}). "
            "Upgrade stonks (pip install -U stonks) to use it; the file was left untouched."
        )
    if version == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if tables > 0:
            raise SchemaVersionError(f"{path} is a SQLite database but not a stonks database; choose another file.")


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    def apply() -> None:
        # Another process may have migrated between our check and the lock.
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        _check_version(conn, path, current)
        for version, sql in migrations():
            if version <= current:
                continue
            for statement in split_statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")

    run_immediate(conn, apply)


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
