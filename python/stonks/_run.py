"""A run: the logging path.

``log()`` validates and appends one tuple to an in-memory deque; it never
touches the disk. A daemon thread per run owns the run's database connection
and writes buffered points when 100 are waiting, every few seconds (which also
beats the heartbeat), on ``flush()`` and on ``finish()``. A failed write keeps
every point and is retried with backoff. At interpreter exit every unfinished
run is finished (see docs/python.md for the exit-status rules).
"""

from __future__ import annotations

import _thread
import atexit
import os
import sqlite3
import sys
import threading
from array import array
from collections import deque
from itertools import groupby
from operator import index as _as_index
from operator import itemgetter
from time import monotonic
from time import time as _now
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, List, Mapping, Optional, Set, Tuple, Type, Union

from . import MAX_KEY_LENGTH, _db, _log, _provenance, _store
from ._errors import InvalidConfigError, InvalidMetricError, RunError, RunNotFoundError, StonksError, WriteError
from ._log import warn

if TYPE_CHECKING:
    from ._hardware import Sampler

FLUSH_AT_POINTS = 100
# The seed's background timer (STONKS_FLUSH_INTERVAL seconds, as in the TypeScript SDK).
FLUSH_INTERVAL_S = 5.0
# The heartbeat is beaten at least this often (readers call a run stale after 60 s).
HEARTBEAT_INTERVAL_S = 5.0
# How long finish() waits for a failing final write before handing it to the background.
FINISH_WAIT_S = 60.0
# Points per write transaction: after a full disk, each freed megabyte lets a batch through
# instead of the whole backlog needing room at once (the TypeScript writer uses the same bound).
MAX_POINTS_PER_TRANSACTION = 50_000
# How long the exit hook waits for a write attempt under way before it reports what is not written.
ABANDON_WAIT_S = 2.0
MAX_BACKOFF_S = 30.0
# How often the writer checks that the database path still names the file it opened
# (also at every flush() and finish()).
FILE_CHECK_INTERVAL_S = 1.0
GIT_DELAY_S = 0.1
DEFAULT_MAX_PENDING_POINTS = 5_000_000
MAX_STEP = 2**53 - 1
FINISH_STATUSES = ("completed", "failed", "interrupted")
# Levels of dicts and lists a config keeps (the config itself is level 1).
MAX_CONFIG_DEPTH = 64
CIRCULAR = "[Circular]"
TOO_DEEP = "[Too deep]"

_KEYS = itemgetter(2)
# (step, wall time, keys, values): one record per log() call; values line up with keys.
# Only tuples of atomic values, which the garbage collector soon stops tracking.
Record = Tuple[int, float, Tuple[str, ...], Tuple[float, ...]]
# (kind, detail, problem, what default mode does): a config or text problem; strict mode raises.
Report = Callable[[str, str, str, str], None]


def _well_formed(text: str) -> str:
    """``text`` with every lone surrogate (U+D800..U+DFFF) replaced by U+FFFD; ``text`` itself when it has none.

    A str holding a surrogate cannot be encoded as UTF-8 (SQLite would refuse it); one
    comes from os.fsdecode() of a file name that is not UTF-8, for example.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)
    return text


def _repaired(text: str, what: str, report: Report) -> str:
    fixed = _well_formed(text)
    if fixed is not text:
        report(
            "text",
            f"{what}:{text}",
            f"{what} {text!r} is not valid Unicode (a lone surrogate, e.g. a file name decoded with os.fsdecode)",
            "its invalid characters are stored as U+FFFD",
        )
    return fixed


def _is_complex(value: Any) -> bool:
    """Python complex (and numpy.complex128, its subclass), or a numpy/torch value of a complex dtype."""
    if isinstance(value, complex):
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and (getattr(dtype, "kind", None) == "c" or getattr(dtype, "is_complex", False) is True)


def _to_float(value: Any) -> Optional[float]:
    """The finite float a user meant, or None. Never imports numpy or torch."""
    kind = type(value)
    if kind is float:
        return value if value - value == 0.0 else None
    if isinstance(value, (str, bytes, bytearray)) or value is None or _is_complex(value):
        # A complex number has no one float; its real part alone would be a silent lie.
        return None
    try:
        if hasattr(kind, "__float__") or hasattr(kind, "__index__"):
            # int, bool, numpy scalars, 0-d tensors, Decimal, Fraction...
            result = float(value)
        else:
            item = getattr(value, "item", None)
            if item is None:
                return None
            raw = item()
            if isinstance(raw, (str, bytes, bytearray, complex)) or raw is None:
                return None
            result = float(raw)
    except Exception:
        return None
    return result if result - result == 0.0 else None


def _jsonable(value: Any, report: Report, depth: int = 1, inside: Optional[Set[int]] = None) -> Any:
    """A JSON value for a config entry: numbers stay numbers, arrays become lists, the rest strings.

    ``depth`` is the nesting level of ``value`` (the config itself is 1); ``inside`` holds the
    ids of the containers that enclose it, so a cycle is cut instead of recursing forever.
    """
    kind = type(value)
    if value is None or kind is bool or kind is int:
        return value
    if isinstance(value, str):
        return _repaired(str(value), "config value", report)
    if isinstance(value, float):
        number = float(value)
        return number if number - number == 0.0 else repr(number)
    if isinstance(value, int):
        return int(value)
    is_mapping = isinstance(value, Mapping)
    if is_mapping or isinstance(value, (list, tuple, set, frozenset)):
        if depth > MAX_CONFIG_DEPTH:
            report(
                "too deep",
                "",
                f"the config nests dicts or lists more than {MAX_CONFIG_DEPTH} levels deep",
                f"the deeper value is stored as {TOO_DEEP!r}",
            )
            return TOO_DEEP
        enclosing: Set[int] = set() if inside is None else inside
        if id(value) in enclosing:
            report("circular", "", "the config contains itself (a cycle)", f"the repeated reference is stored as {CIRCULAR!r}")
            return CIRCULAR
        enclosing.add(id(value))
        try:
            if is_mapping:
                return {
                    _repaired(str(k), "config key", report): _jsonable(v, report, depth + 1, enclosing)
                    for k, v in value.items()
                }
            return [_jsonable(v, report, depth + 1, enclosing) for v in value]
        finally:
            enclosing.discard(id(value))
    to_list = getattr(value, "tolist", None)  # numpy scalars and arrays, tensors
    if callable(to_list):
        try:
            listed = to_list()
        except Exception:
            listed = value
        if listed is not value:
            # One level deeper: a tolist() that returns another such object cannot recurse forever.
            return _jsonable(listed, report, depth + 1, inside)
    return _repaired(str(value), "config value", report)


def _config_dict(config: Any, report: Report) -> Dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise StonksError(f"config must be a dict of hyperparameters, not {type(config).__name__}.")
    converted: Dict[str, Any] = _jsonable(config, report)
    return converted


def _file_identity(path: str) -> Optional[Tuple[str, int, int]]:
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


def _env_seconds(name: str, default: float) -> float:
    try:
        seconds = float(os.environ.get(name, "") or default)
    except ValueError:
        return default
    return seconds if 0 < seconds < float("inf") else default


def _optional_str(value: Any, what: str) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    raise StonksError(f"{what} must be a string or None, not {type(value).__name__}.")


def _is_tag_list(tags: Any) -> bool:
    return (
        isinstance(tags, (list, tuple, set, frozenset))
        and all(isinstance(tag, str) and tag for tag in tags)
    )


def _resume_target(resume: Union[None, bool, str], run_id: Optional[str]) -> _store.Resume:
    """What start() opens, from the seed's ``resume`` ("latest" | run id) and the original's
    (``resume=True | "must"`` with an optional ``id``)."""
    if resume is None or resume is False:
        return _store.Resume(run_id, None, any_experiment=False, must=False)
    if resume is True or resume == "must":
        return _store.Resume(run_id, run_id or "latest", any_experiment=run_id is not None, must=resume == "must")
    return _store.Resume(run_id, resume, any_experiment=False, must=False)


class Run:
    """One execution of a training script. Create it with ``stonks.start_run()``."""

    def __init__(
        self,
        experiment: str,
        config: Optional[Mapping[str, Any]] = None,
        db: Optional[str] = None,
        run_name: Optional[str] = None,
        strict: bool = False,
        *,
        tags: Optional[List[str]] = None,
        group: Optional[str] = None,
        job_type: Optional[str] = None,
        notes: Optional[str] = None,
        resume: Union[None, bool, str] = None,
        id: Optional[str] = None,
        project: Optional[str] = None,
        prefix: str = "",
        hardware: bool = False,
        hardware_interval: float = 5.0,
        hardware_gpu: bool = True,
    ) -> None:
        if not isinstance(experiment, str) or not experiment:
            raise StonksError("experiment must be a non-empty string naming the experiment, e.g. 'resnet-cifar10'.")
        if tags is not None and not _is_tag_list(tags):
            raise StonksError("tags must be a list of non-empty strings, e.g. tags=['baseline', 'fp16'].")
        if resume is not None and not isinstance(resume, bool) and (not isinstance(resume, str) or not resume):
            raise StonksError('resume must be True, "must", "latest" or a run id.')
        if id is not None and (not isinstance(id, str) or not id):
            raise StonksError("id must be a non-empty string (the id of the new run, or of the run to resume).")
        if project is not None and (not isinstance(project, str) or not project):
            raise StonksError("project must be a non-empty string naming the project, or None.")
        if not isinstance(prefix, str):
            raise StonksError(f"prefix must be a string, not {type(prefix).__name__}.")
        self.strict: bool = bool(strict)
        self._warned: Set[Tuple[str, str]] = set()
        report = self._config_problem
        #: The database file this run writes to.
        self.db: str = _db.resolve_db_path(db)
        self.experiment: str = _repaired(experiment, "experiment name", report)
        self._id: Optional[str] = None
        self._experiment_id: Optional[str] = None
        self._name: Optional[str] = self._text(_optional_str(run_name, "run_name"), "run name")
        self._project: Optional[str] = self._text(project, "project name")
        #: None before start(), "running", then the status finish() recorded.
        self.status: Optional[str] = None
        self._config = _config_dict(config, report)
        self._tags = list(dict.fromkeys(_repaired(tag, "tag", report) for tag in tags or []))
        self._group = self._text(_optional_str(group, "group"), "group")
        self._job_type = self._text(_optional_str(job_type, "job_type"), "job type")
        self._notes = self._text(_optional_str(notes, "notes"), "notes")
        if isinstance(resume, str):
            resume = self._text(resume, "resume id")
        self._resume = _resume_target(resume, self._text(id, "run id"))
        # Every key log() receives is stored as prefix/key (the original stonks' prefix=).
        self._prefix = _repaired(prefix, "prefix", report) + "/" if prefix else ""
        # (interval seconds, sample GPUs) of the system-metrics sampler; None without hardware=True.
        self._hardware: Optional[Tuple[float, bool]] = None
        if hardware:
            from ._hardware import check_interval

            self._hardware = (check_interval(hardware_interval), bool(hardware_gpu))
        self._sampler: Optional["Sampler"] = None

        self._queue: Deque[Record] = deque()
        # Keys of log() calls that passed every check, mapped to the keys they are stored under.
        self._known_keys: Dict[Tuple[str, ...], Tuple[str, ...]] = {}
        self._step = 0
        self._accepting = False
        self._started = False
        self._finished = False
        self._forked = False
        self._disabled = False

        # Shared with the writer thread.
        self._wake = threading.Event()
        self._cond = threading.Condition()
        self._requested = 0
        self._completed = 0
        self._last_attempt_failed = False
        self._stop: Optional[Tuple[str, float]] = None
        self._error_pending: Optional[BaseException] = None
        # Set by the exit hook: the writer stops retrying, so the count of unwritten points is exact.
        self._abandoned = False
        # ("config", patch), ("tags", list) or ("notes", text): row updates the writer applies in order.
        self._ops: Deque[Tuple[str, Any]] = deque()
        self._git: Optional[Tuple[Optional[str], Optional[bool]]] = None
        self._git_thread: Optional[_Background] = None
        self._git_now = threading.Event()
        self._writer: Optional[_Background] = None
        self._conn: Optional[sqlite3.Connection] = None
        self._seq = 0

        # Owned by the writer thread.
        self._pending: Dict[str, Tuple[List[int], "array[float]", List[float]]] = {}
        self._pending_count = 0
        self._series_ids: Dict[str, int] = {}
        self._dropped = 0
        self._orphaned = False
        # The database file as opened; the writer discards points once the path names another file.
        self._file: Optional[Tuple[str, int, int]] = None
        self._file_lost = False
        self._file_lost_error: Optional[WriteError] = None
        self._discarded = 0
        self._tick = min(_env_seconds("STONKS_FLUSH_INTERVAL", FLUSH_INTERVAL_S), HEARTBEAT_INTERVAL_S)
        try:
            self._max_pending = int(os.environ.get("STONKS_MAX_PENDING_POINTS", "") or DEFAULT_MAX_PENDING_POINTS)
        except ValueError:
            self._max_pending = DEFAULT_MAX_PENDING_POINTS

    def __repr__(self) -> str:
        return f"<stonks.Run id={self.id} experiment={self.experiment!r} name={self.name!r} status={self.status}>"

    @property
    def id(self) -> Optional[str]:
        """Run id (a UUID string unless ``id=`` chose it); None until the run is started."""
        return self._id

    @property
    def experiment_id(self) -> Optional[str]:
        """The experiment's id; None until the run is started."""
        return self._experiment_id

    @property
    def name(self) -> Optional[str]:
        return self._name

    @property
    def project(self) -> Optional[str]:
        """The name of the experiment's project once started (an experiment keeps the project it
        was created with); before, the ``project`` passed."""
        return self._project

    @property
    def group(self) -> Optional[str]:
        return self._group

    @property
    def job_type(self) -> Optional[str]:
        return self._job_type

    @property
    def notes(self) -> Optional[str]:
        return self._notes

    @property
    def config(self) -> Dict[str, Any]:
        """The run's config as stored (initial config merged with every log_config())."""
        return dict(self._config)

    @property
    def tags(self) -> List[str]:
        return list(self._tags)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> "Run":
        """Creates (or resumes) the run in the database with status "running"."""
        if self._started or self._disabled:
            return self
        if self._finished:
            raise RunError("This run was finished; start a new one with stonks.start_run().")
        from . import __version__

        now = _now()
        provenance = _provenance.basic(__version__)
        new = _store.NewRun(
            self.experiment,
            self.name,
            self._config,
            self._tags,
            self._group,
            self._job_type,
            self._notes,
            now,
            provenance,
            self._resume.run_id,
            self._project,
        )
        resume = self._resume
        try:
            conn = _db.connect(self.db)
            conn.text_factory = _store.decode_text
            self._file = _file_identity(self.db)
            try:
                started = _db.run_immediate(conn, lambda: _store.start_run(conn, resume, new))
            except BaseException:
                conn.close()
                raise
        except (StonksError, sqlite3.Error) as error:
            if self.strict or isinstance(error, RunNotFoundError) and resume.must:
                if isinstance(error, StonksError):
                    raise
                raise StonksError(f"Cannot create the run in {self.db}: {error}") from None
            # Tracking must not crash training: the run is disabled and says so once.
            self._disabled = True
            _log.logger().error(f"stonks could not start the run, nothing will be logged: {error}")
            return self
        self._conn = conn
        self._id = started.id
        self._experiment_id = started.experiment_id
        self._seq = started.seq
        self._config = started.config
        self._name = started.name
        self._tags = started.tags
        self._group = started.group
        self._job_type = started.job_type
        self._notes = started.notes
        self._project = started.project
        if started.last_step is not None:
            self._step = int(started.last_step) + 1
        self.status = "running"
        self._started = True
        _register(self)
        if started.created:
            self._git_thread = _Background(self._capture_git, _provenance.cwd())
        self._writer = _Background(self._writer_main)
        self._accepting = True
        if self._hardware is not None:
            from ._hardware import Sampler

            self._sampler = Sampler(self._record_sample, *self._hardware).start()
        return self

    def _record_sample(self, step: int, keys: Tuple[str, ...], values: Tuple[float, ...]) -> None:
        """A system-metrics sample at the sampler's own step: the user's next step stays as it was."""
        if self._accepting:
            self._queue.append((step, _now(), keys, values))

    def finish(self, status: str = "completed") -> None:
        """Writes every buffered point and records the final status (completed, failed or interrupted)."""
        if self._finished:
            return
        if status not in FINISH_STATUSES:
            message = f"finish() takes 'completed', 'failed' or 'interrupted', not {status!r}."
            if self.strict:
                raise StonksError(message)
            warn(message + " The run is marked failed.")
            status = "failed"
        self._finished = True
        self._accepting = False
        if self._sampler is not None:
            self._sampler.stop()
        if not self._started or self._forked:
            return
        if self._git_thread is not None:
            self._git_now.set()
            self._git_thread.join(_provenance.GIT_TIMEOUT_S + 1.0)
        with self._cond:
            self._stop = (status, _now())
            self._requested += 1
        self._wake.set()
        writer = self._writer
        assert writer is not None
        wait_s = _env_seconds("STONKS_EXIT_TIMEOUT", FINISH_WAIT_S)
        writer.join(wait_s)
        self.status = status
        if writer.is_alive() and not _exiting:
            unwritten = self._unwritten()
            message = (
                f"stonks could not record the end of run {self.id} in {self.db} within {wait_s:.0f} s "
                f"({self._error_pending or 'writes keep failing'}); {unwritten} points are still in memory and "
                "are retried until the process exits."
            )
            if self.strict:
                raise WriteError(message)
            warn(message)
        else:
            _unregister(self)
        if self._file_lost:
            message = (
                f"stonks discarded {self._discarded} points of run {self.id}: the database file {self.db} was "
                "removed or replaced while the run was logging."
            )
            if self.strict and self._file_lost_error is not None:
                self._file_lost_error = None
                raise WriteError(message)
            warn(message)
        if self._dropped:
            warn(f"stonks dropped {self._dropped} points of run {self.id}: more than {self._max_pending} were waiting for a database that could not be written.")

    def __enter__(self) -> "Run":
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        status = _status_for(exc_type, exc)
        try:
            self.finish(status)
        except StonksError as error:
            if exc_type is None:
                raise
            warn(f"stonks could not finish run {self.id} cleanly: {error}")

    # ------------------------------------------------------------------- logging

    def log(self, metrics: Mapping[str, Any], step: Optional[int] = None) -> None:
        """Buffers one value per metric key at ``step`` (default: previous step + 1, starting at 0)."""
        if type(metrics) is not dict or not self._accepting:
            return self._log_checked(metrics, step)
        if step is None:
            step = self._step
        elif type(step) is not int or not 0 <= step <= MAX_STEP:
            return self._log_checked(metrics, step)
        keys = tuple(metrics)
        values = tuple(metrics.values())
        # One C-level pass: the sum is a finite float only when every value is a finite
        # int, float or bool (NaN and infinities poison it; other types change its type).
        try:
            total = sum(values, 0.0)
        except Exception:
            return self._log_checked(metrics, step)
        stored = self._known_keys.get(keys)
        if type(total) is not float or total - total != 0.0 or stored is None:
            return self._log_checked(metrics, step)
        self._step = step + 1
        queue = self._queue
        queue.append((step, _now(), stored, values))
        if len(queue) * len(values) >= FLUSH_AT_POINTS and not self._wake.is_set():
            self._wake.set()

    def _problem(self, kind: str, key: str, message: str) -> None:
        if self.strict:
            # Messages read "<problem>; <what default mode does>."; a raise does none of the latter.
            raise InvalidMetricError(message.rsplit("; ", 1)[0] + ".")
        if (kind, key) not in self._warned:
            self._warned.add((kind, key))
            warn(message + " (stonks warns once per key; pass strict=True to raise instead)")

    def _config_problem(self, kind: str, detail: str, problem: str, default_action: str) -> None:
        if self.strict:
            raise InvalidConfigError(problem + ".")
        if (kind, detail) not in self._warned:
            self._warned.add((kind, detail))
            warn(f"{problem}; {default_action}. (stonks warns once per problem; pass strict=True to raise instead)")

    def _text(self, value: Optional[str], what: str) -> Optional[str]:
        return None if value is None else _repaired(value, what, self._config_problem)

    def _log_checked(self, metrics: Any, step: Any) -> None:
        """The careful path of log(): state checks, coercion, one warning per problem."""
        self._raise_pending_write_error()
        if self._disabled:
            return self._problem("disabled", "", "this run could not be started (see the error above); log() ignored.")
        if self._forked:
            return self._problem("forked", "", f"run {self.id} was started in another process (before a fork); start a new run in this process. log() ignored.")
        if self._finished:
            return self._problem("finished", "", f"run {self.id} is finished; log() after finish() is ignored.")
        if not self._started:
            self.start()
        if not isinstance(metrics, dict):
            return self._problem(
                "metrics", "", f"log() takes a dict of metric name -> number, not {type(metrics).__name__}; call ignored."
            )
        if step is None:
            step = self._step
        else:
            requested = step
            try:
                if isinstance(step, bool):
                    raise TypeError
                if isinstance(step, float) and step.is_integer():
                    step = int(step)
                step = _as_index(step)
                if not 0 <= step <= MAX_STEP:
                    raise TypeError
            except TypeError:
                return self._problem(
                    "step", "", f"step must be a non-negative integer (at most 2**53 - 1), not {requested!r}; call ignored."
                )
        clean: Dict[str, float] = {}
        all_valid = True
        for key, value in metrics.items():
            if not isinstance(key, str) or not key:
                all_valid = False
                self._problem("key", repr(key), f"metric names must be non-empty strings, not {key!r}; value dropped.")
                continue
            full = self._prefix + key if self._prefix else key
            name = _well_formed(full)
            if name is not full:
                # Kept off the fast path: every call with such a key is checked again.
                all_valid = False
                self._problem(
                    "key text",
                    key,
                    f"metric key {key!r} is not valid Unicode (a lone surrogate, e.g. a file name decoded with "
                    "os.fsdecode); its invalid characters are stored as U+FFFD.",
                )
            if len(name) > MAX_KEY_LENGTH:
                all_valid = False
                self._problem(
                    "key length",
                    key,
                    f"metric key {name[:60]!r}... is {len(name)} characters long, more than the {MAX_KEY_LENGTH} "
                    "allowed; value dropped.",
                )
                continue
            number = _to_float(value)
            if number is None:
                all_valid = False
                self._problem(
                    "value", key, f"metric {key!r} got {value!r}, which is not a finite number; value dropped."
                )
                continue
            clean[str(name)] = number
        if all_valid and type(metrics) is dict and all(type(k) is str for k in metrics) and len(self._known_keys) < 10_000:
            self._known_keys[tuple(metrics)] = tuple(clean)
        self._step = step + 1
        if not clean:
            return
        values = tuple(clean.values())
        queue = self._queue
        queue.append((step, _now(), tuple(clean), values))
        if len(queue) * len(values) >= FLUSH_AT_POINTS and not self._wake.is_set():
            self._wake.set()

    def set_tags(self, tags: List[str]) -> None:
        """Replaces the run's tags; stored at once (the dashboard shows them on its next refresh)."""
        if not _is_tag_list(tags):
            return self._problem("tags", "", "set_tags() takes a list of non-empty strings, e.g. ['baseline']; call ignored.")
        self._update("tags", list(dict.fromkeys(_repaired(tag, "tag", self._config_problem) for tag in tags)))

    def set_notes(self, notes: Optional[str]) -> None:
        """Replaces the run's notes (None clears them); stored at once."""
        if notes is not None and not isinstance(notes, str):
            return self._problem("notes", "", f"set_notes() takes a string or None, not {type(notes).__name__}; call ignored.")
        self._update("notes", self._text(notes, "notes"))

    def _update(self, field: str, value: Any) -> None:
        """Sets tags or notes: kept for start() before it, written by the writer and waited for after."""
        self._raise_pending_write_error()
        if self._finished:
            return self._problem("finished", field, f"run {self.id} is finished; set_{field}() after finish() is ignored.")
        if field == "tags":
            self._tags = value
        else:
            self._notes = value
        if self._started and not self._forked:
            self._ops.append((field, value))
            self.flush()

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Merges ``config`` into the run's stored config (later keys win)."""
        self._raise_pending_write_error()
        if not isinstance(config, Mapping):
            return self._problem("config", "", f"log_config() takes a dict, not {type(config).__name__}; call ignored.")
        patch = _jsonable(config, self._config_problem)
        if self._finished:
            return self._problem("finished", "config", f"run {self.id} is finished; log_config() after finish() is ignored.")
        self._config.update(patch)
        if self._started and not self._forked:
            self._ops.append(("config", patch))
            self._wake.set()

    def flush(self) -> None:
        """Blocks until every point logged so far is written to the database (or the write failed)."""
        writer = self._writer
        if writer is None or self._forked:
            return
        self._raise_pending_write_error()
        if not writer.is_alive():
            return
        with self._cond:
            self._requested += 1
            wanted = self._requested
        self._wake.set()
        with self._cond:
            while self._completed < wanted and writer.is_alive():
                self._cond.wait(1.0)
            failed = self._last_attempt_failed
        if failed:
            self._raise_pending_write_error()

    def _raise_pending_write_error(self) -> None:
        lost = self._file_lost_error
        if lost is not None and self.strict:
            self._file_lost_error = None
            raise lost
        error = self._error_pending
        if error is None or not self.strict:
            return
        self._error_pending = None
        if self._started and not self._finished and not self._forked:
            self._accepting = True
        raise WriteError(
            f"stonks could not write to {self.db}: {error}. The points are kept in memory and retried in the background."
        )

    # ------------------------------------------------------------ writer thread

    def _capture_git(self, directory: Optional[str]) -> None:
        # Spawning git costs milliseconds of CPU: keep it off the path to the first durable point.
        self._git_now.wait(GIT_DELAY_S)
        commit, dirty = _provenance.git_state(directory)
        if commit is not None or dirty is not None:
            self._git = (commit, dirty)

    def _unwritten(self) -> int:
        return self._pending_count + sum(len(record[3]) for record in list(self._queue))

    def _drain(self) -> None:
        """Moves queued records into per-key columns (writer thread only)."""
        queue = self._queue
        n = len(queue)
        if n == 0:
            return
        pop = queue.popleft
        records = [pop() for _ in range(n)]
        if self._file_lost:
            self._discarded += sum(len(record[3]) for record in records)
            return
        if self._orphaned:
            return
        if self._pending_count >= self._max_pending:
            dropped = sum(len(record[3]) for record in records)
            if not self._dropped:
                warn(
                    f"stonks is dropping points of run {self.id}: {self._pending_count} points are waiting for "
                    f"{self.db}, which cannot be written (STONKS_MAX_PENDING_POINTS={self._max_pending})."
                )
            self._dropped += dropped
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
                    kept = [(s, _to_float(v), t) for s, v, t in zip(steps, column, times)]
                    kept = [point for point in kept if point[1] is not None]
                    if len(kept) < len(column) and ("value", key) not in self._warned:
                        self._warned.add(("value", key))
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

    def _write(self, conn: sqlite3.Connection, stop: Optional[Tuple[str, float]]) -> None:
        """Every pending point in transactions of at most MAX_POINTS_PER_TRANSACTION points, each
        committed; config patches, git provenance and the heartbeat or final status ride with the last."""
        ops = list(self._ops)
        git = self._git
        seq = self._seq
        series_ids = self._series_ids
        pending = self._pending
        log_path = self._file[0] if self._file is not None else self.db
        while True:
            if self._abandoned:
                return
            # The oldest points of each key first, so a series is always stored in order.
            parts: List[Tuple[str, int]] = []
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

            def write() -> None:
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

            try:
                # One attempt: the writer loop retries with backoff.
                _db.run_immediate(conn, write, attempts=1)
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
            self._ops.popleft()
        if git is not None and self._git is git:
            self._git = None

    def _discard_orphaned(self, conn: sqlite3.Connection) -> bool:
        """True (and drops everything) when the run's row was deleted by someone else."""
        try:
            if _store.run_exists(conn, self._seq):
                return False
        except sqlite3.Error:
            return False
        if not self._orphaned:
            warn(f"run {self.id} was deleted from {self.db} while it was running; its new points are discarded.")
        self._orphaned = True
        self._pending.clear()
        self._pending_count = 0
        self._ops.clear()
        self._git = None
        return True

    def _check_file(self) -> None:
        """Notices (once) that the database path was removed or now names another file.

        SQLite would go on writing into the open, unlinked file, and every point would be lost
        without a word; from now on the run's points are discarded and counted instead.
        """
        opened = self._file
        if opened is None or self._file_lost:
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
            f"the database file {self.db} was removed or replaced while run {self.id} was logging; "
            "the points logged after this are discarded"
        )
        self._file_lost = True
        self._file_lost_error = WriteError(message + ".")
        self._discarded += self._pending_count
        self._pending.clear()
        self._pending_count = 0
        self._ops.clear()
        self._git = None
        if self.strict:
            self._accepting = False
        warn(message + ".")

    def _writer_main(self) -> None:
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
                    self._wake.wait(wait)
                self._wake.clear()
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
                    if not failures and now < next_tick and self._pending_count < FLUSH_AT_POINTS and not self._ops:
                        continue
                if explicit or now >= next_file_check:
                    next_file_check = now + FILE_CHECK_INTERVAL_S
                    self._check_file()
                if self._orphaned or self._file_lost:
                    ok = True
                else:
                    try:
                        self._write(conn, stop)
                        ok = True
                    except Exception as error:
                        ok = isinstance(error, sqlite3.IntegrityError) and self._discard_orphaned(conn)
                        if not ok:
                            failures += 1
                            retry_at = monotonic() + min(MAX_BACKOFF_S, 0.1 * 2 ** min(failures - 1, 10))
                            self._record_failure(error, failures)
                if ok:
                    if failures:
                        warn(f"stonks wrote the buffered points of run {self.id} after {failures} failed attempts.")
                    failures = 0
                    self._error_pending = None
                    next_tick = monotonic() + self._tick
                with self._cond:
                    self._completed = requested
                    self._last_attempt_failed = not ok
                    self._cond.notify_all()
                if ok and stop is not None and not self._queue:
                    return
        finally:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def _record_failure(self, error: BaseException, failures: int) -> None:
        self._error_pending = error
        if self.strict:
            self._accepting = False
        if failures == 1:
            warn(
                f"stonks could not write {self._pending_count} points of run {self.id} to {self.db} ({error}); "
                "they are kept in memory and retried."
            )


def _signal_module() -> Any:
    """The signal functions; the C module when ``signal`` (whose enums cost milliseconds) is not loaded yet."""
    loaded = sys.modules.get("signal")
    if loaded is not None:
        return loaded
    import importlib

    return importlib.import_module("_signal")


class _Background:
    """A daemon thread. Unlike threading.Thread.start(), starting it does not wait until it runs."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        self._done = threading.Event()

        def main() -> None:
            try:
                target(*args)
            finally:
                self._done.set()

        # The kernel may deliver a process signal to any thread that does not block it; one
        # delivered to a background thread would not interrupt a main thread sleeping in C
        # code, and Ctrl-C or SIGTERM would wait until that sleep ends. A new thread inherits
        # the signal mask of the thread starting it: block SIGINT and SIGTERM around the
        # start so the thread is born unable to receive them.
        signal = _signal_module()
        masked = hasattr(signal, "pthread_sigmask")
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM}) if masked else None
        try:
            _thread.start_new_thread(main, ())
        finally:
            if previous is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def is_alive(self) -> bool:
        return not self._done.is_set()

    def join(self, timeout: Optional[float] = None) -> None:
        self._done.wait(timeout)


def _status_for(exc_type: Optional[Type[BaseException]], exc: Optional[BaseException]) -> str:
    """The status a run gets when its with-block ends this way."""
    if exc_type is None:
        return "completed"
    if issubclass(exc_type, KeyboardInterrupt):
        return "interrupted"
    if issubclass(exc_type, SystemExit):
        if _terminated:
            return "interrupted"
        code = getattr(exc, "code", None)
        return "completed" if code is None or code == 0 else "failed"
    return "failed"


# ------------------------------------------------------------- process exit

_active: Dict[int, Run] = {}
_hooks_installed = False
_uncaught: Optional[Type[BaseException]] = None
_terminated = False
# Set while the atexit hook runs: finish() then leaves the count of unwritten points to it.
_exiting = False


def _register(run: Run) -> None:
    _install_hooks()
    _active[id(run)] = run


def _unregister(run: Run) -> None:
    _active.pop(id(run), None)


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_finish_at_exit)
    previous = sys.excepthook

    def excepthook(exc_type: Type[BaseException], exc: BaseException, tb: Optional[TracebackType]) -> None:
        global _uncaught
        _uncaught = exc_type
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook
    if threading.current_thread() is threading.main_thread():
        signal = _signal_module()
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_forget_runs_in_child)


def _on_sigterm(signum: int, frame: Any) -> None:
    global _terminated
    signal = _signal_module()
    if not _active:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    _terminated = True
    # Unwinds the main thread so with-blocks and atexit record "interrupted" and write every point.
    raise SystemExit(128 + signum)


def _forget_runs_in_child() -> None:
    for run in _active.values():
        run._forked = True
        run._accepting = False
    _active.clear()


def exit_status() -> str:
    """The status an unfinished run gets at interpreter exit."""
    if _terminated:
        return "interrupted"
    if _uncaught is not None:
        return "interrupted" if issubclass(_uncaught, KeyboardInterrupt) else "failed"
    return "completed"


def _finish_at_exit() -> None:
    global _exiting
    _exiting = True
    status = exit_status()
    for run in list(_active.values()):
        try:
            if run._finished:
                writer = run._writer
                if writer is not None:
                    writer.join(_env_seconds("STONKS_EXIT_TIMEOUT", FINISH_WAIT_S))
            else:
                run.finish(status)
        except Exception as error:
            warn(f"stonks could not finish run {run.id} at exit: {error}")
        _report_unwritten(run)


def _report_unwritten(run: Run) -> None:
    """Stops a writer that is still retrying at exit and says exactly what it could not write."""
    writer = run._writer
    if writer is None or not writer.is_alive():
        return
    run._abandoned = True
    run._wake.set()
    # An attempt under way ends by itself (a full disk fails at once; a lock waits out the busy timeout).
    writer.join(ABANDON_WAIT_S)
    stopped = "" if not writer.is_alive() else "at least "
    warn(f"not written: {stopped}{run._unwritten()} points of run {run.id} ({run.db})")
