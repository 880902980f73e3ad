"""The start_run() arguments every integration builds from its own."""

from __future__ import annotations

import pytest

import stonks
from stonks.integrations._common import run_options


def test_system_metric_options_are_passed_only_when_given() -> None:
    plain = run_options(name="a", save_dir="x.db")
    assert (plain["run_name"], plain["db"]) == ("a", "x.db")
    assert not {"hardware", "hardware_interval", "hardware_gpu"} & set(plain)

    sampled = run_options(hardware=True, hardware_interval=2.0, hardware_gpu=False)
    assert (sampled["hardware"], sampled["hardware_interval"], sampled["hardware_gpu"]) == (True, 2.0, False)


def test_two_names_of_one_option_must_agree() -> None:
    assert run_options(db="same.db", save_dir="same.db")["db"] == "same.db"
    with pytest.raises(stonks.StonksError, match="pass one of them"):
        run_options(name="a", run_name="b")


def test_a_logger_with_hardware_samples_system_metrics(tmp_path) -> None:
    """The options reach start_run(): the logger's run gets sys/* series beside the user's."""
    import time

    from stonks.lightning import StonksLogger

    db = str(tmp_path / "hw.db")
    logger = StonksLogger("hw", db=db, hardware=True, hardware_interval=0.05, hardware_gpu=False)
    logger.log_metrics({"loss": 1.0}, step=0)
    time.sleep(0.3)
    logger.finalize("success")
    with stonks.open(db) as reader:
        (run,) = reader.list_runs()
        keys = reader.get_metric_keys(run.id)
    assert "loss" in keys
    assert {"sys/ram_used_gb", "sys/ram_total_gb", "sys/proc_rss_gb"} <= set(keys)
    assert not any(key.startswith("sys/gpu") for key in keys)
