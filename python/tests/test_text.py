"""Text that is not valid Unicode: repaired (U+FFFD) and warned once, never a stalled run (issue 8, R1)."""

from __future__ import annotations

import logging
import os
import sqlite3

import pytest
from conftest import query, run_python

import stonks

# A file name that is not UTF-8, as os.listdir() or os.fsdecode() gives it: a lone surrogate.
BAD = os.fsdecode(b"img_\xff.png")
REPAIRED = "img_\ufffd.png"


def test_bad_text_is_a_lone_surrogate_that_utf8_refuses() -> None:
    assert BAD == "img_\udcff.png"
    with pytest.raises(UnicodeEncodeError):
        BAD.encode("utf-8")


def test_a_key_from_a_file_name_does_not_stall_the_run_in_a_real_process(db_path: str) -> None:
    script = """
        import os, sys, stonks
        key = os.fsdecode(b"img_\\xff.png")
        run = stonks.start_run("text", db=sys.argv[1]).start()
        for step in range(500):
            run.log({"loss": float(step), key: 1.0, "acc": 0.5})
        run.finish()
        print("finished", flush=True)
        """
    # Before the fix the writer failed on every attempt: finish() waited its 60 s and the exit
    # handler another 60; this timeout is a bound on "it ended", not a speed measurement.
    done = run_python(script, db_path, timeout=40)
    assert "finished" in done.stdout
    assert done.stderr.count("is not valid Unicode") == 1
    assert "could not" not in done.stderr
    with stonks.open(db_path) as db:
        [run] = db.list_runs()
        assert run.status == "completed"
        assert sorted(db.get_metric_keys(run.id)) == sorted(["acc", "loss", REPAIRED])
        assert db.get_metrics(run.id, "loss").steps == list(range(500))
        assert db.get_metrics(run.id, REPAIRED).values == [1.0] * 500


def test_every_start_run_string_is_repaired_and_warned_once(db_path: str, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="stonks"):
        run = stonks.start_run(
            "exp " + BAD,
            config={"path": BAD, BAD: 1, "nested": {"files": [BAD], BAD: {"deeper": BAD}}},
            db=db_path,
            run_name="name " + BAD,
            tags=["tag " + BAD],
            group="group " + BAD,
            job_type="job " + BAD,
            notes="notes " + BAD,
        ).start()
        run.log_config({"later": BAD, "later " + BAD: 2})
        run.finish()
    messages = [r.getMessage() for r in caplog.records if "is not valid Unicode" in r.getMessage()]
    for what in ("experiment name", "run name", "tag", "group", "job type", "notes", "config key", "config value"):
        assert any(m.startswith(what) for m in messages), what
    # Once per (kind, text): the config value BAD appears four times, the key BAD twice.
    assert sum(m.startswith(f"config value {BAD!r}") for m in messages) == 1
    assert sum(m.startswith(f"config key {BAD!r}") for m in messages) == 1
    with stonks.open(db_path) as db:
        [info] = db.list_runs()
        [experiment] = db.list_experiments()
    assert experiment.name == "exp " + REPAIRED
    assert info.status == "completed"
    assert (info.name, info.tags, info.group, info.job_type, info.notes) == (
        "name " + REPAIRED,
        ["tag " + REPAIRED],
        "group " + REPAIRED,
        "job " + REPAIRED,
        "notes " + REPAIRED,
    )
    assert info.config == {
        "path": REPAIRED,
        REPAIRED: 1,
        "nested": {"files": [REPAIRED], REPAIRED: {"deeper": REPAIRED}},
        "later": REPAIRED,
        "later " + REPAIRED: 2,
    }


def test_a_path_object_of_a_bad_file_name_in_the_config_is_repaired(db_path: str, tmp_path) -> None:
    with stonks.start_run("exp", config={"data": tmp_path / BAD}, db=db_path) as run:
        pass
    assert run.config["data"] == str(tmp_path / REPAIRED)


@pytest.mark.parametrize(
    "arguments",
    [
        {"experiment": BAD},
        {"run_name": BAD},
        {"tags": [BAD]},
        {"group": BAD},
        {"job_type": BAD},
        {"notes": BAD},
        {"resume": BAD},
        {"config": {BAD: 1}},
        {"config": {"a": [BAD]}},
    ],
)
def test_strict_mode_refuses_bad_text_outside_metric_keys(db_path: str, arguments) -> None:
    arguments = {"experiment": "exp", **arguments}
    with pytest.raises(stonks.InvalidConfigError) as raised:
        stonks.start_run(db=db_path, strict=True, **arguments)
    assert isinstance(raised.value, stonks.StonksError) and isinstance(raised.value, ValueError)
    assert "not valid Unicode" in str(raised.value)
    assert not os.path.exists(db_path)


def test_strict_log_config_with_bad_text_stores_nothing_of_it(db_path: str) -> None:
    with stonks.start_run("exp", config={"lr": 0.1}, db=db_path, strict=True) as run:
        with pytest.raises(stonks.InvalidConfigError):
            run.log_config({"ok": 1, "bad": BAD})
    with stonks.open(db_path) as db:
        [info] = db.list_runs()
    assert info.config == {"lr": 0.1}


def test_strict_mode_raises_for_a_bad_key_and_stores_nothing_of_the_call(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path, strict=True) as run:
        with pytest.raises(stonks.InvalidMetricError):
            run.log({"a": 1.0, BAD: 2.0, "b": 3.0}, step=0)
        run.log({"a": 4.0}, step=1)
    with stonks.open(db_path) as db:
        assert db.get_metric_keys(run.id) == ["a"]
        assert db.get_metrics(run.id, "a").steps == [1]


def test_readers_replace_invalid_utf8_already_in_a_file(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path, run_name="clean") as run:
        run.log({"loss": 1.0})
    # What an older stonks (or another SQLite writer) could leave: TEXT that is not UTF-8.
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE runs SET name = CAST(x'6e616d65ff' AS TEXT), notes = CAST(x'c3' AS TEXT)")
        conn.execute("UPDATE metric_keys SET key = CAST(x'6c6f7373ff' AS TEXT)")
        conn.execute("""UPDATE runs SET config = CAST(x'7b2261223a2262ff227d' AS TEXT)""")
    conn.close()
    with pytest.raises(sqlite3.OperationalError):
        query(db_path, "SELECT name FROM runs")  # the plain sqlite3 module cannot read it
    with stonks.open(db_path) as db:
        [info] = db.list_runs()
        keys = db.get_metric_keys(run.id)
    assert info.name == "name\ufffd" and info.notes == "\ufffd"
    assert info.config == {"a": "b\ufffd"}
    assert keys == ["loss\ufffd"]
    # Resuming the run reads its row and config through the writer's connection.
    with stonks.start_run("exp", db=db_path, resume=run.id) as resumed:
        resumed.log({"acc": 2.0})
    assert resumed.config == {"a": "b\ufffd"}
    with stonks.open(db_path) as db:
        assert db.get_run(run.id).status == "completed"
        assert db.get_metrics(run.id, "acc").values == [2.0]
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE experiments SET name = CAST(x'657870fe' AS TEXT)")
    conn.close()
    with stonks.open(db_path) as db:
        [experiment] = db.list_experiments()
    assert experiment.name == "exp\ufffd"
