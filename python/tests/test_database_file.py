"""Opening the file: path rule, pragmas, schema from the one canonical SQL, versions."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from functools import partial
from pathlib import Path

import pytest
from conftest import PYTHON_DIR, REPO_ROOT, popen_python, query

import stonks
from stonks import _db, _store


def test_migrations_folder_is_a_relative_link_to_the_canonical_schema() -> None:
    link = PYTHON_DIR / "stonks" / "migrations"
    assert link.is_symlink()
    assert os.readlink(link) == "../../src/store/migrations"
    canonical = REPO_ROOT / "src" / "store" / "migrations"
    names = sorted(p.name for p in canonical.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    assert names and [v for v, _ in _db.migrations()] == [int(n[:4]) for n in names]
    assert [sql for _, sql in _db.migrations()] == [(canonical / n).read_text() for n in names]


def test_new_file_gets_every_migration_and_the_pragmas(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path):
        pass
    assert query(db_path, "PRAGMA user_version") == [(_db.schema_version(),)]
    assert query(db_path, "PRAGMA journal_mode") == [("wal",)]
    tables = {row[0] for row in query(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"experiments", "runs", "metric_keys", "series", "chunks", "rollups"} <= tables
    conn = _db.connect(db_path)
    try:
        assert conn.isolation_level is None
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (10000,)
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


def test_db_argument_beats_environment_beats_default(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with stonks.start_run("exp") as default_run:
        pass
    assert (tmp_path / "stonks.db").exists()
    monkeypatch.setenv("STONKS_DB", str(tmp_path / "env.db"))
    with stonks.start_run("exp") as env_run:
        pass
    with stonks.start_run("exp", db=str(tmp_path / "explicit.db")) as explicit_run:
        pass
    for name, run in (("stonks.db", default_run), ("env.db", env_run), ("explicit.db", explicit_run)):
        assert [r[0] for r in query(str(tmp_path / name), "SELECT id FROM runs")] == [run.id]
    # open() follows the same rule.
    with stonks.open() as db:
        assert [r.id for r in db.list_runs()] == [env_run.id]
    monkeypatch.delenv("STONKS_DB")
    with stonks.open() as db:
        assert [r.id for r in db.list_runs()] == [default_run.id]


@pytest.mark.parametrize("url", ["http://localhost:8000", "HTTPS://stonks.example.com/team"])
def test_reading_a_server_address_is_a_clear_error(url: str, monkeypatch) -> None:
    # Logging to a server is remote mode (test_remote.py); reading one goes through its REST API.
    with pytest.raises(stonks.StonksError, match="REST API"):
        stonks.open(url)
    monkeypatch.setenv("STONKS_DB", url)
    with pytest.raises(stonks.StonksError, match="REST API"):
        stonks.open()


def sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_newer_schema_version_is_a_clear_error_and_the_file_is_untouched(db_path: str) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    before = sha(db_path)
    with pytest.raises(stonks.SchemaVersionError, match="newer"):
        stonks.open(db_path)
    with pytest.raises(stonks.SchemaVersionError, match="newer"):
        stonks.start_run("exp", db=db_path, strict=True).start()
    # Default mode: the run is disabled, training goes on, nothing is written.
    run = stonks.start_run("exp", db=db_path).start()
    run.log({"loss": 1.0})
    run.finish()
    assert sha(db_path) == before
    assert not os.path.exists(db_path + "-wal")
    assert query(db_path, "PRAGMA journal_mode") == [("delete",)]


def test_a_foreign_sqlite_file_is_refused(db_path: str) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    with pytest.raises(stonks.SchemaVersionError, match="not a stonks database"):
        stonks.open(db_path)


def test_a_file_that_is_not_sqlite_is_refused(db_path: str) -> None:
    Path(db_path).write_bytes(b"hello, this is not a database" * 100)
    with pytest.raises(stonks.StonksError):
        stonks.open(db_path)


def test_open_of_a_missing_file_creates_an_empty_database(tmp_path: Path) -> None:
    # As the original stonks' open() did.
    path = tmp_path / "missing.db"
    with stonks.open(str(path)) as db:
        assert db.list_experiments() == []
        assert db.list_runs() == []
    assert path.exists()
    assert query(str(path), "PRAGMA user_version")[0][0] == _db.schema_version()


def test_open_in_a_missing_folder_is_a_database_error(tmp_path: Path) -> None:
    with pytest.raises(stonks.DatabaseError, match="Cannot open"):
        stonks.open(str(tmp_path / "no-such-folder" / "x.db"))


def test_unknown_run_id_is_a_clear_error(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path) as run:
        run.log({"loss": 1.0})
    with stonks.open(db_path) as db:
        for call in (db.get_metric_keys, db.get_run, lambda rid: db.get_metrics(rid, "loss")):
            with pytest.raises(stonks.NotFoundError, match="No run with id 'nope'"):
                call("nope")
        assert isinstance(stonks.NotFoundError("x"), stonks.StonksError)
        # A key never logged is an empty series, not an error.
        assert db.get_metrics(run.id, "never").steps == []
    # Leaving the with-block closes the database.
    with pytest.raises(stonks.StonksError, match="closed"):
        db.list_runs()


def test_two_processes_creating_one_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = str(tmp_path / "race.db")
    script = """
        import sys, stonks
        with stonks.start_run("race", db=sys.argv[1]) as run:
            run.log({"x": 1.0})
        """
    processes = [popen_python(script, path) for _ in range(6)]
    for process in processes:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert err.strip() == ""
    assert query(path, "SELECT count(*) FROM runs") == [(6,)]
    assert query(path, "SELECT count(*) FROM experiments") == [(1,)]


def test_split_statements_respects_strings_and_triggers() -> None:
    sql = """CREATE TABLE a (x TEXT DEFAULT 'a;b');
    -- a comment; with a semicolon
    CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET x = 'c;d'; END;
    """
    statements = _db.split_statements(sql)
    assert len(statements) == 2
    conn = sqlite3.connect(":memory:")
    for statement in statements:
        conn.execute(statement)
    conn.execute("INSERT INTO a DEFAULT VALUES")
    assert conn.execute("SELECT x FROM a").fetchall() == [("c;d",)]


def _foreign_file(path: str, journal_mode: str) -> None:
    """Another program's file that happens to use user_version 1, as stonks files do."""
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def _siblings(path: str) -> list:
    folder, name = os.path.split(path)
    return sorted(n for n in os.listdir(folder) if n != name and n.startswith(name))


@pytest.mark.parametrize("journal_mode", ["DELETE", "WAL"])
def test_another_programs_file_with_user_version_1_is_refused_and_left_byte_identical(
    db_path: str, journal_mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    _foreign_file(db_path, journal_mode)
    before = sha(db_path)
    message = f"{db_path} is a SQLite database of another program, not a stonks database"
    with pytest.raises(stonks.NotAStonksFileError, match=message):
        stonks.open(db_path)
    with pytest.raises(stonks.NotAStonksFileError, match=message):
        stonks.start_run("exp", db=db_path, strict=True).start()
    # Default mode: the run is disabled with one error line, training goes on.
    caplog.clear()
    run = stonks.start_run("exp", db=db_path).start()
    run.log({"loss": 1.0})
    run.finish()
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and message in errors[0]
    assert sha(db_path) == before
    assert _siblings(db_path) == []
    assert query(db_path, "PRAGMA journal_mode") == [(journal_mode.lower(),)]
    assert issubclass(stonks.NotAStonksFileError, stonks.SchemaVersionError)


def test_a_file_with_stonks_table_names_but_other_columns_is_refused(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path):
        pass
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA application_id = 0")
    conn.execute("ALTER TABLE runs ADD COLUMN owner TEXT")
    conn.commit()
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    before = sha(db_path)
    with pytest.raises(stonks.NotAStonksFileError):
        stonks.open(db_path)
    assert sha(db_path) == before


def test_a_new_or_empty_file_is_stamped_with_the_stonks_application_id(tmp_path: Path) -> None:
    assert _db.APPLICATION_ID == int.from_bytes(b"STNK", "big")
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for path in (str(tmp_path / "new.db"), str(empty)):
        with stonks.start_run("exp", db=path):
            pass
        assert query(path, "PRAGMA application_id") == [(_db.APPLICATION_ID,)]


def test_a_stonks_file_from_before_the_stamp_is_recognised_and_stamped(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path) as first:
        first.log({"loss": 1.0})
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA application_id = 0")
    conn.commit()
    conn.close()
    with stonks.start_run("exp", db=db_path) as second:
        second.log({"loss": 2.0})
    assert query(db_path, "PRAGMA application_id") == [(_db.APPLICATION_ID,)]
    with stonks.open(db_path) as db:
        assert {r.id for r in db.list_runs()} == {first.id, second.id}


def test_the_writer_connection_gets_the_documented_pragmas(db_path: str) -> None:
    conn = _db.connect(db_path)
    try:
        assert conn.execute("PRAGMA journal_size_limit").fetchone() == (64 * 1024 * 1024,)
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)
        assert conn.execute("PRAGMA synchronous").fetchone() == (1,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


def test_the_log_stays_bounded_while_a_readers_polls_overlap_the_writes(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path):
        pass
    (seq,) = query(db_path, "SELECT seq FROM runs")[0]
    writer = _db.connect(db_path)
    reader = _db.connect(db_path)
    series = _db.run_immediate(writer, lambda: _store.ensure_series(writer, seq, "loss"))
    largest = 0
    for start in range(0, 200_000, 100):
        steps = [float(s) for s in range(start, start + 100)]
        # A poll of a reader (the server's live events) is under way while the writer commits:
        # its snapshot keeps SQLite's own checkpoint from reaching the end of the log.
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM chunks").fetchone()
        _db.run_immediate(writer, partial(_store.append_points, writer, series, steps, steps, steps))
        reader.execute("COMMIT")
        _db.checkpoint_if_large(writer, db_path)
        largest = max(largest, os.stat(db_path + "-wal").st_size)
    reader.close()
    writer.close()
    assert _db.WAL_TRUNCATE_BYTES / 2 < largest < _db.WAL_TRUNCATE_BYTES + 1024 * 1024
    assert query(db_path, "SELECT count FROM series") == [(200_000,)]


def test_an_unstamped_version_2_file_is_recognised_and_migrated_its_runs_keeping_no_palette_index(
    db_path: str,
) -> None:
    # As stonks wrote files before migration 3 (runs.color_index) and before the application id stamp.
    conn = sqlite3.connect(db_path)
    for version, sql in _db.migrations():
        if version <= 2:
            conn.executescript(sql)
            conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("INSERT INTO experiments (id, name, created_at) VALUES ('e', 'exp', 0)")
    conn.execute("INSERT INTO runs (id, experiment_id, status, created_at) VALUES ('old', 'e', 'completed', 0)")
    conn.commit()
    conn.close()
    with stonks.start_run("exp", db=db_path) as new:
        pass
    assert query(db_path, "PRAGMA user_version") == [(_db.schema_version(),)]
    assert query(db_path, "PRAGMA application_id") == [(_db.APPLICATION_ID,)]
    # The old run keeps its colour by database number (seq 1: palette colour 1); the new run avoids it.
    assert query(db_path, "SELECT id, color_index FROM runs ORDER BY seq") == [("old", None), (new.id, 0)]
