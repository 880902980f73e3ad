"""Opening the file: path rule, pragmas, schema from the one canonical SQL, versions."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

import stonks
from stonks import _db
from conftest import PYTHON_DIR, REPO_ROOT, popen_python, query


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
def test_remote_address_is_a_clear_error(url: str, monkeypatch) -> None:
    with pytest.raises(stonks.StonksError, match="remote logging is not available yet"):
        stonks.start_run("exp", db=url)
    monkeypatch.setenv("STONKS_DB", url)
    with pytest.raises(stonks.StonksError, match="remote logging is not available yet"):
        stonks.start_run("exp")
    with pytest.raises(stonks.StonksError, match="remote logging is not available yet"):
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


def test_open_of_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(stonks.StonksError, match="No stonks database"):
        stonks.open(str(tmp_path / "missing.db"))
    assert not (tmp_path / "missing.db").exists()


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
