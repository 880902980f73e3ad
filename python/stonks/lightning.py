"""PyTorch Lightning: a logger that writes to stonks, and a callback that aggregates metrics
across the ranks of a distributed job.

    from lightning.pytorch import Trainer
    from stonks.lightning import StonksLogger

    trainer = Trainer(logger=StonksLogger(experiment="mnist", config={"lr": 1e-3}))

Needs the ``lightning`` package (``pip install lightning``).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import _log
from .distributed import get_distributed_info
from .integrations._common import LazyRun, require, run_options

_pytorch = require("lightning.pytorch", "lightning", "stonks.lightning")
_loggers = require("lightning.pytorch.loggers.logger", "lightning", "stonks.lightning")

if TYPE_CHECKING:
    from lightning.fabric.loggers.logger import rank_zero_experiment
    from lightning.pytorch import Callback, LightningModule, Trainer
    from lightning.pytorch.loggers.logger import Logger
    from lightning.pytorch.utilities import rank_zero_only

    from . import Run
else:
    Callback = _pytorch.Callback
    Logger = _loggers.Logger
    rank_zero_experiment = _loggers.rank_zero_experiment
    rank_zero_only = _pytorch.utilities.rank_zero_only

__all__ = ["StonksDistributedCallback", "StonksLogger"]

#: Lightning's finalize() statuses and the run status each one records. Lightning says
#: "finished" when SLURM is about to requeue the job: the run stops here and goes on later.
FINAL_STATUSES = {"success": "completed", "finished": "interrupted", "failed": "failed"}


class StonksLogger(Logger):
    """A Lightning logger that writes one stonks run.

    The run is created on first use (the first hyperparameters or metrics), on global rank zero
    only: other ranks log nothing. The arguments are those of ``stonks.start_run()``; the
    system-metrics options (``hardware``, ``hardware_interval``, ``hardware_gpu``) are passed on
    when given. ``finalize()`` records Lightning's end of training as the run's status
    ("success" and "finished" as completed, "failed" as failed); metrics logged after that (a
    ``trainer.test()`` after ``trainer.fit()``) continue the same run.
    """

    def __init__(
        self,
        experiment: str | None = None,
        *,
        project: str | None = None,
        name: str | None = None,
        id: str | None = None,
        resume: bool | str | None = None,
        group: str | None = None,
        job_type: str | None = None,
        tags: list[str] | None = None,
        notes: str | None = None,
        config: Mapping[str, Any] | None = None,
        prefix: str = "",
        save_dir: str | None = None,
        db: str | None = None,
        run_name: str | None = None,
        hardware: bool | None = None,
        hardware_interval: float | None = None,
        hardware_gpu: bool | None = None,
        strict: bool = False,
    ) -> None:
        super().__init__()
        options = run_options(
            config=config,
            db=db,
            save_dir=save_dir,
            name=name,
            run_name=run_name,
            id=id,
            resume=resume,
            project=project,
            group=group,
            job_type=job_type,
            tags=tags,
            notes=notes,
            prefix=prefix,
            strict=strict,
            hardware=hardware,
            hardware_interval=hardware_interval,
            hardware_gpu=hardware_gpu,
        )
        # Lightning reads the name before anything is logged, so it is known without a run.
        self._experiment_name = experiment or "default"
        self._run = LazyRun(self._experiment_name, options)

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self._experiment_name

    @property
    def version(self) -> str | None:
        """The run's id once the run exists (its id= before that, else None)."""
        run_id = self._run.run_id
        return run_id if run_id is not None else self._run.options.get("id")

    @property
    @rank_zero_experiment
    def experiment(self) -> Run:
        """The stonks run (created now if it does not exist yet); a stand-in off rank zero."""
        return self._run.get()

    @rank_zero_only
    def log_hyperparams(self, params: Mapping[str, Any] | argparse.Namespace, *args: Any, **kwargs: Any) -> None:
        """Merges ``params`` (a dict or an ``argparse.Namespace``) into the run's config."""
        self._run.log_config(_as_config(params))

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Logs ``metrics`` at ``step`` (Lightning passes the global step)."""
        self._run.get().log(dict(metrics), step=step)

    @rank_zero_only
    def save(self) -> None:
        """Writes buffered points now (Lightning calls it at checkpoints)."""
        run = self._run.current
        if run is not None:
            run.flush()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Finishes the run with the status for Lightning's ``status``."""
        final = FINAL_STATUSES.get(status)
        if final is None:
            _log.warn(
                f"StonksLogger.finalize() got Lightning status {status!r}, not one of {sorted(FINAL_STATUSES)}; "
                "the run is marked failed."
            )
            final = "failed"
        if final == "failed" and isinstance(sys.exc_info()[1], KeyboardInterrupt):
            # Lightning reports Ctrl+C as "failed" from inside its except block.
            final = "interrupted"
        self._run.finish(final)


def _as_config(params: Mapping[str, Any] | argparse.Namespace | Any) -> dict[str, Any]:
    if isinstance(params, argparse.Namespace):
        return dict(vars(params))
    if isinstance(params, Mapping):
        return dict(params)
    if hasattr(params, "__dict__"):
        return dict(vars(params))
    return dict(params)


def _mean_and_std(per_rank: list[dict[str, float]]) -> dict[str, float]:
    """``avg/<key>`` and ``std/<key>`` over the ranks that have ``key``. The standard deviation
    is the sample one (divides by n - 1), 0 for a single value, as in the original stonks."""
    values: dict[str, list[float]] = {}
    for metrics in per_rank:
        for key, value in metrics.items():
            values.setdefault(key, []).append(value)
    aggregated: dict[str, float] = {}
    for key, numbers in values.items():
        mean = math.fsum(numbers) / len(numbers)
        spread = math.fsum((number - mean) ** 2 for number in numbers)
        aggregated[f"avg/{key}"] = mean
        aggregated[f"std/{key}"] = math.sqrt(spread / (len(numbers) - 1)) if len(numbers) > 1 else 0.0
    return aggregated


class StonksDistributedCallback(Callback):
    """Logs the mean and standard deviation across ranks of the chosen metrics.

    Every ``gather_interval`` training steps, each rank sends its current value of the
    ``metric_keys`` (all of ``trainer.callback_metrics`` when None) to the others; global rank
    zero logs ``avg/<key>`` and ``std/<key>`` through the trainer's StonksLogger at the global
    step. One value per key whatever the world size. At setup, rank zero also records the job's
    layout (ranks, world size, nodes, backend) as the config entry ``distributed``. Without an
    initialised process group (one process) the callback does nothing.
    """

    def __init__(self, metric_keys: list[str] | None = None, gather_interval: int = 1) -> None:
        super().__init__()
        self.metric_keys = None if metric_keys is None else list(metric_keys)
        self.gather_interval = max(1, int(gather_interval))

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        group = _process_group()
        if group is None:
            _log.warn(
                "StonksDistributedCallback: torch.distributed is not initialised (one process), "
                "so there is nothing to aggregate."
            )
            return
        logger = _stonks_logger(trainer)
        if group.get_rank() == 0 and logger is not None:
            logger.log_hyperparams({"distributed": get_distributed_info()})

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        group = _process_group()
        step = trainer.global_step
        if group is None or step % self.gather_interval != 0:
            return
        local = self._local_metrics(trainer)
        per_rank: list[dict[str, float] | None] = [None] * group.get_world_size()
        group.all_gather_object(per_rank, local)
        logger = _stonks_logger(trainer)
        if group.get_rank() == 0 and logger is not None:
            aggregated = _mean_and_std([metrics for metrics in per_rank if metrics])
            if aggregated:
                logger.log_metrics(aggregated, step=step)

    def _local_metrics(self, trainer: Trainer) -> dict[str, float]:
        available = trainer.callback_metrics
        keys = list(available) if self.metric_keys is None else [key for key in self.metric_keys if key in available]
        local: dict[str, float] = {}
        for key in keys:
            value = available[key]
            number = float(value.item() if hasattr(value, "item") else value)
            if math.isfinite(number):
                local[key] = number
        return local


def _process_group() -> Any | None:
    import torch.distributed as torch_distributed

    return torch_distributed if torch_distributed.is_available() and torch_distributed.is_initialized() else None


def _stonks_logger(trainer: Trainer) -> StonksLogger | None:
    for logger in trainer.loggers:
        if isinstance(logger, StonksLogger):
            return logger
    return None
