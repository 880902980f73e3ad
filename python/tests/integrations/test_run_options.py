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
