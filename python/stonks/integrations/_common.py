"""What every framework integration shares: the run it creates on first use, and the message
that names the package to install when the framework is missing."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

import stonks

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import ModuleType

    from stonks import Run

#: start_run() options that continue a finished run when the integration logs again (a test
#: after a fit): where it writes, how it reacts to errors, and what it samples.
_RESUME_OPTIONS = ("db", "strict", "prefix", "hardware", "hardware_interval", "hardware_gpu")


def require(module: str, package: str, integration: str) -> ModuleType:
    """Imports ``module``; when it is missing, an ImportError that says what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        installed = sys.modules.get(top) is not None or (
            top not in sys.modules and importlib.util.find_spec(top) is not None
        )
        if installed:
            # The framework is there but one of its own imports failed (Keras without its backend...).
            raise ImportError(f"{integration} could not import {module}: {error}") from error
        raise ImportError(f"{integration} needs {package}, which is not installed: pip install {package}") from error


def run_options(
    *,
    config: Mapping[str, Any] | None = None,
    db: str | None = None,
    save_dir: str | None = None,
    name: str | None = None,
    run_name: str | None = None,
    id: str | None = None,
    resume: bool | str | None = None,
    project: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    tags: list[str] | None = None,
    notes: str | None = None,
    prefix: str = "",
    strict: bool = False,
    hardware: bool | None = None,
    hardware_interval: float | None = None,
    hardware_gpu: bool | None = None,
) -> dict[str, Any]:
    """The keyword arguments of start_run() for the options an integration was given.

    The system-metrics options are passed only when set, so an integration works with every
    start_run() that has the options the user actually asked for.
    """
    options: dict[str, Any] = {
        "config": config,
        "db": _one_of(db, save_dir, "db", "save_dir"),
        "run_name": _one_of(run_name, name, "run_name", "name"),
        "id": id,
        "resume": resume,
        "project": project,
        "group": group,
        "job_type": job_type,
        "tags": tags,
        "notes": notes,
        "prefix": prefix,
        "strict": strict,
    }
    for key, value in (
        ("hardware", hardware),
        ("hardware_interval", hardware_interval),
        ("hardware_gpu", hardware_gpu),
    ):
        if value is not None:
            options[key] = value
    return options


def _one_of(first: str | None, second: str | None, first_name: str, second_name: str) -> str | None:
    if first is not None and second is not None and first != second:
        raise stonks.StonksError(
            f"{first_name}={first!r} and {second_name}={second!r} name the same thing; pass one of them."
        )
    return first if second is None else second


class LazyRun:
    """The run an integration logs into, started on first use.

    A run the user passed is theirs: it is used as it is and never finished here. A run created
    here is finished by ``finish()``; logging after that (an evaluation after training) continues
    the same run instead of starting another one.
    """

    def __init__(self, experiment: str | None, options: dict[str, Any], run: Run | None = None) -> None:
        self.experiment = experiment
        self.options = options
        self._run = run
        self._owned = run is None
        self._finished_id: str | None = None

    @property
    def current(self) -> Run | None:
        """The run when one is open, without starting one."""
        return self._run

    @property
    def run_id(self) -> str | None:
        """The id of the run logged into so far (also after it finished)."""
        return self._run.id if self._run is not None else self._finished_id

    def get(self) -> Run:
        """The open run, started now when there is none."""
        if self._run is None:
            if self._finished_id is None:
                run = stonks.start_run(self.experiment, **self.options)
            else:
                again = {key: self.options[key] for key in _RESUME_OPTIONS if key in self.options}
                run = stonks.start_run(self.experiment, resume=True, id=self._finished_id, **again)
            self._run = run.start()
        return self._run

    def log_config(self, config: Mapping[str, Any]) -> None:
        self.get().log_config(config)

    def finish(self, status: str) -> None:
        """Finishes a run created here with ``status``; a run the user passed stays open."""
        run = self._run
        if run is None or not self._owned:
            return
        self._run = None
        self._finished_id = run.id
        run.finish(status)
