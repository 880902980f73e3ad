"""wandb's client API on stonks: change ``import wandb`` to ``import stonks.compat.wandb as wandb``.

``init`` starts a stonks run (project -> experiment, name, config, group, job_type, tags, notes, id,
resume); ``log`` keeps wandb's step rules (an implicit step advances when a row is committed,
``commit=False`` adds to the same row, an explicit lower step is ignored); ``config`` and
``summary`` behave as in wandb; ``define_metric(..., step_metric=...)`` logs the step metric's last
value with every row of the metrics it names, so the dashboard can chart them against it. What
stonks has no place for (media, tables, artifacts, ``watch``, ``save``, ``alert``...) warns once
and does nothing. docs/migrating.md lists what maps to what.

The database: ``STONKS_DB``, else ``stonks.db`` in ``init(dir=...)``, else ``./stonks.db``.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator, Mapping, MutableMapping
from fnmatch import fnmatchcase

from .. import start_run
from .._hooks import status_for
from .._log import warn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, Callable

    from .._run import Run as StonksRun

__all__ = [
    "Artifact",
    "Audio",
    "Config",
    "Histogram",
    "Html",
    "Image",
    "Molecule",
    "Object3D",
    "Plotly",
    "Run",
    "Settings",
    "Summary",
    "Table",
    "Video",
    "alert",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "log_artifact",
    "login",
    "run",
    "save",
    "summary",
    "unwatch",
    "use_artifact",
    "watch",
]

_warned: set[str] = set()


def _warn_once(what: str) -> None:
    if what not in _warned:
        _warned.add(what)
        warn(f"{what} is not supported by stonks.compat.wandb; ignored. (stonks warns once)")


class _AttrDict(MutableMapping[str, "Any"]):
    """A dict with attribute access whose writes go through ``_store`` (wandb's config and summary)."""

    _what = "this dict"

    def __init__(self, values: Mapping[str, Any] | None, run: StonksRun | None) -> None:
        object.__setattr__(self, "_values", dict(values or {}))
        object.__setattr__(self, "_run", run)

    def _store(self, patch: dict[str, Any]) -> None:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._store({key: value})

    def __delitem__(self, key: str) -> None:
        del self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"{self._what} has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._store({name: value})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._values!r})"


class Config(_AttrDict):
    """``wandb.config``: item and attribute access; every change is merged into the stonks run's config."""

    _what = "wandb.config"

    def __init__(self, values: Mapping[str, Any] | None = None, run: StonksRun | None = None) -> None:
        super().__init__(values, run)

    def _store(self, patch: dict[str, Any]) -> None:
        self._values.update(patch)
        if self._run is not None and patch:
            self._run.log_config(patch)

    def update(self, values: Any = None, allow_val_change: bool | None = None, **more: Any) -> None:  # type: ignore[override]
        """Merges a dict, an ``argparse.Namespace`` (or any object with attributes) and keyword arguments."""
        self._store({**_as_dict(values), **more})

    def setdefaults(self, values: Any) -> None:
        """Sets the keys of ``values`` that the config does not have yet."""
        self._store({k: v for k, v in _as_dict(values).items() if k not in self._values})

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def persist(self) -> None:
        """Nothing to do: every change is already stored."""


def _as_dict(values: Any) -> dict[str, Any]:
    if values is None:
        return {}
    if isinstance(values, Mapping):
        return dict(values)
    if hasattr(values, "__dict__"):
        return {k: v for k, v in vars(values).items() if not k.startswith("_")}
    warn(f"wandb.config takes a dict or an argparse.Namespace, not {type(values).__name__}; ignored.")
    return {}


class Summary(_AttrDict):
    """``run.summary``: the last value logged of each key, plus values set by hand.

    Values set by hand (``run.summary["best_acc"] = 0.9``) are stored in the run's config under
    ``summary``, where the dashboard's run table and filters see them; the last, minimum and maximum
    of every logged metric are what stonks keeps for each series anyway.
    """

    _what = "the summary"

    def __init__(self, run: StonksRun | None = None) -> None:
        super().__init__(None, run)
        object.__setattr__(self, "_set_by_hand", {})

    def _logged(self, row: Mapping[str, Any]) -> None:
        self._values.update(row)

    def _store(self, patch: dict[str, Any]) -> None:
        self._values.update(patch)
        self._set_by_hand.update(patch)
        run = self._run
        if run is None or not patch:
            return
        user_summary = run.config.get("summary")
        if user_summary is not None and not isinstance(user_summary, dict):
            _warn_once("run.summary with a config key named 'summary'")
            return
        run.log_config({"summary": dict(self._set_by_hand)})

    def __delitem__(self, key: str) -> None:
        del self._values[key]
        if self._set_by_hand.pop(key, None) is not None and self._run is not None:
            self._run.log_config({"summary": dict(self._set_by_hand)})

    def update(self, values: Any = None, **more: Any) -> None:  # type: ignore[override]
        self._store({**_as_dict(values), **more})


class _Unsupported:
    """What wandb offers and stonks has no place for: creating it warns once; using it does nothing."""

    _what = "this wandb object"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _warn_once(self._what)

    def __call__(self, *args: Any, **kwargs: Any) -> _Unsupported:
        return self

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("__"):
            raise AttributeError(name)
        return _do_nothing

    def __repr__(self) -> str:
        return f"<{self._what}: not supported by stonks>"


def _do_nothing(*args: Any, **kwargs: Any) -> None:
    return None


def _unsupported_class(name: str) -> type[_Unsupported]:
    return type(name, (_Unsupported,), {"_what": f"wandb.{name}", "__doc__": f"wandb.{name}: warns once, ignored."})


Table = _unsupported_class("Table")
Image = _unsupported_class("Image")
Histogram = _unsupported_class("Histogram")
Audio = _unsupported_class("Audio")
Video = _unsupported_class("Video")
Html = _unsupported_class("Html")
Object3D = _unsupported_class("Object3D")
Molecule = _unsupported_class("Molecule")
Plotly = _unsupported_class("Plotly")
Artifact = _unsupported_class("Artifact")


class Settings:
    """``wandb.Settings(...)``: accepted for ``init(settings=...)``; stonks needs none of them."""

    def __init__(self, **settings: Any) -> None:
        self.__dict__.update(settings)


class _StepMetric:
    def __init__(self, pattern: str, step_metric: str, step_sync: bool) -> None:
        self.pattern = pattern
        self.step_metric = step_metric
        self.step_sync = step_sync


class Run:
    """What ``wandb.init()`` returns: ``log``, ``config``, ``summary``, ``define_metric``, ``finish``..."""

    def __init__(
        self, stonks_run: StonksRun | None, project: str, entity: str | None, config: Config, base_dir: str | None
    ) -> None:
        self._stonks = stonks_run
        self._project = project
        self._entity = entity
        self._base_dir = base_dir
        self.config = config
        self.summary = Summary(stonks_run)
        # A resumed run continues after its last logged step.
        self._step = stonks_run._step if stonks_run is not None else 0
        self._row: dict[str, Any] = {}
        self._step_metrics: list[_StepMetric] = []
        self._last: dict[str, Any] = {}
        self._finished = False

    def __repr__(self) -> str:
        return f"<stonks.compat.wandb.Run id={self.id} name={self.name!r} project={self._project!r}>"

    @property
    def id(self) -> str:
        return (self._stonks.id or "") if self._stonks is not None else "disabled"

    @property
    def name(self) -> str:
        """The display name; the run id when the run has none (wandb always has one)."""
        if self._stonks is None:
            return "disabled"
        return self._stonks.name or self.id

    @property
    def project(self) -> str:
        return self._project

    @property
    def entity(self) -> str:
        return self._entity or ""

    @property
    def group(self) -> str | None:
        return self._stonks.group if self._stonks is not None else None

    @property
    def job_type(self) -> str | None:
        return self._stonks.job_type if self._stonks is not None else None

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self._stonks.tags) if self._stonks is not None else ()

    @tags.setter
    def tags(self, tags: Any) -> None:
        if self._stonks is not None:
            self._stonks.set_tags(list(tags))

    @property
    def notes(self) -> str | None:
        return self._stonks.notes if self._stonks is not None else None

    @notes.setter
    def notes(self, notes: str | None) -> None:
        if self._stonks is not None:
            self._stonks.set_notes(notes)

    @property
    def step(self) -> int:
        """The step the next committed row gets."""
        return self._step

    @property
    def disabled(self) -> bool:
        return self._stonks is None

    @property
    def path(self) -> str:
        return f"{self.entity}/{self._project}/{self.id}"

    @property
    def url(self) -> None:
        """No web address: open the run in ``stonks serve``'s dashboard."""
        return None

    @property
    def dir(self) -> str:
        """A directory for this run's files (``<init dir or cwd>/stonks-files/<run id>``), created on first use."""
        path = os.path.join(os.path.abspath(self._base_dir or "."), "stonks-files", self.id)
        os.makedirs(path, exist_ok=True)
        return path

    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None, sync: bool | None = None
    ) -> None:
        """wandb's rules: the row of the current step collects values until it is committed (``commit``
        True, or None without ``step``), which moves to the next step; a higher ``step`` commits the
        row first and moves there; a lower one is ignored with a warning, as wandb does."""
        if self._finished:
            warn(f"run {self.id} is finished; log() after finish() is ignored.")
            return
        if not isinstance(data, Mapping):
            warn(f"log() takes a dict of metric name -> value, not {type(data).__name__}; call ignored.")
            return
        if step is not None:
            if isinstance(step, bool) or not isinstance(step, int) or step < 0:
                warn(f"step must be a non-negative integer, not {step!r}; call ignored.")
                return
            if step < self._step:
                warn(
                    f"log() to step {step}, below the current step {self._step}: steps must increase, so this "
                    "data is ignored (as wandb does)."
                )
                return
            if step > self._step:
                self._commit()
                self._step = step
        elif commit is None:
            commit = True
        _flatten(data, "", self._row)
        if commit:
            self._commit()

    def _commit(self) -> None:
        row = self._row
        if not row:
            return
        self._row = {}
        for key, value in list(row.items()):
            self._last[key] = value
            for rule in self._step_metrics:
                if rule.step_sync and rule.step_metric not in row and fnmatchcase(key, rule.pattern):
                    last = self._last.get(rule.step_metric)
                    if last is not None:
                        row[rule.step_metric] = last
        self.summary._logged(row)
        numbers = {k: v for k, v in row.items() if not isinstance(v, _Unsupported)}
        if self._stonks is not None and numbers:
            self._stonks.log(numbers, step=self._step)
        self._step += 1

    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
        **kwargs: Any,
    ) -> None:
        """Remembers ``step_metric`` as the x axis of ``name`` (a glob such as ``"val/*"`` works too):
        each row with such a metric also gets the step metric's last value, unless ``step_sync=False``."""
        if step_metric is not None:
            self._step_metrics.append(_StepMetric(name, step_metric, step_sync is not False))
        if summary is not None or goal is not None:
            _warn_once("define_metric(summary=..., goal=...) (stonks keeps last, min and max of every metric)")

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Commits the last row and ends the run: completed for exit code 0 or None, failed otherwise."""
        self._end("completed" if not exit_code else "failed")

    def _end(self, status: str) -> None:
        if self._finished:
            return
        self._commit()
        self._finished = True
        if self._stonks is not None:
            self._stonks.finish(status)
        global run
        if run is self:
            run = None
        _live.discard(self)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._end(status_for(exc_type, exc))

    def watch(self, *args: Any, **kwargs: Any) -> None:
        _warn_once("watch()")

    def unwatch(self, *args: Any, **kwargs: Any) -> None:
        _warn_once("unwatch()")

    def save(self, *args: Any, **kwargs: Any) -> None:
        _warn_once("save()")

    def alert(self, *args: Any, **kwargs: Any) -> None:
        _warn_once("alert()")

    def log_artifact(self, *args: Any, **kwargs: Any) -> None:
        _warn_once("log_artifact()")

    def use_artifact(self, *args: Any, **kwargs: Any) -> None:
        _warn_once("use_artifact()")

    def log_code(self, *args: Any, **kwargs: Any) -> None:
        _warn_once("log_code()")

    def log_model(self, *args: Any, **kwargs: Any) -> None:
        _warn_once("log_model()")

    def mark_preempting(self) -> None:
        _warn_once("mark_preempting()")


def _flatten(data: Mapping[str, Any], prefix: str, into: dict[str, Any]) -> None:
    """Nested dicts become dotted keys, the names wandb shows them under."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(value, f"{name}.", into)
        else:
            into[name] = value


#: The current run (``wandb.run``): None before init() and after finish().
run: Run | None = None
_BEFORE_INIT = Config()
#: The current run's config; before the first init(), values set here are its initial config.
config: Config = _BEFORE_INIT
#: The current run's summary.
summary: Summary = Summary()
_live: set[Run] = set()
_exit_hook_installed = False

_RESUME: dict[str, bool | str | None] = {"allow": True, "auto": True, "must": "must", "never": None}
_IGNORED_QUIETLY = {"settings", "anonymous", "force", "allow_val_change", "save_code", "magic"}


def _env_tags() -> list[str] | None:
    raw = os.environ.get("WANDB_TAGS")
    return [tag.strip() for tag in raw.split(",") if tag.strip()] if raw else None


def init(
    project: str | None = None,
    entity: str | None = None,
    config: Any = None,
    name: str | None = None,
    notes: str | None = None,
    tags: list[str] | tuple[str, ...] | None = None,
    group: str | None = None,
    job_type: str | None = None,
    mode: str | None = None,
    resume: bool | str | None = None,
    id: str | None = None,
    dir: str | None = None,
    reinit: bool | str | None = None,
    config_exclude_keys: list[str] | None = None,
    config_include_keys: list[str] | None = None,
    **unsupported: Any,
) -> Run:
    """Starts a stonks run: project -> experiment (default ``WANDB_PROJECT``, else "uncategorized"),
    name, config, group, job_type, tags, notes, id and resume ("allow"/"auto"/True continue run ``id``
    or create it, "must" requires it). WANDB_NAME, WANDB_NOTES, WANDB_TAGS, WANDB_RUN_GROUP,
    WANDB_JOB_TYPE, WANDB_RUN_ID, WANDB_RESUME, WANDB_DIR and WANDB_MODE fill what is not passed;
    ``mode="disabled"`` logs nothing. A second init() finishes the current run first, unless
    ``reinit`` is "return_previous" or False (returns it) or "create_new" (keeps both)."""
    global run, summary
    env = os.environ.get
    for key, value in unsupported.items():
        if key not in _IGNORED_QUIETLY and value not in (None, False):
            _warn_once(f"init({key}=...)")
    if run is not None:
        if reinit in ("return_previous", False):
            return run
        if reinit != "create_new":
            run.finish()
    mode = mode or env("WANDB_MODE")
    project = project or env("WANDB_PROJECT") or "uncategorized"
    before = _BEFORE_INIT.as_dict() if globals()["config"] is _BEFORE_INIT else {}
    values = {**before, **_as_dict(config)}
    if config_include_keys is not None:
        values = {k: v for k, v in values.items() if k in config_include_keys}
    if config_exclude_keys is not None:
        values = {k: v for k, v in values.items() if k not in config_exclude_keys}
    base_dir = dir or env("WANDB_DIR")
    if mode == "disabled":
        created = Run(None, project, entity, Config(values), base_dir)
    else:
        resume = resume if resume is not None else env("WANDB_RESUME")
        stonks_resume = _RESUME.get(resume, resume) if isinstance(resume, str) else (resume or None)
        db = None
        if not env("STONKS_DB") and base_dir:
            os.makedirs(base_dir, exist_ok=True)
            db = os.path.join(base_dir, "stonks.db")
        stonks_run = start_run(
            project,
            values,
            db=db,
            run_name=name or env("WANDB_NAME"),
            tags=list(tags) if tags is not None else _env_tags(),
            group=group or env("WANDB_RUN_GROUP"),
            job_type=job_type or env("WANDB_JOB_TYPE"),
            notes=notes or env("WANDB_NOTES"),
            resume=stonks_resume,
            id=id or env("WANDB_RUN_ID"),
        ).start()
        created = Run(stonks_run, project, entity, Config(stonks_run.config, stonks_run), base_dir)
        _install_exit_hook()
    run = created
    globals()["config"] = created.config
    summary = created.summary
    _live.add(created)
    return created


def _install_exit_hook() -> None:
    """Commits every run's last row at exit, before stonks' own hook (registered earlier, so run later)
    records the exit status: a script that never calls finish() keeps its last step."""
    global _exit_hook_installed
    if not _exit_hook_installed:
        _exit_hook_installed = True
        atexit.register(_commit_at_exit)


def _commit_at_exit() -> None:
    for live in list(_live):
        live._commit()


def _current(call: str) -> Run | None:
    if run is None:
        warn(f"wandb.{call}() before wandb.init(); call ignored.")
    return run


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None, sync: bool | None = None) -> None:
    current = _current("log")
    if current is not None:
        current.log(data, step=step, commit=commit)


def define_metric(name: str, step_metric: str | None = None, **kwargs: Any) -> None:
    current = _current("define_metric")
    if current is not None:
        current.define_metric(name, step_metric=step_metric, **kwargs)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    if run is not None:
        run.finish(exit_code)


def login(*args: Any, **kwargs: Any) -> bool:
    """Nothing to log in to: stonks writes a local file."""
    return True


def watch(*args: Any, **kwargs: Any) -> None:
    _warn_once("watch()")


def unwatch(*args: Any, **kwargs: Any) -> None:
    _warn_once("unwatch()")


def save(*args: Any, **kwargs: Any) -> None:
    _warn_once("save()")


def alert(*args: Any, **kwargs: Any) -> None:
    _warn_once("alert()")


def log_artifact(*args: Any, **kwargs: Any) -> None:
    _warn_once("log_artifact()")


def use_artifact(*args: Any, **kwargs: Any) -> None:
    _warn_once("use_artifact()")


def __getattr__(name: str) -> Any:
    """Any other wandb name (``wandb.plot``, ``wandb.Api``...) warns once when used and does nothing."""
    if name.startswith("__"):
        raise AttributeError(name)
    return _unsupported_class(name)()
