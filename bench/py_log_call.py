"""Cost of one run.log() call with 4 metrics.

Run: python3 bench/py_log_call.py [runs] [prefix]   (prefix: start the run with prefix=, the original stonks' key prefix)
Two numbers, both CPU time (this machine is shared; wall time would count other jobs):
log() alone, in the calling thread (the writer thread kept idle; the queue emptied between
batches of 1,000 calls, untimed, as the writer does), and the CPU time of the whole process
per call for a loop that logs continuously until flush() returns, the writer thread storing
everything (its Python work holds the GIL, so it is the real cost to a training loop).
"""

from __future__ import annotations

import gc
import sys
import threading
import time

from py_common import median, scratch_db

import stonks

CALLS = 100_000
PREFIX = sys.argv[2] if len(sys.argv) > 2 else ""


def loop_cost(calls: int) -> float:
    start = time.thread_time()
    for _ in range(calls):
        pass
    return time.thread_time() - start


def log_alone() -> float:
    run = stonks.start_run("bench-log", db=scratch_db(), prefix=PREFIX).start()
    metrics = {"train/loss": 0.5, "train/acc": 0.9, "val/loss": 0.6, "lr": 0.001}
    run.log(metrics)
    run.flush()
    # The writer waits on the old event until its timer: log() runs alone, as between flushes.
    run._wake = threading.Event()
    gc.collect()
    elapsed = 0.0
    # Batches of 1,000 calls, the queue emptied between them (untimed), as the writer would:
    # a queue left to grow to 100,000 records would time page faults, not log().
    for _ in range(CALLS // 1000):
        start = time.thread_time()
        for _ in range(1000):
            run.log(metrics)
        elapsed += time.thread_time() - start
        run._queue.clear()
    elapsed -= loop_cost(CALLS)
    run.finish()
    return elapsed / CALLS * 1e9


def log_with_writer() -> float:
    run = stonks.start_run("bench-log", db=scratch_db(), prefix=PREFIX).start()
    metrics = {"train/loss": 0.5, "train/acc": 0.9, "val/loss": 0.6, "lr": 0.001}
    run.log(metrics)
    run.flush()
    start = time.process_time()
    for _ in range(CALLS):
        run.log(metrics)
    run.flush()
    elapsed = time.process_time() - start - loop_cost(CALLS)
    run.finish()
    return elapsed / CALLS * 1e9


def measure(runs: int) -> dict:
    alone = [log_alone() for _ in range(runs)]
    busy = [log_with_writer() for _ in range(runs)]
    return {"alone_ns": median(alone), "with_writer_ns": median(busy), "runs": runs}


if __name__ == "__main__":
    result = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
    print(result)
