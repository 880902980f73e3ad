"""Sustained ingest: log() of 4 metrics per call until every point is durable (flush returned).

Run: python3 bench/py_ingest.py [runs]
Baseline, measured in the same run: the original stonks layout, one row per point with a
text run id and key, two indexes, a commit every 100 rows (implemented inline below).
"""

from __future__ import annotations

import sqlite3
import sys
import time

from py_common import median, scratch_db

import stonks

CALLS = 250_000
KEYS = ("train/loss", "train/acc", "val/loss", "lr")


def stonks_ingest() -> tuple:
    run = stonks.start_run("bench-ingest", db=scratch_db()).start()
    start = time.perf_counter()
    cpu = time.process_time()
    for step in range(CALLS):
        x = step * 1e-6
        run.log({"train/loss": x, "train/acc": 1 - x, "val/loss": x * 2, "lr": 0.001})
    run.flush()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    run.finish()
    return CALLS * len(KEYS) / elapsed, CALLS * len(KEYS) / cpu


def original_layout_ingest() -> float:
    conn = sqlite3.connect(scratch_db(), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE metrics (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, key TEXT NOT NULL, "
        "step INTEGER NOT NULL, value REAL, timestamp REAL NOT NULL)"
    )
    conn.execute("CREATE INDEX metrics_run_key_step ON metrics(run_id, key, step)")
    conn.execute("CREATE INDEX metrics_run_time ON metrics(run_id, timestamp)")
    run_id = "6f1c1f7e-3d9b-4c53-9d1e-0a4f2c9b8e11"
    buffer = []
    start = time.perf_counter()
    for step in range(CALLS):
        x = step * 1e-6
        now = time.time()
        for key, value in zip(KEYS, (x, 1 - x, x * 2, 0.001)):
            buffer.append((run_id, key, step, value, now))
            if len(buffer) >= 100:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    "INSERT INTO metrics (run_id, key, step, value, timestamp) VALUES (?, ?, ?, ?, ?)", buffer
                )
                conn.execute("COMMIT")
                buffer.clear()
    elapsed = time.perf_counter() - start
    conn.close()
    return CALLS * len(KEYS) / elapsed


def measure(runs: int) -> dict:
    ours, ours_cpu, base = [], [], []
    for _ in range(runs):
        wall, cpu = stonks_ingest()
        ours.append(wall)
        ours_cpu.append(cpu)
        base.append(original_layout_ingest())
    return {"stonks_pps": median(ours), "stonks_pps_cpu": median(ours_cpu), "baseline_pps": median(base), "runs": runs}


if __name__ == "__main__":
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
