"""A run: the API a training script calls (``stonks.start_run()`` returns one).

``log()`` validates and appends one tuple to an in-memory deque; it never touches the disk.
The run's writer (``_writer``) writes what is queued from its own thread; ``_values`` cleans
what users pass; ``_hooks`` finishes unfinished runs at interpreter exit (see docs/python.md
for the exit-status rules) and forgets them in a forked child.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from operator import index as _as_index
from time import time as _now

from . import MAX_KEY_LENGTH, _db, _hooks, _log, _provenance, _store
from ._errors import InvalidConfigError, InvalidMetricError, RunError, RunNotFoundError, StonksError, WriteError
from ._log import warn
from ._values import (
    MAX_STEP,
    config_dict,
    env_seconds,
    is_tag_list,
    jsonable,
    optional_str,
    repaired,
    resume_target,
    to_float,
    well_formed,
)
from ._writer import FLUSH_AT_POINTS, Writer, file_identity

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any

    from ._hardware import Sampler
    from ._ship import Shipper

FINISH_STATUSES = ("completed", "failed", "interrupted")


class Run:
    """One execution of a training script. Create it with ``stonks.start_run()``."""

    def __init__(
        self,
        experiment: str,
        config: Mapping[str, Any] | None = None,
        db: str | None = None,
        run_name: str | None = None,
        strict: bool = False,
        *,
        tags: list[str] | None = None,
        group: str | None = None,
        job_type: str | None = None,
        notes: str | None = None,
        resume: bool | str | None = None,
        id: str | None = None,
        project: str | None = None,
        prefix: str = "",
        hardware: bool = False,
        hardware_interval: float = 5.0,
        hardware_gpu: bool = True,
        token: str | None = None,
    ) -> None:
        if not isinstance(experiment, str) or not experiment:
            raise StonksError("experiment must be a non-empty string naming the experiment, e.g. 'resnet-cifar10'.")
        if tags is not None and not is_tag_list(tags):
            raise StonksError("tags must be a list of non-empty strings, e.g. tags=['baseline', 'fp16'].")
        if resume is not None and not isinstance(resume, bool) and (not isinstance(resume, str) or not resume):
            raise StonksError('resume must be True, "must", "latest" or a run id.')
        if id is not None and (not isinstance(id, str) or not id):
            raise StonksError("id must be a non-empty string (the id of the new run, or of the run to resume).")
        if project is not None and (not isinstance(project, str) or not project):
            raise StonksError("project must be a non-empty string naming the project, or None.")
        if not isinstance(prefix, str):
            raise StonksError(f"prefix must be a string, not {type(prefix).__name__}.")
        if token is not None and not isinstance(token, str):
            raise StonksError(f"token must be a string (the server's access token), not {type(token).__name__}.")
        self.strict: bool = bool(strict)
        self._warned: set[tuple[str, str]] = set()
        report = self._config_problem
        target = _db.resolve_target(db)
        #: The server URL this run logs to (remote mode), or None when it logs to a file.
        self.server: str | None = None
        self._token: str | None = None
        self._shipper: Shipper | None = None
        # Set by the shipper in strict mode while more points wait for the server than the spool limit.
        self._spool_full = False
        if _db.is_remote(target):
            from . import _ship

            self.server = _ship.normalize_url(target)
            self._token = token if token is not None else os.environ.get("STONKS_TOKEN") or None
            target = _ship.spool_path(self.server)
        #: The database file this run writes to (in remote mode: the spool file of the server).
        self.db: str = target
        self.experiment: str = repaired(experiment, "experiment name", report)
        self._id: str | None = None
        self._experiment_id: str | None = None
        self._name: str | None = self._text(optional_str(run_name, "run_name"), "run name")
        self._project: str | None = self._text(project, "project name")
        #: None before start(), "running", then the status finish() recorded.
        self.status: str | None = None
        self._config = config_dict(config, report)
        self._tags = list(dict.fromkeys(repaired(tag, "tag", report) for tag in tags or []))
        self._group = self._text(optional_str(group, "group"), "group")
        self._job_type = self._text(optional_str(job_type, "job_type"), "job type")
        self._notes = self._text(optional_str(notes, "notes"), "notes")
        if isinstance(resume, str):
            resume = self._text(resume, "resume id")
        self._resume = resume_target(resume, self._text(id, "run id"))
        # Every key log() receives is stored as prefix/key (the original stonks' prefix=).
        self._prefix = repaired(prefix, "prefix", report) + "/" if prefix else ""
        # (interval seconds, sample GPUs) of the system-metrics sampler; None without hardware=True.
        self._hardware: tuple[float, bool] | None = None
        if hardware:
            from ._hardware import check_interval

            self._hardware = (check_interval(hardware_interval), bool(hardware_gpu))
        self._sampler: Sampler | None = None

        self._writer = Writer(self)
        # The writer's queue and wake-up event, one attribute lookup away for log().
        self._queue = self._writer.queue
        self._wake = self._writer.wake
        # Keys of log() calls that passed every check, mapped to the keys they are stored under.
        self._known_keys: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._step = 0
        self._accepting = False
        self._started = False
        self._finished = False
        self._forked = False
        self._disabled = False

    def __repr__(self) -> str:
        return f"<stonks.Run id={self.id} experiment={self.experiment!r} name={self.name!r} status={self.status}>"

    @property
    def id(self) -> str | None:
        """Run id (a UUID string unless ``id=`` chose it); None until the run is started."""
        return self._id

    @property
    def experiment_id(self) -> str | None:
        """The experiment's id; None until the run is started."""
        return self._experiment_id

    @property
    def name(self) -> str | None:
        return self._name

    @property
    def project(self) -> str | None:
        """The name of the experiment's project once started (an experiment keeps the project it
        was created with); before, the ``project`` passed."""
        return self._project

    @property
    def group(self) -> str | None:
        return self._group

    @property
    def job_type(self) -> str | None:
        return self._job_type

    @property
    def notes(self) -> str | None:
        return self._notes

    @property
    def config(self) -> dict[str, Any]:
        """The run's config as stored (initial config merged with every log_config())."""
        return dict(self._config)

    @property
    def tags(self) -> list[str]:
        return list(self._tags)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Run:
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
            if self.server is not None:
                os.makedirs(os.path.dirname(self.db), exist_ok=True)
            conn = _db.connect(self.db)
            conn.text_factory = _store.decode_text
            file = file_identity(self.db)
            try:
                if self.server is not None:
                    from ._ship import ensure_resumable

                    ensure_resumable(conn, self.server, self._token, resume, self.experiment)
                started = _db.run_immediate(conn, lambda: _store.start_run(conn, resume, new))
            except BaseException:
                conn.close()
                raise
        except (StonksError, sqlite3.Error, OSError) as error:
            if self.strict or (isinstance(error, RunNotFoundError) and resume.must):
                if isinstance(error, StonksError):
                    raise
                raise StonksError(f"Cannot create the run in {self.db}: {error}") from None
            # Tracking must not crash training: the run is disabled and says so once.
            self._disabled = True
            _log.logger().error(f"stonks could not start the run, nothing will be logged: {error}")
            return self
        self._id = started.id
        self._experiment_id = started.experiment_id
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
        _hooks.register(self)
        writer = self._writer
        if started.created:
            writer.capture_git(_provenance.cwd())
        if self.server is not None:
            from ._ship import shipper_for

            shipper = self._shipper = shipper_for(self.server, self._token, self.db)
            shipper.register(self)
            writer.after_write = shipper.wake
        writer.start(conn, started.seq, file)
        self._accepting = True
        if self._hardware is not None:
            from ._hardware import Sampler

            self._sampler = Sampler(self._record_sample, *self._hardware).start()
        return self

    def _record_sample(self, step: int, keys: tuple[str, ...], values: tuple[float, ...]) -> None:
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
        writer = self._writer
        writer.stop(status, _now())
        wait_s = env_seconds("STONKS_EXIT_TIMEOUT", _hooks.FINISH_WAIT_S)
        writer.join(wait_s)
        self.status = status
        if writer.is_alive() and not _hooks.exiting():
            unwritten = writer.unwritten()
            message = (
                f"stonks could not record the end of run {self.id} in {self.db} within {wait_s:.0f} s "
                f"({writer.error_pending or 'writes keep failing'}); {unwritten} points are still in memory and "
                "are retried until the process exits."
            )
            if self.strict:
                raise WriteError(message)
            warn(message)
        else:
            _hooks.unregister(self)
            self._ship_now(wait_s)
        if writer.file_lost:
            message = (
                f"stonks discarded {writer.discarded} points of run {self.id}: the database file {self.db} was "
                "removed or replaced while the run was logging."
            )
            if self.strict and writer.file_lost_error is not None:
                writer.file_lost_error = None
                raise WriteError(message)
            warn(message)
        if writer.dropped:
            warn(
                f"stonks dropped {writer.dropped} points of run {self.id}: more than {writer.max_pending} were "
                "waiting for a database that could not be written."
            )

    def _ship_now(self, wait_s: float) -> None:
        """Remote mode: waits (at most ``wait_s``) until what the spool holds is on the server; what a server
        that is away does not take stays in the spool (sent later, or by the next stonks process)."""
        shipper = self._shipper
        if shipper is None:
            return
        if self._finished:
            shipper.unregister(self)
        # finish() tries the server once more even while backing off; flush() only when it answered last time.
        shipper.sync(wait_s, retry_now=self._finished)

    def __enter__(self) -> Run:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status = _hooks.status_for(exc_type, exc)
        try:
            self.finish(status)
        except StonksError as error:
            if exc_type is None:
                raise
            warn(f"stonks could not finish run {self.id} cleanly: {error}")

    # ------------------------------------------------------------------- logging

    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
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

    def _text(self, value: str | None, what: str) -> str | None:
        return None if value is None else repaired(value, what, self._config_problem)

    def _log_checked(self, metrics: Any, step: Any) -> None:
        """The careful path of log(): state checks, coercion, one warning per problem."""
        self._raise_pending_write_error()
        if self._disabled:
            return self._problem("disabled", "", "this run could not be started (see the error above); log() ignored.")
        if self._forked:
            return self._problem(
                "forked",
                "",
                f"run {self.id} was started in another process (before a fork); start a new run in this process. "
                "log() ignored.",
            )
        if self._finished:
            return self._problem("finished", "", f"run {self.id} is finished; log() after finish() is ignored.")
        if not self._started:
            self.start()
        if not isinstance(metrics, dict):
            return self._problem(
                "metrics",
                "",
                f"log() takes a dict of metric name -> number, not {type(metrics).__name__}; call ignored.",
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
                    "step",
                    "",
                    f"step must be a non-negative integer (at most 2**53 - 1), not {requested!r}; call ignored.",
                )
        clean: dict[str, float] = {}
        all_valid = True
        for key, value in metrics.items():
            if not isinstance(key, str) or not key:
                all_valid = False
                self._problem("key", repr(key), f"metric names must be non-empty strings, not {key!r}; value dropped.")
                continue
            full = self._prefix + key if self._prefix else key
            name = well_formed(full)
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
            number = to_float(value)
            if number is None:
                all_valid = False
                self._problem(
                    "value", key, f"metric {key!r} got {value!r}, which is not a finite number; value dropped."
                )
                continue
            clean[str(name)] = number
        if (
            all_valid
            and type(metrics) is dict
            and all(type(k) is str for k in metrics)
            and len(self._known_keys) < 10_000
        ):
            self._known_keys[tuple(metrics)] = tuple(clean)
        self._step = step + 1
        if not clean:
            return
        values = tuple(clean.values())
        queue = self._queue
        queue.append((step, _now(), tuple(clean), values))
        if len(queue) * len(values) >= FLUSH_AT_POINTS and not self._wake.is_set():
            self._wake.set()

    def set_tags(self, tags: list[str]) -> None:
        """Replaces the run's tags; stored at once (the dashboard shows them on its next refresh)."""
        if not is_tag_list(tags):
            return self._problem(
                "tags", "", "set_tags() takes a list of non-empty strings, e.g. ['baseline']; call ignored."
            )
        self._update("tags", list(dict.fromkeys(repaired(tag, "tag", self._config_problem) for tag in tags)))

    def set_notes(self, notes: str | None) -> None:
        """Replaces the run's notes (None clears them); stored at once."""
        if notes is not None and not isinstance(notes, str):
            return self._problem(
                "notes", "", f"set_notes() takes a string or None, not {type(notes).__name__}; call ignored."
            )
        self._update("notes", self._text(notes, "notes"))

    def _update(self, field: str, value: Any) -> None:
        """Sets tags or notes: kept for start() before it, written by the writer and waited for after."""
        self._raise_pending_write_error()
        if self._finished:
            return self._problem(
                "finished", field, f"run {self.id} is finished; set_{field}() after finish() is ignored."
            )
        if field == "tags":
            self._tags = value
        else:
            self._notes = value
        if self._started and not self._forked:
            self._writer.ops.append((field, value))
            self.flush()

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Merges ``config`` into the run's stored config (later keys win)."""
        self._raise_pending_write_error()
        if not isinstance(config, Mapping):
            return self._problem("config", "", f"log_config() takes a dict, not {type(config).__name__}; call ignored.")
        patch = jsonable(config, self._config_problem)
        if self._finished:
            return self._problem(
                "finished", "config", f"run {self.id} is finished; log_config() after finish() is ignored."
            )
        self._config.update(patch)
        if self._started and not self._forked:
            self._writer.ops.append(("config", patch))
            self._wake.set()

    def flush(self) -> None:
        """Blocks until every point logged so far is written to the database (or the write failed)."""
        if self._forked:
            return
        self._raise_pending_write_error()
        if not self._writer.is_alive():
            return
        if self._writer.flush():
            self._raise_pending_write_error()
        if self._shipper is not None:
            self._ship_now(env_seconds("STONKS_EXIT_TIMEOUT", _hooks.FINISH_WAIT_S))
            self._raise_pending_write_error()

    def _raise_pending_write_error(self) -> None:
        if self._spool_full:
            self._raise_spool_full()
        writer = self._writer
        lost = writer.file_lost_error
        if lost is not None and self.strict:
            writer.file_lost_error = None
            raise lost
        error = writer.error_pending
        if error is None or not self.strict:
            return
        writer.error_pending = None
        if self._started and not self._finished and not self._forked:
            self._accepting = True
        raise WriteError(
            f"stonks could not write to {self.db}: {error}. "
            "The points are kept in memory and retried in the background."
        )

    def _raise_spool_full(self) -> None:
        """Strict remote mode: raises while more points wait for the server than the spool limit allows."""
        shipper = self._shipper
        if shipper is not None and shipper.over_limit():
            raise WriteError(
                f"stonks could not send {shipper.unsent} points to {self.server} "
                f"({shipper.unreachable or 'no answer'}), "
                f"more than STONKS_SPOOL_MAX_POINTS={shipper.limit}; they are kept in {self.db} and sent when the "
                "server is back."
            )
        self._spool_full = False
        if self._started and not self._finished and not self._forked and not self._writer.error_pending:
            self._accepting = True
