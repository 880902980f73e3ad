"""Hugging Face Transformers: a ``TrainerCallback`` that logs a ``Trainer`` into a stonks run.

    from stonks.integrations.transformers import StonksCallback

    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[StonksCallback("bert-sst2")])

Needs the ``transformers`` package (``pip install transformers``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._common import LazyRun, require, run_options

_transformers = require("transformers", "transformers", "stonks.integrations.transformers")

if TYPE_CHECKING:
    from collections.abc import Mapping

    from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

    from stonks import Run
else:
    TrainerCallback = _transformers.TrainerCallback

__all__ = ["StonksCallback"]

#: Where the Trainer's log keys go: "eval_loss" is stored as "eval/loss", "loss" as "train/loss".
_SPLITS = ("eval", "test", "predict")


def metric_key(key: str) -> str:
    """The stonks key of a Trainer log key."""
    for split in _SPLITS:
        if key.startswith(split + "_"):
            return f"{split}/{key[len(split) + 1 :]}"
    return f"train/{key}"


class StonksCallback(TrainerCallback):
    """Logs a Trainer's metrics, arguments and model config into one stonks run.

    At the start of training the run's config gets ``training_args`` (the ``TrainingArguments``)
    and ``model_config`` (the model's config, when it has one). Every Trainer log is logged at
    ``state.global_step``: evaluation keys as ``eval/<name>``, the rest as ``train/<name>``. The
    end of training finishes the run as completed; an exception that ends the script marks it
    failed (the SDK's exit hook does this, as for any run). An evaluation after training
    (``trainer.evaluate()``) continues the same run and finishes it again. Only the main process
    (``state.is_world_process_zero``) writes.

    The arguments are those of ``stonks.start_run()``. ``run``: an existing run to log into
    instead; the callback then leaves finishing it to you.
    """

    def __init__(
        self,
        experiment: str | None = None,
        *,
        run: Run | None = None,
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
        self._training = False

    @property
    def run(self) -> Run | None:
        """The run being logged into, once training started."""
        return self._run.current

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model: Any = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero:
            return
        self._training = True
        config: dict[str, Any] = {"training_args": args.to_dict()}  # type: ignore[no-untyped-call]
        model_config = getattr(model, "config", None)
        if model_config is not None and hasattr(model_config, "to_dict"):
            config["model_config"] = model_config.to_dict()
        self._run.log_config(config)

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        metrics = {metric_key(key): value for key, value in logs.items() if _is_number(value)}
        if metrics:
            self._run.get().log(metrics, step=state.global_step)

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        # trainer.evaluate() after training logged into the finished run again: it ends here too.
        if state.is_world_process_zero and not self._training:
            self._run.finish("completed")

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if state.is_world_process_zero:
            self._training = False
            self._run.finish("completed")


def _is_number(value: Any) -> bool:
    """Numbers the Trainer logs; its strings (such as a learning-rate schedule's name) are not
    metrics. A NaN stays in, so that log() warns about it as it does for any run."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
