"""Config values that JSON cannot hold as they are: cycles and very deep nesting (issue 8, R8)."""

from __future__ import annotations

import logging
import sys

import pytest

import stonks


def nested(levels: int) -> dict:
    """A config of ``levels`` dicts (itself included), the innermost holding {"leaf": 1}."""
    config: dict = {"leaf": 1}
    for _ in range(levels - 1):
        config = {"d": config}
    return config


def depth_of(value) -> int:
    levels = 0
    while isinstance(value, dict) and "d" in value:
        value, levels = value["d"], levels + 1
    return levels + 1 if isinstance(value, dict) else levels


def stored_config(db_path: str) -> dict:
    with stonks.open(db_path) as db:
        [run] = db.list_runs()
        return run.config


def test_a_cyclic_config_is_cut_with_a_marker_and_warned_once(db_path: str, caplog) -> None:
    config: dict = {"lr": 0.1, "layers": [1, 2]}
    config["self"] = config
    config["layers"].append(config["layers"])
    shared = {"x": 1}
    config["twice"] = [shared, shared]  # shared, not a cycle: kept both times
    with caplog.at_level(logging.WARNING, logger="stonks"):
        with stonks.start_run("exp", config=config, db=db_path) as run:
            run.log_config({"again": config})
    stored = stored_config(db_path)
    assert stored["self"] == "[Circular]"
    assert stored["layers"] == [1, 2, "[Circular]"]
    assert stored["twice"] == [{"x": 1}, {"x": 1}]
    assert stored["again"]["self"] == "[Circular]" and stored["again"]["lr"] == 0.1
    assert sum("contains itself" in r.getMessage() for r in caplog.records) == 1


def test_nesting_past_64_levels_becomes_a_marker_without_recursion_error(db_path: str, caplog) -> None:
    deep = nested(sys.getrecursionlimit() + 100)
    with caplog.at_level(logging.WARNING, logger="stonks"):
        with stonks.start_run("exp", config={"deep": deep, "kept": nested(63)}, db=db_path) as run:
            run.log_config({"later": [deep]})
    stored = stored_config(db_path)
    # The config is level 1: "kept" (levels 2..64) is whole, "deep" is cut at level 65.
    assert stored["kept"] == nested(63)
    assert depth_of(stored["deep"]) == 63
    inner = stored["deep"]
    for _ in range(62):
        inner = inner["d"]
    assert inner == {"d": "[Too deep]"}
    assert sum("levels deep" in r.getMessage() for r in caplog.records) == 1
    assert run.config["later"][0]["d"]["d"] != "[Too deep]"


@pytest.mark.parametrize("problem", ["cycle", "deep"])
def test_strict_mode_refuses_the_config_and_stores_nothing_of_it(db_path: str, problem: str) -> None:
    config: dict = {"lr": 0.1}
    if problem == "cycle":
        config["self"] = config
    else:
        config["deep"] = nested(100)
    with pytest.raises(stonks.InvalidConfigError):
        stonks.start_run("exp", config=config, db=db_path, strict=True)
    with stonks.start_run("exp", config={"lr": 0.1}, db=db_path, strict=True) as run:
        with pytest.raises(stonks.InvalidConfigError):
            run.log_config({"ok": 1, "bad": config})
    assert stored_config(db_path) == {"lr": 0.1}
