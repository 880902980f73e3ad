"""stonks.integrations.transformers with the real Trainer: a tiny BERT built from a config (no
download), trained a few steps on CPU, read back through stonks.open()."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_python
from framework_helpers import framework
from tiny_bert import tiny_bert_trainer

import stonks


def test_callback_records_training_evaluation_and_config(tmp_path: Path, db_path: str) -> None:
    from stonks.integrations.transformers import StonksCallback

    callback = StonksCallback("tiny-bert", db=db_path, name="bert-tiny", tags=["cpu"], config={"data": "synthetic"})
    trainer = tiny_bert_trainer(tmp_path / "out", callback)
    trainer.train()

    with stonks.open(db_path) as db:
        (run,) = db.list_runs()
        assert run.status == "completed"
        assert (run.name, run.tags) == ("bert-tiny", ["cpu"])
        assert run.config["data"] == "synthetic"
        assert run.config["training_args"]["learning_rate"] == 5e-3
        assert run.config["training_args"]["max_steps"] == 6
        assert run.config["model_config"]["hidden_size"] == 16
        assert run.config["model_config"]["model_type"] == "bert"
        assert db.get_metrics(run.id, "train/loss").steps == [2, 4, 6]
        assert db.get_metrics(run.id, "train/learning_rate").steps == [2, 4, 6]
        assert db.get_metrics(run.id, "eval/loss").steps == [3, 6]
        assert db.get_metrics(run.id, "train/train_runtime").steps == [6]
        assert all(loss > 0 for loss in db.get_metrics(run.id, "eval/loss").values)
        run_id = run.id

    # An evaluation after training continues the same run and leaves it completed.
    trainer.evaluate()
    with stonks.open(db_path) as db:
        (run,) = db.list_runs()
        assert (run.id, run.status) == (run_id, "completed")
        assert db.get_metrics(run.id, "eval/loss").steps == [3, 6, 6]


def test_callback_logs_into_a_run_the_user_started(tmp_path: Path, db_path: str) -> None:
    from stonks.integrations.transformers import StonksCallback

    with stonks.start_run("mine", db=db_path) as run:
        tiny_bert_trainer(tmp_path / "out", StonksCallback(run=run), max_steps=2).train()
        with stonks.open(db_path) as db:
            assert db.get_run(run.id).status == "running", "a run the user passed stays open"
        run.log({"after": 1.0})
    with stonks.open(db_path) as db:
        assert db.get_run(run.id).status == "completed"
        assert db.get_metrics(run.id, "train/loss").steps == [2]


def test_a_crash_in_training_marks_the_run_failed(tmp_path: Path) -> None:
    framework("transformers", "transformers")
    db_path = str(tmp_path / "stonks.db")
    done = run_python(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from tiny_bert import tiny_bert_trainer
        from stonks.integrations.transformers import StonksCallback
        from transformers import TrainerCallback

        class Crash(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == 3:
                    raise RuntimeError("crash at step 3")

        trainer = tiny_bert_trainer({str(tmp_path / "out")!r}, StonksCallback("crash", db={db_path!r}))
        trainer.add_callback(Crash())
        trainer.train()
        """,
        check=False,
        HF_HUB_OFFLINE="1",
    )
    assert done.returncode == 1
    assert "crash at step 3" in done.stderr
    with stonks.open(db_path) as db:
        (run,) = db.list_runs()
        assert run.status == "failed"
        assert db.get_metrics(run.id, "train/loss").steps == [2]


def test_keys_of_trainer_logs() -> None:
    from stonks.integrations.transformers import metric_key

    assert [metric_key(key) for key in ("loss", "eval_loss", "test_accuracy", "grad_norm", "evaluation")] == [
        "train/loss",
        "eval/loss",
        "test/accuracy",
        "train/grad_norm",
        "train/evaluation",
    ]


def test_importing_without_transformers_says_what_to_install() -> None:
    done = run_python(
        """
        import sys
        sys.modules["transformers"] = None
        try:
            import stonks.integrations.transformers
        except ImportError as error:
            print(error)
        """
    )
    assert "pip install transformers" in done.stdout


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
