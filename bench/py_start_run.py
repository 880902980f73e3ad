"""start_run() to the first durable point, in a fresh process with `import stonks` done.

Run: python3 bench/py_start_run.py [runs]
The clock starts at start_run(), on a new database file, and stops when flush() returns
after the first log(); wall time, and the CPU time of the process over the same span
(which other jobs on a shared machine do not inflate). Also: a second run in the same process (modules warm) and the
floor, a bare sqlite3 program doing the same file work (create the schema, insert one
row, commit).
"""

from __future__ import annotations

import subprocess
import sys

from py_common import PYTHON_DIR, child_env, compile_package, median, scratch_db

FIRST = """
import os, sys, time, stonks
path = sys.argv[1]
t = time.perf_counter()
c = time.process_time()
run = stonks.start_run("bench-start", db=path)
run.start()
run.log({"loss": 0.5})
run.flush()
first = (time.perf_counter() - t) * 1000
first_cpu = (time.process_time() - c) * 1000
run.finish()
t = time.perf_counter()
again = stonks.start_run("bench-start", db=path + "2")
again.start()
again.log({"loss": 0.5})
again.flush()
second = (time.perf_counter() - t) * 1000
again.finish()
print(first, second, first_cpu)
"""

FLOOR = """
import sys, time
t = time.perf_counter()
import sqlite3
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("PRAGMA synchronous = NORMAL")
schema = open(sys.argv[2]).read()
conn.executescript("BEGIN IMMEDIATE;" + schema + ";INSERT INTO metric_keys (key) VALUES ('loss');COMMIT;")
print((time.perf_counter() - t) * 1000)
"""


def sample(script: str, *args: str) -> list:
    done = subprocess.run(
        [sys.executable, "-c", script, scratch_db(), *args], env=child_env(), capture_output=True, text=True, check=True
    )
    return [float(x) for x in done.stdout.split()]


def measure(runs: int) -> dict:
    compile_package()
    schema = str(PYTHON_DIR / "stonks" / "migrations" / "0001_initial.sql")
    pairs = [sample(FIRST) for _ in range(runs)]
    floor = [sample(FLOOR, schema)[0] for _ in range(runs)]
    return {
        "first_ms": median([p[0] for p in pairs]),
        "second_ms": median([p[1] for p in pairs]),
        "first_cpu_ms": median([p[2] for p in pairs]),
        "floor_ms": median(floor),
        "runs": runs,
    }


if __name__ == "__main__":
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 11))
