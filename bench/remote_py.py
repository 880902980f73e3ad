"""Python SDK remote mode against local-file mode, in the same run.

Run: npm run build && python3 bench/remote_py.py [runs] [--write]   (--write: bench/RESULTS.md block "remote-py")
1. log() cost with 4 metrics (CPU time of the calling thread, queue emptied between batches of
   1,000 calls, as bench/py_log_call.py measures it): a run logging to a server vs to a file.
2. One process, log() of 4 metrics per call until flush() returned, which in remote mode means
   every point is durable on the server (`stonks serve` on 127.0.0.1, its own SQLite file): points/s.
"""

from __future__ import annotations

import gc
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from py_common import HEADER, REPO, machine, median, row, scratch_db, write_results_block

import stonks

CALLS = 100_000
INGEST_CALLS = 100_000
KEYS = ("train/loss", "train/acc", "val/loss", "lr")


def start_server() -> tuple[subprocess.Popen[str], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    node = shutil.which("node") or "node"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    server = subprocess.Popen(
        [node, str(REPO / "dist" / "cli" / "main.js"), "serve", "--db", scratch_db("server.db"), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and "stonks is serving" in server.stdout.readline()
    return server, f"http://127.0.0.1:{port}"


def log_alone(db: str) -> float:
    """ns per log() call in the calling thread (see bench/py_log_call.py)."""
    run = stonks.start_run("bench-log", db=db).start()
    metrics = {"train/loss": 0.5, "train/acc": 0.9, "val/loss": 0.6, "lr": 0.001}
    run.log(metrics)
    run.flush()
    run._wake = threading.Event()
    gc.collect()
    elapsed = 0.0
    for _ in range(CALLS // 1000):
        start = time.thread_time()
        for _ in range(1000):
            run.log(metrics)
        elapsed += time.thread_time() - start
        run._queue.clear()
    start = time.thread_time()
    for _ in range(CALLS):
        pass
    elapsed -= time.thread_time() - start
    run.finish()
    return elapsed / CALLS * 1e9


def ingest(db: str) -> float:
    """Points/s from the first log() until flush() returned (remote: durable on the server)."""
    run = stonks.start_run("bench-ingest", db=db).start()
    start = time.perf_counter()
    for step in range(INGEST_CALLS):
        x = step * 1e-6
        run.log({"train/loss": x, "train/acc": 1 - x, "val/loss": x * 2, "lr": 0.001})
    run.flush()
    elapsed = time.perf_counter() - start
    run.finish()
    return INGEST_CALLS * len(KEYS) / elapsed


def measure(runs: int) -> dict[str, float]:
    os.environ["STONKS_SPOOL_DIR"] = tempfile.mkdtemp(prefix="stonks-bench-spool-")
    server, url = start_server()
    try:
        results: dict[str, list[float]] = {"log_local": [], "log_remote": [], "ingest_local": [], "ingest_remote": []}
        for _ in range(runs):
            # Interleaved, so both modes see the same load on this shared machine.
            results["log_local"].append(log_alone(scratch_db()))
            results["log_remote"].append(log_alone(url))
            results["ingest_local"].append(ingest(scratch_db()))
            results["ingest_remote"].append(ingest(url))
        return {name: median(samples) for name, samples in results.items()}
    finally:
        server.terminate()
        server.wait(10)


def section(runs: int) -> str:
    m = measure(runs)
    lines = [
        "### Python SDK: remote mode (bench/remote_py.py)",
        "",
        f"Machine: {machine()}. Median of {runs} runs; each remote run logs to `stonks serve` on 127.0.0.1 "
        "through the spool file, the local run to a file, interleaved in the same process.",
        "",
        *HEADER,
        row(
            "log() of 4 metrics, remote mode (CPU time, calling thread)",
            f"{m['log_remote'] / 1000:.2f} µs",
            "≤ 2 µs, = local",
            f"{m['log_local'] / 1000:.2f} µs (local file)",
            f"{m['log_remote'] / m['log_local']:.2f}×",
        ),
        row(
            f"one process: log() → durable on the server, {INGEST_CALLS * len(KEYS):,} points",
            f"{m['ingest_remote']:,.0f} points/s",
            "",
            f"{m['ingest_local']:,.0f} points/s (log() → durable in a local file)",
            f"{m['ingest_remote'] / m['ingest_local']:.2f}×",
            "flush() returns once the server acknowledged every point",
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    count = next((int(a) for a in sys.argv[1:] if a.isdigit()), 5)
    text = section(count)
    print(text)
    if "--write" in sys.argv:
        write_results_block("remote-py", text)
