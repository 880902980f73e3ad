"""Every sentence of the user's manual (shared/seed), as behaviour."""

from __future__ import annotations

import logging
import time

import pytest
from conftest import query

import stonks


def read_series(path: str, run_id: str, key: str):
    with stonks.open(path) as db:
        return db.get_metrics(run_id, key)


def test_start_run_creates_the_experiment_and_reuses_it(db_path: str) -> None:
    with stonks.start_run("resnet-cifar10", config={"lr": 0.1}, db=db_path) as first:
        first.log({"train/loss": 0.5}, step=0)
    with stonks.start_run("resnet-cifar10", db=db_path) as second:
        second.log({"train/loss": 0.4}, step=0)
    with stonks.open(db_path) as db:
        experiments = db.list_experiments()
        assert [(e.name, e.run_count) for e in experiments] == [("resnet-cifar10", 2)]
        runs = db.list_runs(experiments[0].id)
        assert {r.id for r in runs} == {first.id, second.id}
        assert all(r.experiment_id == experiments[0].id for r in runs)


def test_config_run_name_and_db_are_stored(db_path: str) -> None:
    with stonks.start_run(
        "exp", config={"lr": 0.1, "layers": [64, 64], "opt": {"name": "adam"}}, db=db_path, run_name="baseline"
    ) as run:
        pass
    with stonks.open(db_path) as db:
        info = db.get_run(run.id)
    assert info.name == "baseline"
    assert info.config == {"lr": 0.1, "layers": [64, 64], "opt": {"name": "adam"}}
    assert info.status == "completed"


def test_loop_from_the_manual_logs_every_step(db_path: str) -> None:
    with stonks.start_run("resnet-cifar10", config={"lr": 0.1}, db=db_path) as run:
        for step in range(1000):
            run.log({"train/loss": 1.0 / (step + 1)}, step=step)
    series = read_series(db_path, run.id, "train/loss")
    assert series.steps == list(range(1000))
    assert series.values == [1.0 / (s + 1) for s in range(1000)]
    assert len(series.timestamps) == 1000 and all(t > 1e9 for t in series.timestamps)


def test_namespaced_keys_are_kept_as_logged(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path) as run:
        run.log({"train/loss": 0.45, "train/accuracy": 0.82, "val/loss": 0.5, "val/accuracy": 0.8}, step=10)
    with stonks.open(db_path) as db:
        assert db.get_metric_keys(run.id) == ["train/accuracy", "train/loss", "val/accuracy", "val/loss"]
        assert db.get_metrics(run.id, "train/accuracy").steps == [10]
        assert db.get_metrics(run.id, "train/accuracy").values == [0.82]


def test_explicit_steps_are_recorded(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path) as run:
        run.log({"loss": 0.5}, step=0)
        run.log({"loss": 0.3}, step=1)
        run.log({"loss": 0.2}, step=7)
    assert read_series(db_path, run.id, "loss").steps == [0, 1, 7]


def test_omitted_steps_auto_increment_from_zero(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path) as run:
        run.log({"loss": 0.5})
        run.log({"loss": 0.3})
        run.log({"loss": 0.1, "acc": 0.9})
    assert read_series(db_path, run.id, "loss").steps == [0, 1, 2]
    assert read_series(db_path, run.id, "acc").steps == [2]


def test_omitted_step_follows_the_previous_explicit_step(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path) as run:
        run.log({"loss": 0.5}, step=10)
        run.log({"loss": 0.4})
        run.log({"loss": 0.3}, step=3)
        run.log({"loss": 0.2})
    series = read_series(db_path, run.id, "loss")
    # Ordered by step; out-of-order steps are kept.
    assert series.steps == [3, 4, 10, 11]
    assert series.values == [0.3, 0.2, 0.5, 0.4]


def test_log_config_merges_later_keys_win(db_path: str) -> None:
    with stonks.start_run("my-exp", config={"lr": 0.1, "batch": 32}, db=db_path) as run:
        run.log_config({"lr": 0.01, "optimizer": "adam"})
        run.log({"loss": 1.0})
        run.log_config({"early_stopped_at": 50})
        assert run.config == {"lr": 0.01, "batch": 32, "optimizer": "adam", "early_stopped_at": 50}
    with stonks.open(db_path) as db:
        assert db.get_run(run.id).config == {"lr": 0.01, "batch": 32, "optimizer": "adam", "early_stopped_at": 50}


def test_log_config_is_durable_after_flush(db_path: str) -> None:
    run = stonks.start_run("my-exp", db=db_path)
    run.start()
    run.log_config({"lr": 0.01})
    run.flush()
    with stonks.open(db_path) as db:
        assert db.get_run(run.id).config == {"lr": 0.01}
    run.finish("completed")


def test_context_manager_completed_on_normal_exit(db_path: str) -> None:
    with stonks.start_run("my-exp", db=db_path) as run:
        run.log({"loss": 0.5})
        with stonks.open(db_path) as db:
            assert db.get_run(run.id).status == "running"
    assert run.status == "completed"
    with stonks.open(db_path) as db:
        info = db.get_run(run.id)
    assert info.status == "completed"
    assert info.ended_at is not None and info.ended_at >= info.created_at


def test_context_manager_failed_on_exception_which_is_not_swallowed(db_path: str) -> None:
    with pytest.raises(ZeroDivisionError):
        with stonks.start_run("my-exp", db=db_path) as run:
            run.log({"loss": 0.5})
            raise ZeroDivisionError
    with stonks.open(db_path) as db:
        assert db.get_run(run.id).status == "failed"
        assert db.get_metrics(run.id, "loss").values == [0.5]


def test_context_manager_interrupted_on_keyboard_interrupt(db_path: str) -> None:
    with pytest.raises(KeyboardInterrupt):
        with stonks.start_run("my-exp", db=db_path) as run:
            run.log({"loss": 0.5})
            raise KeyboardInterrupt
    with stonks.open(db_path) as db:
        assert db.get_run(run.id).status == "interrupted"


@pytest.mark.parametrize(("code", "status"), [(0, "completed"), (None, "completed"), (3, "failed")])
def test_context_manager_with_sys_exit(db_path: str, code, status: str) -> None:
    with pytest.raises(SystemExit):
        with stonks.start_run("my-exp", db=db_path) as run:
            raise SystemExit(code)
    with stonks.open(db_path) as db:
        assert db.get_run(run.id).status == status


def test_manual_lifecycle(db_path: str) -> None:
    run = stonks.start_run("my-exp", db=db_path)
    assert run.status is None and run.id is None
    run.start()
    assert run.status == "running" and run.id is not None
    try:
        run.log({"loss": 0.5})
        raise RuntimeError("boom")
    except RuntimeError:
        run.finish("failed")
    with stonks.open(db_path) as db:
        info = db.get_run(run.id)
        assert info.status == "failed"
        assert db.get_metrics(run.id, "loss").values == [0.5]


def test_finish_is_idempotent_and_log_after_finish_is_ignored(db_path: str, caplog) -> None:
    run = stonks.start_run("my-exp", db=db_path).start()
    run.log({"loss": 1.0})
    run.finish("completed")
    with caplog.at_level(logging.WARNING, logger="stonks"):
        run.finish("failed")
        run.finish("done")
        run.log({"loss": 2.0})
        run.log({"loss": 3.0})
        run.log_config({"lr": 0.5})
    # Only the two ignored calls are reported, once each; a second finish() says nothing.
    assert sorted(r.getMessage().split(";")[0] for r in caplog.records if r.name == "stonks") == [
        f"run {run.id} is finished",
        f"run {run.id} is finished",
    ]
    with stonks.open(db_path) as db:
        info = db.get_run(run.id)
        assert info.status == "completed" and info.config == {}
        assert db.get_metrics(run.id, "loss").values == [1.0]


def test_invalid_finish_status(db_path: str, caplog) -> None:
    strict = stonks.start_run("my-exp", db=db_path, strict=True).start()
    with pytest.raises(stonks.StonksError):
        strict.finish("done")
    strict.finish("completed")
    run = stonks.start_run("my-exp", db=db_path).start()
    with caplog.at_level(logging.WARNING, logger="stonks"):
        run.finish("done")
    assert any("marked failed" in r.getMessage() for r in caplog.records)
    with stonks.open(db_path) as db:
        assert db.get_run(run.id).status == "failed"


def test_default_mode_nan_is_warned_and_training_continues(db_path: str, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="stonks"):
        with stonks.start_run("my-exp", db=db_path) as run:
            run.log({"loss": float("nan"), "acc": 0.5})
            run.log({"loss": 0.25, "acc": 0.6})
    warnings = [r for r in caplog.records if r.name == "stonks"]
    assert len(warnings) == 1 and "'loss'" in warnings[0].getMessage()
    with stonks.open(db_path) as db:
        assert db.get_metrics(run.id, "loss").steps == [1]
        assert db.get_metrics(run.id, "acc").values == [0.5, 0.6]


def test_strict_mode_raises_invalid_metric_error(db_path: str) -> None:
    with pytest.raises(stonks.InvalidMetricError) as raised:
        with stonks.start_run("my-exp", db=db_path, strict=True) as run:
            run.log({"loss": float("nan")})
    assert isinstance(raised.value, stonks.StonksError)
    with stonks.open(db_path) as db:
        assert db.get_run(run.id).status == "failed"


def test_flush_makes_points_durable_before_finish(db_path: str) -> None:
    run = stonks.start_run("my-exp", db=db_path).start()
    for step in range(5):
        run.log({"loss": float(step)})
    run.flush()
    # A separate connection (another process would see the same) reads them.
    assert query(db_path, "SELECT sum(count) FROM chunks") == [(5,)]
    run.finish()


def test_buffer_is_written_when_100_points_are_waiting(db_path: str) -> None:
    run = stonks.start_run("my-exp", db=db_path).start()
    for _step in range(25):
        run.log({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0})
    # No flush(): the writer thread is woken by the 100th point, well before its timer.
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and query(db_path, "SELECT COALESCE(sum(count), 0) FROM chunks") != [(100,)]:
        time.sleep(0.01)
    assert query(db_path, "SELECT sum(count) FROM chunks") == [(100,)]
    run.finish()


def test_few_points_wait_for_the_timer_and_the_heartbeat_beats(db_path: str, monkeypatch) -> None:
    monkeypatch.setenv("STONKS_FLUSH_INTERVAL", "0.2")
    run = stonks.start_run("my-exp", db=db_path).start()
    created = query(db_path, "SELECT created_at FROM runs")[0][0]
    run.log({"loss": 1.0})
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and query(db_path, "SELECT COALESCE(sum(count), 0) FROM chunks") != [(1,)]:
        time.sleep(0.02)
    assert query(db_path, "SELECT sum(count) FROM chunks") == [(1,)]
    revision = query(db_path, "SELECT revision FROM runs")[0][0]
    while time.monotonic() < deadline and query(db_path, "SELECT last_heartbeat FROM runs")[0][0] <= created + 0.3:
        time.sleep(0.02)
    assert query(db_path, "SELECT last_heartbeat FROM runs")[0][0] > created + 0.3
    # Heartbeats do not bump the revision.
    assert query(db_path, "SELECT revision FROM runs")[0][0] == revision
    run.finish()


def test_open_lists_runs_newest_first(db_path: str) -> None:
    ids = []
    for name in ("a", "b", "c"):
        with stonks.start_run("exp", db=db_path, run_name=name) as run:
            ids.append(run.id)
    with stonks.start_run("other", db=db_path) as other:
        pass
    with stonks.open(db_path) as db:
        experiment = next(e for e in db.list_experiments() if e.name == "exp")
        assert [r.id for r in db.list_runs(experiment_id=experiment.id)] == ids[::-1]
        assert [r.id for r in db.list_runs()] == [other.id, *ids[::-1]]
