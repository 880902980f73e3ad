"""The writer of one run: a daemon thread that owns the run's database connection.

``Run.log()`` appends records to ``queue``; the thread moves them into per-key columns and
writes them when 100 points are waiting, every few seconds (which also beats the heartbeat),
on ``flush()`` and at the end. A failed write keeps every point and is retried with backoff.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from array import array
from collections import deque
from functools import partial
from itertools import groupby
from operator import itemgetter
from time import monotonic
from time import time as _now

from . import _db, _provenance, _store
from ._background import Background
from ._errors import WriteError
from ._log import warn
from ._values import env_seconds, to_float

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._run import Run

    # (step, wall time, keys, values): one record per log() call; values line up with keys.
    # Only tuples of atomic values, which the garbage collector soon stops tracking.
    Record = tuple[int, float, tuple[str, ...], tuple[float, ...]]

FLUSH_AT_POINTS = 100
# The seed's background timer (STONKS_FLUSH_INTERVAL seconds, as in the TypeScript SDK).
FLUSH_INTERVAL_S = 5.0
# The heartbeat is beaten at least this often (readers call a run stale after 60 s).
HEARTBEAT_INTERVAL_S = 5.0
# Points per write transaction: after a full disk, each freed megabyte lets a batch through
# instead of the whole backlog needing room at once (the TypeScript writer uses the same bound).
MAX_POINTS_PER_TRANSACTION = 50_000
MAX_BACKOFF_S = 30.0
# How often the writer checks that the database path still names the file it opened
# (also at every flush() and finish()).
FILE_CHECK_INTERVAL_S = 1.0
GIT_DELAY_S = 0.1
DEFAULT_MAX_PENDING_POINTS = 5_000_000

_KEYS = itemgetter(2)


def file_identity(path: str) -> tuple[str, int, int] | None:
    """(absolute path, st_dev, st_ino) of a database file; None where there is no file to watch."""
    if path == ":memory:":
        return None
    # Absolute: a later os.chdir() of the training script must not look like a removed file.
    absolute = os.path.abspath(path)
    try:
        found = os.stat(absolute)
    except OSError:
        return None
    return (absolute, found.st_dev, found.st_ino)


class Writer:
    """The writer-thread side of a run. Created with the run; its thread starts with start()."""

    def __init__(self, run: Run) -> None:
        self._run = run
        # Filled by Run.log(), emptied by the thread.
        self.queue: deque[Record] = deque()
        self.wake = threading.Event()
        # ("config", patch), ("tags", list) or ("notes", text): row updates the writer applies in order.
        self.ops: deque[tuple[str, Any]] = deque()

        # Shared between the run's thread and the writer thread.
        self._cond = threading.Condition()
        self._requested = 0
        self._completed = 0
        self._last_attempt_failed = False
        self._stop: tuple[str, float] | None = None
        #: The failure of the last write attempt; strict mode raises it in the run's thread.
        self.error_pending: BaseException | None = None
        # Set by the exit hook: the writer stops retrying, so the count of unwritten points is exact.
        self._abandoned = False
        self._git: tuple[str | None, bool | None] | None = None
        self._git_thread: Background | None = None
        self._git_now = threading.Event()
        self._thread: Background | None = None
        #: Called in the writer thread after each successful write (remote mode: wakes the shipper).
        self.after_write: Callable[[], None] | None = None
        self._conn: sqlite3.Connection | None = None
        self._seq = 0

        # Owned by the writer thread.
        self._pending: dict[str, tuple[list[int], array[float], list[float]]] = {}
        self._pending_count = 0
        self._series_ids: dict[str, int] = {}
        #: Points dropped because more than max_pending were waiting.
        self.dropped = 0
        self._orphaned = False
        # The database file as opened; the writer discards points once the path names another file.
        self._file: tuple[str, int, int] | None = None
        self.file_lost = False
        self.file_lost_error: WriteError | None = None
        #: Points discarded after the database file was removed or replaced.
        self.discarded = 0
        self._tick = min(env_seconds("STONKS_FLUSH_INTERVAL", FLUSH_INTERVAL_S), HEARTBEAT_INTERVAL_S)
        try:
            self.max_pending = int(os.environ.get("STONKS_MAX_PENDING_POINTS", "") or DEFAULT_MAX_PENDING_POINTS)
        except ValueError:
            self.max_pending = DEFAULT_MAX_PENDING_POINTS

    def capture_git(self, directory: str | None) -> None:
        """Reads the git commit and dirty flag of ``directory`` in the background; the writer stores them."""
        self._git_thread = Background(self._capture_git, directory)

    def start(self, conn: sqlite3.Connection, seq: int, file: tuple[str, int, int] | None) -> None:
        """Starts the thread, which writes through ``conn`` (and closes it when it ends)."""
        self._conn = conn
        self._seq = seq
        self._file = file
        self._thread = Background(self._main)

    def is_alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def flush(self) -> bool:
        """Blocks until everything queued so far is written or a write attempt failed; True when it failed."""
        with self._cond:
            self._requested += 1
            wanted = self._requested
        self.wake.set()
        with self._cond:
            while self._completed < wanted and self.is_alive():
                self._cond.wait(1.0)
            return self._last_attempt_failed

    def stop(self, status: str, ended_at: float) -> None:
        """Asks the thread to write everything, record the final status and end."""
        if self._git_thread is not None:
            self._git_now.set()
            self._git_thread.join(_provenance.GIT_TIMEOUT_S + 1.0)
        with self._cond:
            self._stop = (status, ended_at)
            self._requested += 1
        self.wake.set()

    def abandon(self) -> None:
        """Stops retrying (at exit), so that unwritten() is exact once the attempt under way ends."""
        self._abandoned = True
        self.wake.set()

    def _capture_git(self, directory: str | None) -> None:
        # Spawning git costs milliseconds of CPU: keep it off the path to the first durable point.
        self._git_now.wait(GIT_DELAY_S)
        commit, dirty = _provenance.git_state(directory)
        if commit is not None or dirty is not None:
            self._git = (commit, dirty)

    def unwritten(self) -> int:
        return self._pending_count + sum(len(record[3]) for record in list(self.queue))

    def _drain(self) -> None:
        """Moves queued records into per-key columns (writer thread only)."""
        queue = self.queue
        n = len(queue)
        if n == 0:
            return
        pop = queue.popleft
        records = [pop() for _ in range(n)]
        if self.file_lost:
            self.discarded += sum(len(record[3]) for record in records)
            return
        if self._orphaned:
            return
        if self._pending_count >= self.max_pending:
            dropped = sum(len(record[3]) for record in records)
            if not self.dropped:
                warn(
                    f"stonks is dropping points of run {self._run.id}: {self._pending_count} points are waiting for "
                    f"{self._run.db}, which cannot be written (STONKS_MAX_PENDING_POINTS={self.max_pending})."
                )
            self.dropped += dropped
            return
        pending = self._pending
        added = 0
        for keys, group in groupby(records, _KEYS):
            block = list(group)
            steps = [record[0] for record in block]
            times = [record[1] for record in block]
            for key, column in zip(keys, zip(*[record[3] for record in block])):
                entry = pending.get(key)
                if entry is None:
                    entry = pending[key] = ([], array("d"), [])
                try:
                    converted = array("d", column)
                except (TypeError, ValueError, OverflowError):
                    # A value that passed log()'s sum check but is no float after all.
                    kept = [(s, to_float(v), t) for s, v, t in zip(steps, column, times)]
                    kept = [point for point in kept if point[1] is not None]
                    if len(kept) < len(column) and ("value", key) not in self._run._warned:
                        self._run._warned.add(("value", key))
                        warn(f"metric {key!r} got a value that is not a finite number; value dropped.")
                    entry[0].extend(point[0] for point in kept)
                    entry[1].extend(point[1] for point in kept)  # type: ignore[misc]
                    entry[2].extend(point[2] for point in kept)
                    added -= len(column) - len(kept)
                    continue
                entry[0].extend(steps)
                entry[1].extend(converted)
                entry[2].extend(times)
            added += len(block) * len(keys)
        self._pending_count += added

    def _write(self, conn: sqlite3.Connection, stop: tuple[str, float] | None) -> None:
        """Every pending point in transactions of at most MAX_POINTS_PER_TRANSACTION points, each
        committed; config patches, git provenance and the heartbeat or final status ride with the last."""
        ops = list(self.ops)
        git = self._git
        series_ids = self._series_ids
        pending = self._pending
        log_path = self._file[0] if self._file is not None else self._run.db
        while True:
            if self._abandoned:
                return
            # The oldest points of each key first, so a series is always stored in order.
            parts: list[tuple[str, int]] = []
            room = MAX_POINTS_PER_TRANSACTION
            complete = True
            for key, columns in pending.items():
                available = len(columns[0])
                if room <= 0:
                    complete = False
                    break
                taken = min(available, room)
                complete = complete and taken == available
                parts.append((key, taken))
                room -= taken

            try:
                # One attempt: the writer loop retries with backoff.
                _db.run_immediate(conn, partial(self._write_batch, conn, parts, complete, ops, git, stop), attempts=1)
            except BaseException:
                # Series created in the rolled-back transaction are gone.
                series_ids.clear()
                raise
            for key, taken in parts:
                steps, values, times = pending[key]
                if taken == len(steps):
                    del pending[key]
                else:
                    del steps[:taken], values[:taken], times[:taken]
                self._pending_count -= taken
            # The absolute path recorded at start: a later os.chdir() must not hide the log from the check.
            _db.checkpoint_if_large(conn, log_path)
            if complete:
                break
        self._pending_count = 0
        for _ in ops:
            self.ops.popleft()
        if git is not None and self._git is git:
            self._git = None

    def _write_batch(
        self,
        conn: sqlite3.Connection,
        parts: list[tuple[str, int]],
        complete: bool,
        ops: list[tuple[str, Any]],
        git: tuple[str | None, bool | None] | None,
        stop: tuple[str, float] | None,
    ) -> None:
        """One write transaction's statements: the first ``taken`` points of each key in ``parts``;
        when the batch ``complete``s the backlog, also the row updates, git state and heartbeat or end."""
        seq = self._seq
        pending = self._pending
        series_ids = self._series_ids
        for key, taken in parts:
            steps, values, times = pending[key]
            series_id = series_ids.get(key)
            if series_id is None:
                series_id = series_ids[key] = _store.ensure_series(conn, seq, key)
            if taken == len(steps):
                _store.append_points(conn, series_id, steps, values, times)
            else:
                _store.append_points(conn, series_id, steps[:taken], values[:taken], times[:taken])
        if not complete:
            return
        for field, value in ops:
            if field == "config":
                _store.merge_run_config(conn, seq, value)
            else:
                _store.set_run_field(conn, seq, field, value)
        if git is not None:
            _store.set_git(conn, seq, git[0], git[1])
        if stop is not None:
            _store.finish_run(conn, seq, stop[0], stop[1])
        else:
            _store.touch_heartbeat(conn, seq, _now())

    def _discard_orphaned(self, conn: sqlite3.Connection) -> bool:
        """True (and drops everything) when the run's row was deleted by someone else."""
        try:
            if _store.run_exists(conn, self._seq):
                return False
        except sqlite3.Error:
            return False
        if not self._orphaned:
            run = self._run
            warn(f"run {run.id} was deleted from {run.db} while it was running; its new points are discarded.")
        self._orphaned = True
        self._pending.clear()
        self._pending_count = 0
        self.ops.clear()
        self._git = None
        return True

    def _check_file(self) -> None:
        """Notices (once) that the database path was removed or now names another file.

        SQLite would go on writing into the open, unlinked file, and every point would be lost
        without a word; from now on the run's points are discarded and counted instead.
        """
        opened = self._file
        if opened is None or self.file_lost:
            return
        try:
            found = os.stat(opened[0])
        except (FileNotFoundError, NotADirectoryError):
            found = None
        except OSError:
            return
        if found is not None and (found.st_dev, found.st_ino) == opened[1:]:
            return
        message = (
            f"the database file {self._run.db} was removed or replaced while run {self._run.id} was logging; "
            "the points logged after this are discarded"
        )
        self.file_lost = True
        self.file_lost_error = WriteError(message + ".")
        self.discarded += self._pending_count
        self._pending.clear()
        self._pending_count = 0
        self.ops.clear()
        self._git = None
        if self._run.strict:
            self._run._accepting = False
        warn(message + ".")

    def _main(self) -> None:
        conn = self._conn
        assert conn is not None
        next_tick = monotonic() + self._tick
        next_file_check = monotonic() + FILE_CHECK_INTERVAL_S
        retry_at = 0.0
        failures = 0
        try:
            while True:
                # While writes fail the next attempt is the only deadline: the tick is then in the
                # past, and waiting for it would be no wait at all (a busy loop).
                wait = (retry_at if failures else next_tick) - monotonic()
                if wait > 0:
                    self.wake.wait(wait)
                self.wake.clear()
                if self._abandoned:
                    return
                with self._cond:
                    requested = self._requested
                    stop = self._stop
                explicit = requested > self._completed
                self._drain()
                now = monotonic()
                if not explicit:
                    if failures and now < retry_at:
                        continue
                    if not failures and now < next_tick and self._pending_count < FLUSH_AT_POINTS and not self.ops:
                        continue
                if explicit or now >= next_file_check:
                    next_file_check = now + FILE_CHECK_INTERVAL_S
                    self._check_file()
                if self._orphaned or self.file_lost:
                    ok = True
                else:
                    try:
                        self._write(conn, stop)
                        ok = True
                        if self.after_write is not None:
                            self.after_write()
                    except Exception as error:
                        ok = isinstance(error, sqlite3.IntegrityError) and self._discard_orphaned(conn)
                        if not ok:
                            failures += 1
                            retry_at = monotonic() + min(MAX_BACKOFF_S, 0.1 * 2 ** min(failures - 1, 10))
                            self._record_failure(error, failures)
                if ok:
                    if failures:
                        warn(
                            f"stonks wrote the buffered points of run {self._run.id} after {failures} failed attempts."
                        )
                    failures = 0
                    self.error_pending = None
                    next_tick = monotonic() + self._tick
                with self._cond:
                    self._completed = requested
                    self._last_attempt_failed = not ok
                    self._cond.notify_all()
                if ok and stop is not None and not self.queue:
                    return
        finally:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def _record_failure(self, error: BaseException, failures: int) -> None:
        self.error_pending = error
        run = self._run
        if run.strict:
            run._accepting = False
        if failures == 1:
            warn(
                f"stonks could not write {self._pending_count} points of run {run.id} to {run.db} ({error}); "
                "they are kept in memory and retried."
            )
