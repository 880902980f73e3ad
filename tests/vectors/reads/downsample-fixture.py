"""Writes tests/vectors/reads/downsample-fixture.sqlite, the file the downsampled-read and group vectors
(downsample-reads.json, group-aggregates.json) are read from, through the Python SDK's store layer.

Deterministic: fixed run ids, steps, values and times (no clock, no randomness), so running it
again writes the same points, chunks and rollups (python/tests/test_query_downsample.py checks that
the committed file is what this script writes). Usage: python3 tests/vectors/reads/downsample-fixture.py [OUT]
"""

from __future__ import annotations

import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))

from stonks import _db, _store  # noqa: E402

T0 = 1_700_000_000.0


def noise(i: int) -> float:
    """A fixed pseudo-random number in [0, 1) for index i (a 31-bit LCG step)."""
    return ((i * 1_103_515_245 + 12_345) % 2**31) / 2**31


def series(count: int, step, value, batches: list[int]) -> list[tuple[list[float], list[float], list[float]]]:
    """The points of one series split into appends of the given sizes (the last one takes the rest)."""
    points = [(float(step(i)), float(value(i)), T0 + i * 0.5) for i in range(count)]
    out = []
    at = 0
    for size in [*batches, count]:
        part = points[at : at + size]
        if not part:
            break
        out.append(([p[0] for p in part], [p[1] for p in part], [p[2] for p in part]))
        at += len(part)
    return out


def loss_a(i: int) -> float:
    spikes = {777: 50.0, 12_345: -50.0}
    return spikes.get(i, math.sin(i / 300) + 0.1 * noise(i))


RUNS = {
    "ds-a": {
        # Monotonic, 16,500 points: enough for every rollup level, a partial last bucket, step != index.
        "loss": series(16_500, lambda i: 2 * i + 10, loss_a, [1000, 37, 4096, 63, 5000]),
        # One value throughout: each bucket's min and max are the same point.
        "flat": series(3_000, lambda i: i, lambda i: 1.0, [3_000]),
        # Logged out of order, with repeated steps: read sorted by step, ties in logging order.
        "shuffled": series(2_500, lambda i: (i * 7_919) % 2_000, lambda i: i * 0.01 - noise(i), [700]),
        "short": series(5, lambda i: i, lambda i: [3.0, -1.0, 4.0, 1.0, -5.0][i], [5]),
        "half_steps": series(500, lambda i: i * 0.5, lambda i: math.cos(i / 20), [500]),
    },
    "ds-b": {"loss": series(1_000, lambda i: 20 * i, lambda i: 1.5 + math.sin(i / 40) + noise(i + 7), [1_000])},
    "ds-c": {"loss": series(834, lambda i: 5_000 + 30 * i, lambda i: 0.5 + 0.25 * noise(i + 99), [400])},
    "ds-d": {"other": series(10, lambda i: i, lambda i: float(i), [10])},
}


def write(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    conn = _db.connect(path)
    for number, (run_id, metrics) in enumerate(RUNS.items()):
        now = T0 + number

        def create(run_id: str = run_id, metrics: dict = metrics, now: float = now) -> None:
            row = _store.NewRun("downsample", run_id, {}, [], "seeds", None, None, now, {}, run_id=run_id)
            started = _store.insert_run(conn, row)
            for key, appends in metrics.items():
                series_id = _store.ensure_series(conn, started.seq, key)
                for steps, values, times in appends:
                    _store.append_points(conn, series_id, steps, values, times)
            _store.finish_run(conn, started.seq, "completed", now + 100)

        _db.run_immediate(conn, create)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("VACUUM")
    conn.close()


if __name__ == "__main__":
    write(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "downsample-fixture.sqlite"))
