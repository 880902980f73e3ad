"""CPU used by a run's writer thread while its writes keep failing.

Run: python3 bench/py_write_failure_cpu.py [runs]            (prints the numbers)
     python3 bench/py_write_failure_cpu.py [runs] --write    (also writes its block of bench/RESULTS.md)

A child process starts a run, logs 1,000 points that cannot be written, then sleeps in its
main thread; the CPU time of the whole process over a window (after 6 s of failing, past the
5 s heartbeat tick) is the writer's. Two failures:
- disk full: RLIMIT_FSIZE set so the file cannot grow; every attempt fails at once;
- locked: this process holds ``BEGIN IMMEDIATE`` on the file; every attempt waits out the
  10 s busy timeout.
Goal: under 2 % of a core.
"""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
import subprocess
import sys
import textwrap

from py_common import child_env, compile_package, machine, median, scratch_db, write_results_block

import stonks

WARMUP_S = 6.0
WINDOW_S = 10.0
BLOCK_ID = "py-write-failure-cpu"
# Measured once with this script on the writer before the fix (commit 6b8d4bc, same VM, 1 run):
# the heartbeat tick in the past made every wait negative.
BEFORE_FIX = "disk full 99.99 %, locked 0.92 %"

CHILD = """
    import json, resource, signal, sys, time, stonks
    db, failure, warmup, window = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    run = stonks.start_run("bench-failing", db=db).start()
    run.log({"a": 0.0})
    run.flush()
    if failure == "disk-full":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    else:
        print("ready", flush=True)
        sys.stdin.readline()
    for step in range(1, 1001):
        run.log({"a": float(step)})
    time.sleep(warmup)
    cpu, wall = time.process_time(), time.monotonic()
    time.sleep(window)
    print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.monotonic() - wall}), flush=True)
    import os
    os._exit(0)
    """


def one(failure: str) -> float:
    """The writer's CPU over the window, as a fraction of one core."""
    db = scratch_db()
    stonks.start_run("bench-failing", db=db).start().finish()
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), db, failure, str(WARMUP_S), str(WINDOW_S)],
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    holder = None
    try:
        if failure == "locked":
            assert child.stdout.readline().strip() == "ready"
            holder = sqlite3.connect(db, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            child.stdin.write("go\n")
            child.stdin.flush()
        result = json.loads(child.stdout.readline())
    finally:
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()
        child.wait(30)
    return float(result["cpu"]) / float(result["wall"])


def measure(runs: int) -> dict:
    compile_package()
    disk_full = [one("disk-full") for _ in range(runs)]
    locked = [one("locked") for _ in range(runs)]
    return {"disk_full": median(disk_full), "locked": median(locked), "runs": runs,
            "disk_full_samples": disk_full, "locked_samples": locked}


def block(result: dict) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    def samples(values: list) -> str:
        return ", ".join(f"{100 * v:.2f} %" for v in values)

    return "\n".join([
        "### Python writer CPU while writes keep failing (bench/py_write_failure_cpu.py)",
        "",
        f"Command: `python3 bench/py_write_failure_cpu.py {result['runs']} --write` ({datetime.date.today().isoformat()}). "
        f"Machine: {machine()}; load average {load:.1f} when it ended (other jobs shared the 2 cores). "
        f"A child process logs 1,000 points that cannot be written and sleeps; the process CPU time over "
        f"{WINDOW_S:.0f} s, measured after {WARMUP_S:.0f} s of failing (past the 5 s heartbeat tick), "
        f"divided by wall time. Medians of {result['runs']}.",
        "",
        "| failure | writer CPU (share of one core) | goal | samples |",
        "|---|---|---|---|",
        f"| disk full (every attempt fails at once) | {100 * result['disk_full']:.2f} % | < 2 % | {samples(result['disk_full_samples'])} |",
        f"| file locked by another process (every attempt waits out the 10 s busy timeout) | {100 * result['locked']:.2f} % | < 2 % | {samples(result['locked_samples'])} |",
        "",
        f"Before the fix (commit 6b8d4bc, same VM, one run): {BEFORE_FIX}. The writer then spun from the "
        "first missed heartbeat tick on. A locked file wastes less because each attempt sleeps in SQLite's "
        "busy handler for 10 s; a disk-full error returns at once.",
    ])


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--write"]
    measured = measure(int(args[0]) if args else 3)
    text = block(measured)
    print(text)
    if "--write" in sys.argv:
        write_results_block(BLOCK_ID, text)
