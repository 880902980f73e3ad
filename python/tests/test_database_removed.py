"""A database file removed or replaced under a running run is noticed (issue 8, R10)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

from conftest import python_env

import stonks

# Logs and flushes, says "ready", waits for the test to remove or replace the file, then goes
# on logging; prints what strict mode raised.
SCRIPT = """
    import sys, stonks
    db, strict = sys.argv[1], sys.argv[2] == "strict"
    run = stonks.start_run("watched", db=db, strict=strict).start()
    for step in range(100):
        run.log({"loss": float(step)})
    run.flush()
    print("ready", flush=True)
    sys.stdin.readline()
    raised = []
    for step in range(100, 400):
        try:
            run.log({"loss": float(step)})
            if step % 100 == 0:
                run.flush()
        except stonks.WriteError as error:
            raised.append(str(error))
    try:
        run.finish()
    except stonks.WriteError as error:
        raised.append(str(error))
    print("raised", len(raised), raised[:1], flush=True)
    print("finished", flush=True)
    """


def remove_database(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def run_and_disturb(db_path: str, mode: str, disturb) -> subprocess.CompletedProcess:
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), db_path, mode],
        env=python_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "ready"
        disturb()
        # A bound on "it ended" (finish() would otherwise wait for writes), not a speed measurement.
        stdout, stderr = child.communicate("go\n", timeout=40)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, stderr
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)


def test_a_removed_database_is_warned_once_and_the_later_points_counted(db_path: str) -> None:
    done = run_and_disturb(db_path, "default", lambda: remove_database(db_path))
    assert "finished" in done.stdout and "raised 0" in done.stdout
    assert done.stderr.count("was removed or replaced while run") == 1
    discarded = re.search(r"stonks discarded (\d+) points of run", done.stderr)
    assert discarded is not None and int(discarded.group(1)) == 300
    assert not os.path.exists(db_path)


def test_strict_mode_raises_write_error_at_the_next_call(db_path: str) -> None:
    done = run_and_disturb(db_path, "strict", lambda: remove_database(db_path))
    assert "finished" in done.stdout
    assert "raised 1 " in done.stdout and "was removed or replaced" in done.stdout


def test_a_replaced_database_is_left_alone_and_the_later_points_discarded(db_path: str, tmp_path) -> None:
    other = str(tmp_path / "other.db")

    def replace() -> None:
        with stonks.start_run("someone-else", db=other) as run:
            run.log({"acc": 1.0})
        remove_database(db_path)
        os.replace(other, db_path)

    done = run_and_disturb(db_path, "default", replace)
    assert done.stderr.count("was removed or replaced while run") == 1
    assert "stonks discarded 300 points" in done.stderr
    with stonks.open(db_path) as db:
        [run] = db.list_runs()
        [experiment] = db.list_experiments()
        assert experiment.name == "someone-else"
        assert db.get_metric_keys(run.id) == ["acc"]
