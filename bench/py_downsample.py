"""The Python downsampled read beside the TypeScript one, on the same file in the same run.

Run: npm run build && python3 bench/py_downsample.py [runs] [--write]
One run, one key, 1,000,000 points (written through the Python store layer); reads of 1,000
buckets (max_points 2000) over the whole series and over a zoomed window of 100,000 points.
Python: Database.get_metrics(max_points=2000[, step_range]); TypeScript (dist/, a node child
process, same file): getSeries with maxPoints 2000. Both must return the same points, which this
checks before timing. Baseline: Python reading every point (get_metrics without max_points).
Medians of `runs` repetitions (default 21) on a warm connection.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from typing import Callable

from py_common import REPO, machine, median, scratch_db, write_results_block

import stonks
from stonks import _db, _store

POINTS = 1_000_000
MAX_POINTS = 2_000
KEY = "train/loss"
ZOOM = (450_000, 549_999)
BLOCK = "py-downsample"

TS_READ = """
import { open } from "./dist/index.js";
const [path, runId, key, maxPoints, lo, hi, runs] = process.argv.slice(1);
const db = open(path);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const read = (range) => db.getSeries([{ runId, key }], { maxPoints: Number(maxPoints), ...range })[0];
const out = {};
for (const [name, range] of [["full", {}], ["zoom", { minStep: Number(lo), maxStep: Number(hi) }]]) {
  const first = read(range);
  const times = [];
  for (let r = 0; r < Number(runs); r++) {
    const t0 = performance.now();
    read(range);
    times.push(performance.now() - t0);
  }
  out[name] = { ms: median(times), steps: Array.from(first.steps), values: Array.from(first.values) };
}
db.close();
console.log(JSON.stringify(out));
"""


def write_series(path: str) -> str:
    conn = _db.connect(path)
    run_id = "bench-downsample"

    def create() -> None:
        run = _store.NewRun("bench-downsample", None, {}, [], None, None, None, 1.7e9, {}, run_id=run_id)
        started = _store.insert_run(conn, run)
        series_id = _store.ensure_series(conn, started.seq, KEY)
        batch = 100_000
        for start in range(0, POINTS, batch):
            steps = list(range(start, start + batch))
            values = [math.sin(i / 5_000) + (50.0 if i == 777_777 else 0.0) for i in steps]
            _store.append_points(conn, series_id, steps, values, [1.7e9 + i * 0.01 for i in steps])

    _db.run_immediate(conn, create)
    conn.close()
    return run_id


def timed(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return median(samples)


def main(runs: int, write: bool) -> None:
    path = scratch_db()
    written = time.perf_counter()
    run_id = write_series(path)
    written = time.perf_counter() - written
    windows = {"full": None, "zoom": ZOOM}
    py = {}
    with stonks.open(path) as db:
        for name, window in windows.items():
            result = db.get_metrics(run_id, KEY, max_points=MAX_POINTS, step_range=window)
            ms = timed(
                lambda window=window: db.get_metrics(run_id, KEY, max_points=MAX_POINTS, step_range=window), runs
            )
            py[name] = {"ms": ms, "steps": result.steps, "values": result.values, "total": result.total_points}
        every = timed(lambda: db.get_metrics(run_id, KEY), max(3, runs // 4))
    ts_done = subprocess.run(
        ["node", "--input-type=module", "-e", TS_READ, path, run_id, KEY, str(MAX_POINTS), *map(str, ZOOM), str(runs)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    ts = json.loads(ts_done.stdout)
    for name in windows:
        if (ts[name]["steps"], ts[name]["values"]) != (py[name]["steps"], py[name]["values"]):
            raise SystemExit(f"the {name} read differs between Python and TypeScript")
    node_version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        "### Downsampled reads: Python beside TypeScript",
        "",
        f"Command: `npm run build && python3 bench/py_downsample.py {runs} --write`. "
        f"Machine: {machine()}, Node {node_version}; "
        f"load average {load} (1/5/15 min) at the end: other work shared the cores. One run, one key, "
        f"{POINTS:,} points (written in {written:.1f} s through the Python store layer). 1,000 buckets "
        f"(max_points 2000) over the whole series and over steps {ZOOM[0]:,} to {ZOOM[1]:,} "
        f"({py['zoom']['total']:,} points). Python `Database.get_metrics(max_points=2000, step_range=...)` and "
        "TypeScript `getSeries` (dist/, a node child process) on the same file in the same run; both returned "
        f"the same points ({len(py['full']['steps'])} and {len(py['zoom']['steps'])}). Medians of {runs} reads "
        "on a warm connection. Baseline: Python reading every point (`get_metrics` without max_points).",
        "",
        "| measurement | Python (median) | TypeScript (median) | Python every point | note |",
        "|---|---|---|---|---|",
        f"| downsampled read, whole series, 1,000 buckets | {py['full']['ms']:.2f} ms | {ts['full']['ms']:.2f} ms "
        f"| {every:.0f} ms | {every / py['full']['ms']:.0f}\u00d7 faster than every point |",
        f"| downsampled read, zoomed ({py['zoom']['total']:,} points), 1,000 buckets | {py['zoom']['ms']:.2f} ms "
        f"| {ts['zoom']['ms']:.2f} ms |  | level-6 rollups, raw points at the window's ends |",
    ]
    markdown = "\n".join(lines)
    print(markdown)
    if write:
        write_results_block(BLOCK, markdown)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--write"]
    main(int(args[0]) if args else 21, "--write" in sys.argv[1:])
