"""Keras 3: a callback that logs ``model.fit()`` into a stonks run.

    from stonks.integrations.keras import StonksCallback

    model.fit(x, y, epochs=5, validation_split=0.1, callbacks=[StonksCallback("mnist-mlp")])

Needs the ``keras`` package (3.x, ``pip install keras``) and one of its backends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._common import LazyRun, require, run_options

_keras = require("keras", "keras", "stonks.integrations.keras")

if TYPE_CHECKING:
    from collections.abc import Mapping

    from keras.callbacks import Callback  # type: ignore[import-untyped]

    from stonks import Run
else:
    Callback = _keras.callbacks.Callback

__all__ = ["StonksCallback"]


class StonksCallback(Callback):  # type: ignore[misc]
    """Logs batch and epoch metrics and the fit parameters of ``model.fit()``.

    The step is the number of training batches so far, counted across epochs. After each
    batch, Keras' running metrics are logged as ``<batch_prefix><name>`` (``batch/loss``); at the
    end of each epoch, its metrics, validation ones included (``val_loss``), as
    ``<epoch_prefix><name>`` (``epoch/loss``, ``epoch/val_loss``) with ``epoch/epoch``, the
    epoch's index. ``log_every_n_batches`` thins the batch metrics; 0 logs epochs only. At the
    start of training the run's config gets the fit parameters (``epochs``, ``steps``,
    ``verbose``) and the optimizer's config as ``optimizer``.

    The end of training finishes the run as completed; an exception that ends the script marks
    it failed (the SDK's exit hook does this, as for any run). The arguments are those of
    ``stonks.start_run()``. ``run``: an existing run to log into instead; the callback then
    leaves finishing it to you.
    """

    def __init__(
        self,
        experiment: str | None = None,
        *,
        run: Run | None = None,
        log_every_n_batches: int = 1,
        batch_prefix: str = "batch/",
        epoch_prefix: str = "epoch/",
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
        self._run = LazyRun(experiment, options, run)
        self.log_every_n_batches = max(0, int(log_every_n_batches))
        self.batch_prefix = batch_prefix
        self.epoch_prefix = epoch_prefix
        self._global_step = 0
        self._epoch_start_step = 0

    @property
    def run(self) -> Run | None:
        """The run being logged into, once training started."""
        return self._run.current

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        config: dict[str, Any] = dict(self.params or {})
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "get_config"):
            config["optimizer"] = optimizer.get_config()
        self._run.log_config(config)

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._epoch_start_step = self._global_step

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        # Keras calls this once per `steps_per_execution` batches, with the index of the last one.
        self._global_step = self._epoch_start_step + batch + 1
        if logs and self.log_every_n_batches and self._global_step % self.log_every_n_batches == 0:
            self._run.get().log(_prefixed(self.batch_prefix, logs), step=self._global_step)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        metrics = _prefixed(self.epoch_prefix, logs or {})
        metrics[self.epoch_prefix + "epoch"] = epoch
        self._run.get().log(metrics, step=self._global_step)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self._run.finish("completed")


def _prefixed(prefix: str, logs: Mapping[str, Any]) -> dict[str, Any]:
    return {prefix + key: value for key, value in logs.items()}
