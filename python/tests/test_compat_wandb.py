"""``import stonks.compat.wandb as wandb``: wandb-style training scripts (tests/fixtures/interop/wandb/
examples, written as wandb users write them, the import being the only change) run as child
processes; what they stored is read back through stonks' query API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, python_env

import stonks

EXAMPLES = REPO_ROOT / "tests" / "fixtures" / "interop" / "wandb" / "examples"


def run_example(name: str, db: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=cwd,
        env=python_env(STONKS_DB=db),
        capture_output=True,
        text=True,
        timeout=120,
    )


def line(stdout: str, label: str) -> list[str]:
    return next(row for row in stdout.splitlines() if row.startswith(label + " ")).split(" ")[1:]


def test_a_training_script_logs_config_metrics_step_metrics_and_summary(db_path: str, tmp_path: Path) -> None:
    done = run_example("train_epochs.py", db_path, tmp_path, "--lr", "0.05")
    assert done.returncode == 0, done.stderr
    run_id, name, project, last_loss = line(done.stdout, "RUN")
    assert (name, project, float(last_loss)) == ("baseline", "mnist", 1.0 / 30)
    assert line(done.stdout, "AFTER") == ["None"]
    # Each unsupported call warns once and the script goes on.
    for what in ("wandb.Table", "wandb.Image", "watch()", "save()"):
        assert done.stderr.count(f"{what} is not supported by stonks.compat.wandb") == 1, done.stderr

    with stonks.open(db_path) as db:
        info = db.get_run(run_id)
        assert db.get_experiment("mnist").id == info.experiment_id
        assert info.status == "completed"
        assert (info.name, info.tags, info.group, info.job_type, info.notes) == (
            "baseline",
            ["cnn", "sgd"],
            "exp-1",
            "train",
            "plain SGD",
        )
        assert info.config == {
            "lr": 0.05,
            "epochs": 3,
            "batch_size": 64,
            "optimizer": "sgd",
            "summary": {"best_val_acc": 0.7, "final_epoch": 2},
        }
        assert sorted(db.get_metric_keys(run_id)) == [
            "debug.batch",
            "epoch",
            "train/loss",
            "train/lr",
            "val/acc",
            "val/loss",
        ]
        train_steps = [11 * e + b for e in range(3) for b in range(10)]
        loss = db.get_metrics(run_id, "train/loss")
        assert loss.steps == train_steps
        assert loss.values == [1.0 / (e * 10 + b + 1) for e in range(3) for b in range(10)]
        assert db.get_metrics(run_id, "train/lr").values == [0.05] * 30
        assert db.get_metrics(run_id, "debug.batch").values == [float(b) for _ in range(3) for b in range(10)]
        val_steps = [11 * e + 10 for e in range(3)]
        # val/acc (commit=False) and val/loss share one row, the step after the epoch's batches.
        assert db.get_metrics(run_id, "val/acc").steps == val_steps
        assert db.get_metrics(run_id, "val/loss").steps == val_steps
        assert db.get_metrics(run_id, "val/loss").values == [1.0 / (e + 1) for e in range(3)]
        # "epoch" rode along with the first batch row (commit=False) and, as val/*'s step metric, the val row.
        epoch = db.get_metrics(run_id, "epoch")
        assert list(zip(epoch.steps, epoch.values)) == sorted(
            [(11 * e, float(e)) for e in range(3)] + [(11 * e + 10, float(e)) for e in range(3)]
        )


def test_a_script_that_raises_fails_its_run_and_keeps_wandbs_step_rules(db_path: str, tmp_path: Path) -> None:
    done = run_example("train_diverges.py", db_path, tmp_path)
    assert done.returncode == 1
    assert "RuntimeError: loss diverged" in done.stderr
    assert "log() to step 50, below the current step 900" in done.stderr
    (run_id,) = line(done.stdout, "RUN")
    with stonks.open(db_path) as db:
        info = db.get_run(run_id)
        assert (info.status, info.tags, info.config) == ("failed", ["unstable"], {"lr": 1.0})
        assert db.get_experiment("mnist").id == info.experiment_id
        loss = db.get_metrics(run_id, "train/loss")
        assert loss.steps == [100 * i for i in range(10)]
        assert loss.values == [1.0 / (i + 1) + 1 for i in range(10)]
        assert db.get_metrics(run_id, "grad.norm").values == [2.0 * i for i in range(10)]


def test_a_resumed_run_continues_and_its_last_uncommitted_row_is_kept(db_path: str, tmp_path: Path) -> None:
    first = run_example("train_resumable.py", db_path, tmp_path, "job-42", "0", "8")
    assert first.returncode == 0, first.stderr
    assert line(first.stdout, "START") == ["0"]
    second = run_example("train_resumable.py", db_path, tmp_path, "job-42", "8", "20")
    assert second.returncode == 0, second.stderr
    assert line(second.stdout, "START") == ["8"]
    with stonks.open(db_path) as db:
        (info,) = db.list_runs()
        assert (info.id, info.status, info.config) == ("job-42", "completed", {"total": 20})
        loss = db.get_metrics("job-42", "loss")
        assert loss.steps == list(range(20))
        assert loss.values == [1.0 / (step + 1) for step in range(20)]


def test_a_disabled_run_records_nothing(db_path: str, tmp_path: Path) -> None:
    done = run_example("train_disabled.py", db_path, tmp_path)
    assert done.returncode == 0, done.stderr
    assert line(done.stdout, "DISABLED") == ["True", "0.2"]
    assert not Path(db_path).exists()


def test_init_dir_holds_the_database_when_stonks_db_is_not_set(tmp_path: Path) -> None:
    script = (
        "import stonks.compat.wandb as wandb\n"
        "run = wandb.init(project='p', dir='logs')\n"
        "wandb.log({'loss': 1.0})\n"
        "wandb.log({'loss': 0.5})\n"
        "print('DIR', run.dir)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=python_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert Path(line(done.stdout, "DIR")[0]).is_dir()
    with stonks.open(str(tmp_path / "logs" / "stonks.db")) as db:
        (info,) = db.list_runs()
        assert db.get_metrics(info.id, "loss").values == [1.0, 0.5]


@pytest.mark.parametrize("call", ["wandb.log({'a': 1})", "wandb.define_metric('a', step_metric='b')"])
def test_calls_before_init_warn_and_do_nothing(call: str, tmp_path: Path) -> None:
    script = f"import stonks.compat.wandb as wandb\n{call}\nprint('GOES ON')\n"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=python_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "before wandb.init(); call ignored." in done.stderr
    assert "GOES ON" in done.stdout
    assert not (tmp_path / "stonks.db").exists()
