"""Exit paths of a real Python process: atexit, uncaught exceptions, signals, SIGKILL, fork."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess

import pytest
from conftest import popen_python, query, run_python

import stonks

LOG_SCRIPT = """
    import sys, stonks
    run = stonks.start_run("exit", db=sys.argv[1])
    run.start()
    for step in range(250):
        run.log({"loss": float(step), "acc": 1.0})
    {ending}
    """


# The main thread sleeps in C code; another thread prints "ready" once that sleep has begun.
# (A signal landing between a print in the main thread and its sleep() would only be
# handled when the sleep ends.)
SLEEP_UNTIL_SIGNALLED = "__import__('threading').Timer(0.2, print, ('ready',), {'flush': True}).start(); time.sleep(60)"


def start_until_ready(script: str, db_path: str) -> subprocess.Popen:
    """Starts a script that ends in SLEEP_UNTIL_SIGNALLED and waits until it sleeps."""
    process = popen_python(script.replace("SLEEP_UNTIL_SIGNALLED", SLEEP_UNTIL_SIGNALLED), db_path)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def only_run(path: str):
    with stonks.open(path) as db:
        [run] = db.list_runs()
        return run, db.get_metrics(run.id, "loss")


def test_unfinished_run_is_completed_and_written_at_clean_exit(db_path: str) -> None:
    run_python(LOG_SCRIPT.replace("{ending}", "pass"), db_path)
    run, loss = only_run(db_path)
    assert run.status == "completed"
    assert loss.steps == list(range(250))


def test_sys_exit_zero_outside_a_with_block_is_completed(db_path: str) -> None:
    done = run_python(LOG_SCRIPT.replace("{ending}", "sys.exit(0)"), db_path)
    assert done.returncode == 0
    assert only_run(db_path)[0].status == "completed"


def test_uncaught_exception_marks_failed_and_keeps_points(db_path: str) -> None:
    done = run_python(LOG_SCRIPT.replace("{ending}", "raise ValueError('diverged')"), db_path, check=False)
    assert done.returncode == 1 and "ValueError: diverged" in done.stderr
    run, loss = only_run(db_path)
    assert run.status == "failed"
    assert len(loss.steps) == 250


def test_uncaught_keyboard_interrupt_marks_interrupted(db_path: str) -> None:
    done = run_python(LOG_SCRIPT.replace("{ending}", "raise KeyboardInterrupt"), db_path, check=False)
    assert done.returncode != 0
    run, loss = only_run(db_path)
    assert run.status == "interrupted"
    assert len(loss.steps) == 250


def test_user_excepthook_still_runs(db_path: str) -> None:
    script = """
        import sys, stonks
        def hook(kind, value, tb):
            print("user hook saw", kind.__name__)
        sys.excepthook = hook
        run = stonks.start_run("exit", db=sys.argv[1]).start()
        run.log({"loss": 1.0})
        raise RuntimeError("x")
        """
    done = run_python(script, db_path, check=False)
    assert "user hook saw RuntimeError" in done.stdout
    assert only_run(db_path)[0].status == "failed"


@pytest.mark.parametrize("with_block", [False, True])
def test_sigterm_marks_interrupted_and_writes_every_point(db_path: str, with_block: bool) -> None:
    body = """
        import sys, time, stonks
        def train(run):
            for step in range(300):
                run.log({"loss": float(step)})
            SLEEP_UNTIL_SIGNALLED
        if {with_block}:
            with stonks.start_run("exit", db=sys.argv[1]) as run:
                train(run)
        else:
            train(stonks.start_run("exit", db=sys.argv[1]).start())
        """.replace("{with_block}", str(with_block))
    process = start_until_ready(body, db_path)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM
    run, loss = only_run(db_path)
    assert run.status == "interrupted"
    assert loss.steps == list(range(300))


def test_sigterm_handler_of_the_user_is_left_alone(db_path: str) -> None:
    script = """
        import signal, sys, time, stonks
        signal.signal(signal.SIGTERM, lambda *a: (print("user handler", flush=True), sys.exit(0)))
        run = stonks.start_run("exit", db=sys.argv[1]).start()
        run.log({"loss": 1.0})
        SLEEP_UNTIL_SIGNALLED
        """
    process = start_until_ready(script, db_path)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    assert "user handler" in out
    assert only_run(db_path)[0].status == "completed"


def test_sigkill_leaves_a_sound_file_with_every_flushed_point(db_path: str) -> None:
    script = """
        import sys, stonks
        run = stonks.start_run("exit", db=sys.argv[1]).start()
        step = 0
        for round in range(1_000_000):
            for _ in range(500):
                run.log({"loss": float(step), "acc": 0.5}, step=step)
                step += 1
            if round == 20:
                run.flush()
                print("flushed", step, flush=True)
        """
    process = popen_python(script, db_path)
    assert process.stdout is not None
    line = process.stdout.readline().split()
    assert line[0] == "flushed"
    flushed = int(line[1])
    process.kill()
    process.wait(timeout=30)
    assert query(db_path, "PRAGMA integrity_check") == [("ok",)]
    run, loss = only_run(db_path)
    assert run.status == "running"
    assert len(loss.steps) >= flushed
    assert loss.steps[:flushed] == list(range(flushed))
    assert loss.values[:flushed] == [float(s) for s in range(flushed)]


def test_stale_after_a_hard_kill(db_path: str) -> None:
    script = """
        import sys, time, stonks
        run = stonks.start_run("exit", db=sys.argv[1]).start()
        run.log({"loss": 1.0})
        run.flush()
        SLEEP_UNTIL_SIGNALLED
        """
    process = start_until_ready(script, db_path)
    process.kill()
    process.wait(timeout=30)
    with stonks.open(db_path) as db:
        assert db.list_runs()[0].stale is False
    # An hour without a heartbeat, as a reader would see it later.
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE runs SET last_heartbeat = last_heartbeat - 3600")
    with stonks.open(db_path) as db:
        run = db.list_runs()[0]
        assert run.status == "running" and run.stale is True
    with stonks.open(db_path, stale_after_seconds=10_000) as db:
        assert db.list_runs()[0].stale is False


def test_forked_child_does_not_write_into_the_parents_run(db_path: str) -> None:
    script = """
        import os, sys, stonks
        run = stonks.start_run("exit", db=sys.argv[1]).start()
        run.log({"loss": 1.0})
        pid = os.fork()
        if pid == 0:
            run.log({"loss": 99.0})
            run.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        run.log({"loss": 2.0})
        """
    done = run_python(script, db_path)
    assert "another process" in done.stderr
    run, loss = only_run(db_path)
    assert run.status == "completed"
    assert loss.values == [1.0, 2.0]


def test_provenance_is_captured(tmp_path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "train.py").write_text("print('v1')\n")
    subprocess.run([*git, "add", "train.py"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=repo, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    script = """
        import os, sys, stonks
        with stonks.start_run("prov", db=sys.argv[1]) as run:
            run.log({"loss": 1.0})
        print(os.getpid())
        """
    db = str(tmp_path / "s.db")
    pid = int(run_python(script, db, "--lr", "0.1", cwd=str(repo)).stdout.strip())
    (repo / "train.py").write_text("print('v2')\n")
    run_python(script, db, cwd=str(repo))
    outside = tmp_path / "outside"
    outside.mkdir()
    run_python(script, db, cwd=str(outside))
    with stonks.open(db) as handle:
        dirty, clean = handle.list_runs()[1:]
        no_repo = handle.list_runs()[0]
    assert clean.pid == pid
    assert clean.host == os.uname().nodename
    assert clean.cwd == str(repo)
    assert "--lr 0.1" in clean.command and db in clean.command
    assert clean.sdk_language == "python" and clean.sdk_version == stonks.__version__
    assert (clean.git_commit, clean.git_dirty) == (head, False)
    assert (dirty.git_commit, dirty.git_dirty) == (head, True)
    assert (no_repo.git_commit, no_repo.git_dirty) == (None, None)


def test_ctrl_c_while_sleeping_in_c_code_marks_interrupted(db_path: str) -> None:
    script = """
        import sys, time, stonks
        run = stonks.start_run("exit", db=sys.argv[1]).start()
        for step in range(300):
            run.log({"loss": float(step)})
        SLEEP_UNTIL_SIGNALLED
        """
    process = start_until_ready(script, db_path)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert "KeyboardInterrupt" in err
    run, loss = only_run(db_path)
    assert run.status == "interrupted"
    assert loss.steps == list(range(300))
