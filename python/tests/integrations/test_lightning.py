"""stonks.lightning with the real PyTorch Lightning: tiny models trained on CPU, read back
through stonks.open()."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import python_env, run_python
from framework_helpers import framework, free_port

import stonks


def _tiny_module(fail_at_step: int = -1) -> Any:
    """A LightningModule fitting y = 2x with one linear layer (built here so the framework is
    imported inside the test that needs it)."""
    torch = framework("torch", "torch")
    pl = framework("lightning.pytorch", "lightning")

    class Regression(pl.LightningModule):
        def __init__(self, lr: float = 0.1, hidden: int = 1) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(1, hidden)

        def _loss(self, batch: Any) -> Any:
            x, y = batch
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            if self.global_step == fail_at_step:
                raise RuntimeError("boom at step 2")
            loss = self._loss(batch)
            self.log("train/loss", loss)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val/loss", self._loss(batch))

        def test_step(self, batch: Any, batch_idx: int) -> None:
            self.log("test/loss", self._loss(batch))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    return Regression()


def _loader(batches: int = 4) -> Any:
    torch = framework("torch", "torch")
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batches * 8, 1, generator=generator)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, 2 * x), batch_size=8)


def _trainer(logger: Any, epochs: int = 2, callbacks: Any = None) -> Any:
    pl = framework("lightning.pytorch", "lightning")
    return pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=logger,
        callbacks=callbacks,
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def test_logger_records_a_fit_and_a_test_in_one_run(db_path: str) -> None:
    from stonks.lightning import StonksLogger

    logger = StonksLogger(
        "lightning-regression",
        project="tiny",
        name="sgd",
        group="g",
        job_type="train",
        tags=["cpu"],
        notes="two epochs",
        config={"dataset": "y=2x"},
        save_dir=db_path,
    )
    assert not Path(db_path).exists(), "the run is created on first use, not by the constructor"
    trainer = _trainer(logger)
    trainer.fit(_tiny_module(), _loader(), _loader(2))
    trainer.test(trainer.model, _loader(1))

    with stonks.open(db_path) as db:
        (run,) = db.list_runs()
        assert run.id == logger.version
        assert run.status == "completed"
        assert (run.name, run.group, run.job_type, run.tags, run.notes) == ("sgd", "g", "train", ["cpu"], "two epochs")
        assert run.config == {"dataset": "y=2x", "lr": 0.1, "hidden": 1}
        assert db.get_experiment("lightning-regression").project_id is not None
        keys = set(db.get_metric_keys(run.id))
        assert {"train/loss", "val/loss", "test/loss", "epoch"} <= keys
        train = db.get_metrics(run.id, "train/loss")
        # 4 batches per epoch, 2 epochs, logged at Lightning's global step (0-based before the update).
        assert train.steps == list(range(8))
        assert all(value >= 0 for value in train.values)
        assert db.get_metrics(run.id, "val/loss").steps == [3, 7]
        assert len(db.get_metrics(run.id, "test/loss").values) == 1


def test_prefix_and_hyperparameters_from_a_namespace(db_path: str) -> None:
    from stonks.lightning import StonksLogger

    logger = StonksLogger("namespace", db=db_path, prefix="fold0")
    logger.log_hyperparams(argparse.Namespace(lr=0.01, layers=3, optimizer="adam"))
    logger.log_hyperparams({"batch_size": 32})
    logger.log_metrics({"loss": 1.5}, step=4)
    logger.finalize("success")

    with stonks.open(db_path) as db:
        (run,) = db.list_runs()
        assert run.config == {"lr": 0.01, "layers": 3, "optimizer": "adam", "batch_size": 32}
        assert db.get_metrics(run.id, "fold0/loss").steps == [4]
        assert run.status == "completed"


@pytest.mark.parametrize(
    ("lightning_status", "stored"), [("success", "completed"), ("failed", "failed"), ("finished", "interrupted")]
)
def test_finalize_maps_lightning_statuses(db_path: str, lightning_status: str, stored: str) -> None:
    from stonks.lightning import StonksLogger

    logger = StonksLogger("statuses", save_dir=db_path)
    logger.log_metrics({"loss": 1.0}, step=0)
    logger.finalize(lightning_status)
    with stonks.open(db_path) as db:
        assert [run.status for run in db.list_runs()] == [stored]


def test_an_exception_in_training_marks_the_run_failed(db_path: str) -> None:
    from stonks.lightning import StonksLogger

    logger = StonksLogger("crash", save_dir=db_path)
    with pytest.raises(RuntimeError, match="boom"):
        _trainer(logger).fit(_tiny_module(fail_at_step=2), _loader())
    with stonks.open(db_path) as db:
        (run,) = db.list_runs()
        assert run.status == "failed"
        assert db.get_metrics(run.id, "train/loss").steps == [0, 1]


def test_ctrl_c_in_training_marks_the_run_interrupted(db_path: str) -> None:
    from stonks.lightning import StonksLogger

    torch = framework("torch", "torch")
    pl = framework("lightning.pytorch", "lightning")

    class Interrupted(pl.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(1, 1)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            if batch_idx == 1:
                raise KeyboardInterrupt
            loss = self.layer(batch[0]).pow(2).mean()
            self.log("loss", loss)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    sigint = signal.getsignal(signal.SIGINT)
    try:
        # Lightning ignores further Ctrl+C while it shuts down, then exits with status 1.
        with pytest.raises(SystemExit):
            _trainer(StonksLogger("ctrl-c", save_dir=db_path), epochs=1).fit(Interrupted(), _loader())
    finally:
        signal.signal(signal.SIGINT, sigint)
    with stonks.open(db_path) as db:
        assert [run.status for run in db.list_runs()] == ["interrupted"]


def test_other_ranks_write_nothing(db_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from lightning.pytorch.utilities import rank_zero_only

    from stonks.lightning import StonksLogger

    monkeypatch.setattr(rank_zero_only, "rank", 1)
    logger = StonksLogger("rank-one", save_dir=db_path)
    logger.log_hyperparams({"lr": 0.1})
    logger.log_metrics({"loss": 1.0}, step=0)
    logger.finalize("success")
    assert not isinstance(logger.experiment, stonks.Run)
    assert not Path(db_path).exists()


def test_importing_without_lightning_says_what_to_install() -> None:
    done = run_python(
        """
        import sys
        sys.modules["lightning"] = None
        try:
            import stonks.lightning
        except ImportError as error:
            print(error)
        else:
            print("imported")
        """
    )
    assert "pip install lightning" in done.stdout
    assert "stonks.lightning" in done.stdout


_DDP_SCRIPT = """
import json, sys
import lightning.pytorch as pl
import torch
import stonks.distributed as dist
from stonks.lightning import StonksDistributedCallback, StonksLogger

db_path, out_path = sys.argv[1], sys.argv[2]

class PerRank(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)

    def training_step(self, batch, batch_idx):
        loss = self.layer(batch[0]).pow(2).mean()
        # Each rank logs its own value (no sync): rank r logs r + batch_idx.
        self.log("rank_value", float(self.global_rank + batch_idx), sync_dist=False)
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(48, 1)), batch_size=8)
trainer = pl.Trainer(
    max_epochs=1, accelerator="cpu", devices=2, strategy="ddp", logger=StonksLogger("ddp", save_dir=db_path),
    callbacks=[StonksDistributedCallback(metric_keys=["rank_value"])], log_every_n_steps=1,
    enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
)
trainer.fit(PerRank(), data)
with open(out_path, "w") as out:
    json.dump({"rank": dist.get_rank(), "world_size": dist.get_world_size(), "local_rank": dist.get_local_rank(),
               "main": dist.is_main_process()}, out)
"""


def test_distributed_callback_aggregates_two_real_processes(tmp_path: Path) -> None:
    framework("lightning.pytorch", "lightning")
    db_path = str(tmp_path / "stonks.db")
    script = tmp_path / "ddp_train.py"
    script.write_text(_DDP_SCRIPT)
    port = str(free_port())
    ranks: list[subprocess.Popen] = []
    for rank in range(2):
        env = python_env(
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=port,
            WORLD_SIZE="2",
            NODE_RANK="0",
            LOCAL_RANK=str(rank),
            RANK=str(rank),
            PL_DISABLE_FORK="1",
        )
        ranks.append(
            subprocess.Popen(
                [sys.executable, str(script), db_path, str(tmp_path / f"rank{rank}.json")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [process.communicate(timeout=240)[0] for process in ranks]
    assert [process.returncode for process in ranks] == [0, 0], "\n".join(outputs)

    seen: list[dict[str, Any]] = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(2)]
    assert seen == [
        {"rank": 0, "world_size": 2, "local_rank": 0, "main": True},
        {"rank": 1, "world_size": 2, "local_rank": 1, "main": False},
    ]
    with stonks.open(db_path) as db:
        (run,) = db.list_runs()
        assert run.status == "completed"
        assert run.config["distributed"]["world_size"] == 2
        assert run.config["distributed"]["backend"] == "gloo"
        average = db.get_metrics(run.id, "avg/rank_value")
        spread = db.get_metrics(run.id, "std/rank_value")
        # 48 samples, 2 ranks, batches of 8: 3 steps. At batch b the ranks log b and b + 1.
        assert average.steps == [1, 2, 3]
        assert average.values == [0.5, 1.5, 2.5]
        assert spread.values == pytest.approx([0.5**0.5] * 3)
        assert "avg/train/loss" not in db.get_metric_keys(run.id)


def test_rank_and_world_size_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from stonks import distributed

    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"):
        monkeypatch.delenv(name, raising=False)
    assert (distributed.get_rank(), distributed.get_world_size(), distributed.get_local_rank()) == (0, 1, 0)
    assert distributed.is_main_process() and not distributed.is_distributed()
    distributed.barrier()

    monkeypatch.setenv("SLURM_PROCID", "5")
    monkeypatch.setenv("SLURM_NTASKS", "8")
    monkeypatch.setenv("SLURM_LOCALID", "1")
    assert (distributed.get_rank(), distributed.get_world_size(), distributed.get_local_rank()) == (5, 8, 1)
    assert not distributed.is_main_process()

    # torchrun's variables win over SLURM's.
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert (distributed.get_rank(), distributed.get_world_size(), distributed.get_local_rank()) == (2, 4, 0)
    assert distributed.get_distributed_info()["world_size"] == 4


def test_environment_lookup_keeps_working_without_torch() -> None:
    done = run_python(
        """
        import sys
        sys.modules["torch"] = None
        from stonks import distributed
        print(distributed.get_rank(), distributed.get_world_size())
        """,
        RANK="3",
        WORLD_SIZE="7",
    )
    assert done.stdout.split() == ["3", "7"]
