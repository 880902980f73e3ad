"""The where language in Python against the table the TypeScript parser checks
(tests/vectors/query/where-cases.json)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import stonks
from stonks import _where

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "tests" / "vectors" / "query" / "where-cases.json").read_text()
)
RUNS = [_where.WhereRun(**run) for run in VECTORS["runs"]]


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["where"])
def test_vector_case(case: dict[str, Any]) -> None:
    kept = _where.filter_where(RUNS, case["where"], VECTORS["now"])
    assert [run.id for run in kept] == case["expected"]


@pytest.mark.parametrize("case", VECTORS["errors"], ids=lambda c: c["where"])
def test_vector_error(case: dict[str, Any]) -> None:
    with pytest.raises(_where.WhereSyntaxError) as caught:
        _where.parse_where(case["where"])
    assert caught.value.column == case["column"]
    assert str(caught.value).startswith(f"at column {case['column']}: ")
    assert case["message"] in str(caught.value)


def test_columns_count_characters() -> None:
    with pytest.raises(_where.WhereSyntaxError, match=r"^at column 16: "):
        _where.parse_where('name = "🚀" AND ?')


def test_dates_are_utc_unless_they_carry_an_offset() -> None:
    assert _where.iso_date_seconds("1970-01-02") == 86400
    assert _where.iso_date_seconds("1970-01-01T02:00:00.5+02:00") == 0.5
    assert _where.iso_date_seconds("2026-02-30") is None


def _write_runs(db: str) -> dict[str, str]:
    ids = {}
    for name, config, tags, acc in [
        ("res18", {"lr": 0.1, "model": "resnet18"}, ["baseline"], [0.1, 0.7]),
        ("res50", {"lr": 0.01, "model": "resnet50", "opt": {"name": "adam"}}, ["sweep"], [0.2, 0.95]),
        ("vit", {"lr": 0.001, "model": "vit", "warmup": 10}, [], None),
    ]:
        run = stonks.start_run("exp", db=db, run_name=name, config=config, tags=tags)
        for step, value in enumerate(acc or [1.0]):
            run.log({"val/acc" if acc else "loss": value}, step=step)
        run.finish()
        ids[name] = run.id
    return ids


def test_list_runs_where_on_a_real_file(tmp_path: Path) -> None:
    db = str(tmp_path / "stonks.db")
    _write_runs(db)
    with stonks.open(db) as reader:
        experiment = reader.get_experiment("exp").id
        names = [
            r.name
            for r in reader.list_runs(experiment, where='config.model GLOB "resnet*" AND metric.val/acc.max > 0.9')
        ]
        assert names == ["res50"]
        assert [
            r.name for r in reader.list_runs(experiment, where='NOT metric.val/acc EXISTS OR "baseline" IN tags')
        ] == [
            "vit",
            "res18",
        ]
        assert [r.name for r in reader.list_runs(where="config.opt.name = adam")] == ["res50"]
        assert len(reader.list_runs(experiment)) == 3
        with pytest.raises(_where.WhereSyntaxError) as caught:
            reader.list_runs(experiment, where="config.lr >= ")
        assert caught.value.column == 14
        assert isinstance(caught.value, stonks.StonksError)


def test_where_is_imported_only_when_a_query_uses_it(tmp_path: Path) -> None:
    db = str(tmp_path / "stonks.db")
    _write_runs(db)
    probe = (
        "import sys, stonks\n"
        f"reader = stonks.open({db!r})\n"
        "reader.list_runs()\n"
        "print('stonks._where' in sys.modules)\n"
        "reader.list_runs(where='config.lr > 0')\n"
        "print('stonks._where' in sys.modules)\n"
    )
    package_root = str(Path(stonks.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": package_root}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.split() == ["False", "True"]
