"""A failed write (here: a full disk, injected with RLIMIT_FSIZE) keeps every point and retries."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import python_env, run_python

import stonks
from stonks._writer import MAX_POINTS_PER_TRANSACTION

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")

# The script fills the disk (no file may grow past 4 KiB) while points are logged,
# then frees it; it prints what the SDK did.
FULL_DISK = """
    import resource, signal, sys, time, stonks
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    db, strict = sys.argv[1], sys.argv[2] == "strict"
    run = stonks.start_run("full", db=db, strict=strict).start()
    run.log({"a": -1.0})
    run.flush()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    refused = []
    for step in range(5000):
        try:
            run.log({"a": float(step), "b": 2.0}, step=step + 1)
        except stonks.WriteError:
            # Strict: a background write failed; this call raised and logged nothing.
            refused.append(step)
    try:
        run.flush()
        print("flush returned")
    except stonks.WriteError as error:
        print("flush raised", type(error).__name__, isinstance(error, stonks.StonksError))
    if strict:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                run.log({"c": 1.0}, step=10_000)
            except stonks.WriteError:
                print("log raised")
                break
            time.sleep(0.01)
    print("refused", refused)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    run.flush()
    run.finish()
    print("finished")
    """


def refused_steps(stdout: str):
    line = next(line for line in stdout.splitlines() if line.startswith("refused "))
    return set(json.loads(line[len("refused ") :]))


def read(path: str):
    with stonks.open(path) as db:
        [run] = db.list_runs()
        return run, db.get_metrics(run.id, "a"), db.get_metrics(run.id, "b")


def test_default_mode_warns_keeps_points_and_retries(db_path: str) -> None:
    done = run_python(FULL_DISK, db_path, "default")
    assert "flush returned" in done.stdout and "finished" in done.stdout
    assert refused_steps(done.stdout) == set()
    assert "they are kept in memory and retried" in done.stderr
    run, a, b = read(db_path)
    assert run.status == "completed"
    assert a.steps == list(range(5001)) and a.values == [-1.0, *map(float, range(5000))]
    assert len(b.steps) == 5000


def test_strict_mode_raises_at_the_next_flush_and_log(db_path: str) -> None:
    done = run_python(FULL_DISK, db_path, "strict")
    # The failure surfaces at the next call: a log() in the loop or the flush() after it.
    refused = refused_steps(done.stdout)
    assert refused or "flush raised WriteError True" in done.stdout
    assert "log raised" in done.stdout
    assert "finished" in done.stdout
    run, a, b = read(db_path)
    assert run.status == "completed"
    # Every point of every call that did not raise was kept through the failures and written.
    kept = [step + 1 for step in range(5000) if step not in refused]
    assert a.steps == [0, *kept]
    assert b.steps == kept


def test_past_the_cap_points_are_dropped_counted_and_warned(db_path: str) -> None:
    script = """
        import resource, signal, sys, stonks
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        run = stonks.start_run("full", db=sys.argv[1]).start()
        run.flush()
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
        for step in range(3000):
            run.log({"a": float(step)})
            if step % 100 == 0:
                run.flush()
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        run.finish()
        """
    done = run_python(script, db_path, STONKS_MAX_PENDING_POINTS="1000")
    assert "dropping points" in done.stderr
    assert "dropped" in done.stderr
    run, a, _ = read(db_path)
    assert run.status == "completed"
    # At least the cap survived, in order, and nothing past the cap was kept silently.
    assert 1000 <= len(a.steps) < 3000
    assert a.steps == list(range(len(a.steps)))


def test_database_locked_past_the_busy_timeout_keeps_points_and_log_never_waits(db_path: str, caplog) -> None:
    run = stonks.start_run("locked", db=db_path).start()
    run.log({"a": 0.0})
    run.flush()
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        with caplog.at_level(logging.WARNING, logger="stonks"):
            # The 100th point wakes the writer, which then waits out the 10 s busy timeout; log() returns
            # at once all the same, so the loop ends before the writer has given up on its first attempt.
            for step in range(1, 300):
                run.log({"a": float(step)})
            assert not any("retried" in r.getMessage() for r in caplog.records)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any("retried" in r.getMessage() for r in caplog.records):
                time.sleep(0.05)
        assert any("locked" in r.getMessage() and "retried" in r.getMessage() for r in caplog.records)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    run.finish()
    run_info, a, _ = read(db_path)
    assert run_info.status == "completed"
    assert a.steps == list(range(300))


def test_a_writer_whose_writes_keep_failing_sleeps_between_attempts(db_path: str) -> None:
    # Every attempt fails at once (the file may not grow). The heartbeat tick (0.5 s here) soon
    # lies in the past; before the fix the writer then spun at 100 % of a core until the write
    # succeeded. The main thread only sleeps, so the process CPU time is the writer's.
    script = """
        import resource, signal, sys, time, stonks
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        run = stonks.start_run("full", db=sys.argv[1]).start()
        run.log({"a": 0.0})
        run.flush()
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
        for step in range(1, 1001):
            run.log({"a": float(step)})
        run.flush()
        time.sleep(1.0)
        cpu, wall = time.process_time(), time.monotonic()
        time.sleep(4.0)
        print("cpu share", (time.process_time() - cpu) / (time.monotonic() - wall), flush=True)
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        run.finish()
        """
    done = run_python(script, db_path, STONKS_FLUSH_INTERVAL="0.5")
    share = float(next(line for line in done.stdout.splitlines() if line.startswith("cpu share")).split()[-1])
    # A loose functional bound (a busy loop gives about 1.0); the benchmark measures the real figure.
    assert share < 0.2
    assert "after" in done.stderr and "failed attempts" in done.stderr
    run, a, _ = read(db_path)
    assert run.status == "completed"
    assert a.steps == list(range(1001))


def test_on_a_full_filesystem_each_freed_megabyte_takes_a_batch_and_exit_counts_the_rest(tmp_path) -> None:
    # A real full filesystem (a 16 MiB tmpfs): freeing less room than the whole backlog needs must
    # still let batches through, and at exit the points that never found room are counted exactly.
    mount_point = tmp_path / "fs"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)], check=True)
    script = """
        import sys, stonks
        run = stonks.start_run("full", db=sys.argv[1]).start()
        run.log({"a": -1.0})
        run.flush()
        print("started", run.id, flush=True)
        sys.stdin.readline()
        for step in range(200_000):
            run.log({"a": float(step)})
        run.flush()
        print("logged", flush=True)
        sys.stdin.readline()
        """
    db = str(mount_point / "stonks.db")
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), db],
        env=python_env(STONKS_EXIT_TIMEOUT="2"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run_id = child.stdout.readline().split()[1]
        with open(mount_point / "filler", "wb", buffering=0) as filler:
            for size in (1 << 20, 1 << 12):
                try:
                    while True:
                        filler.write(b"\1" * size)
                except OSError as error:
                    assert error.errno == errno.ENOSPC
            child.stdin.write("log\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "logged"
            before = point_count(db)
            assert before < 200_001
            # About 3 MiB: room for a batch or two, far from the whole backlog.
            filler.truncate(os.fstat(filler.fileno()).st_size - 3 * (1 << 20))
        deadline = time.monotonic() + 40
        while point_count(db) == before and time.monotonic() < deadline:
            time.sleep(0.2)
        progressed = point_count(db)
        assert progressed > before
        # Each commit holds exactly one batch of the oldest points.
        assert (progressed - before) % MAX_POINTS_PER_TRANSACTION == 0
        child.stdin.write("exit\n")
        child.stdin.flush()
        _, stderr = child.communicate(timeout=60)
        assert child.returncode == 0
        report = re.search(rf"not written: (\d+) points of run {run_id} \({re.escape(db)}\)", stderr)
        assert report is not None, stderr
        os.remove(mount_point / "filler")
        stored = point_count(db)
        assert before < stored < 200_001
        assert stored + int(report.group(1)) == 200_001
    finally:
        child.kill()
        child.wait()
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def point_count(db: str) -> int:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return int(conn.execute("SELECT coalesce(sum(count), 0) FROM series").fetchone()[0])
    finally:
        conn.close()
