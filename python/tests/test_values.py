"""What log() accepts, what it rejects, and how it says so."""

from __future__ import annotations

import logging
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction

import pytest
from conftest import python_env, run_python

import stonks


class NumpyLikeScalar:
    """Like numpy.float32(1.5): a number through __float__."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __float__(self) -> float:
        return self.value


class ZeroDimTensorLike:
    """Like a 0-d tensor without __float__: item() gives the number."""

    def __init__(self, value: float) -> None:
        self.value = value

    def item(self) -> float:
        return self.value


class IntLike:
    def __index__(self) -> int:
        return 7


class ManyElements:
    def __float__(self) -> float:
        raise TypeError("only one element tensors can be converted to Python scalars")


def logged(db_path: str, run_id: str):
    with stonks.open(db_path) as db:
        return {key: db.get_metrics(run_id, key).values for key in db.get_metric_keys(run_id)}


def test_numbers_of_every_kind_are_accepted(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path, strict=True) as run:
        run.log(
            {
                "int": 3,
                "float": 0.25,
                "true": True,
                "false": False,
                "numpy_like": NumpyLikeScalar(1.5),
                "tensor_like": ZeroDimTensorLike(2.5),
                "index": IntLike(),
                "decimal": Decimal("0.5"),
                "fraction": Fraction(1, 4),
                "negative": -1e300,
                "big_int": 10**20,
            }
        )
    assert logged(db_path, run.id) == {
        "big_int": [1e20],
        "decimal": [0.5],
        "false": [0.0],
        "float": [0.25],
        "fraction": [0.25],
        "index": [7.0],
        "int": [3.0],
        "negative": [-1e300],
        "numpy_like": [1.5],
        "tensor_like": [2.5],
        "true": [1.0],
    }


BAD_VALUES = [
    float("nan"),
    float("inf"),
    float("-inf"),
    "0.5",
    b"1",
    None,
    [1.0],
    {"a": 1},
    object(),
    ManyElements(),
    NumpyLikeScalar(float("nan")),
    ZeroDimTensorLike("1"),
    10**400,
    complex(1, 0),
]


@pytest.mark.parametrize("bad", BAD_VALUES, ids=[type(v).__name__ + str(i) for i, v in enumerate(BAD_VALUES)])
def test_non_numbers_are_invalid(db_path: str, bad, caplog) -> None:
    with pytest.raises(stonks.InvalidMetricError):
        with stonks.start_run("exp", db=db_path, strict=True) as strict_run:
            strict_run.log({"ok": 1.0, "bad": bad})
    # Strict: the whole call is rejected, nothing of it is logged.
    assert logged(db_path, strict_run.id) == {}
    with caplog.at_level(logging.WARNING, logger="stonks"):
        with stonks.start_run("exp", db=db_path) as run:
            run.log({"ok": 1.0, "bad": bad})
    assert logged(db_path, run.id) == {"ok": [1.0]}
    assert any("'bad'" in r.getMessage() for r in caplog.records if r.name == "stonks")


@pytest.mark.parametrize("key", ["", 3, None, ("a",)])
def test_empty_and_non_string_keys_are_invalid(db_path: str, key, caplog) -> None:
    with pytest.raises(stonks.InvalidMetricError):
        with stonks.start_run("exp", db=db_path, strict=True) as strict_run:
            strict_run.log({key: 1.0})
    with caplog.at_level(logging.WARNING, logger="stonks"):
        with stonks.start_run("exp", db=db_path) as run:
            run.log({key: 1.0, "fine": 2.0})
    assert logged(db_path, run.id) == {"fine": [2.0]}
    assert len([r for r in caplog.records if r.name == "stonks"]) == 1


@pytest.mark.parametrize("step", [-1, 1.5, "3", True, None.__class__, 2**53])
def test_wrong_steps_are_a_wrong_call(db_path: str, step, caplog) -> None:
    with pytest.raises(stonks.InvalidMetricError):
        with stonks.start_run("exp", db=db_path, strict=True) as strict_run:
            strict_run.log({"loss": 1.0}, step=step)
    with caplog.at_level(logging.WARNING, logger="stonks"):
        with stonks.start_run("exp", db=db_path) as run:
            run.log({"loss": 1.0}, step=step)
            run.log({"loss": 2.0})
    # The wrong call is skipped (no step to record its values at); the next call gets step 0.
    with stonks.open(db_path) as db:
        series = db.get_metrics(run.id, "loss")
    assert (series.steps, series.values) == ([0], [2.0])
    assert len([r for r in caplog.records if r.name == "stonks"]) == 1


def test_integral_steps_of_other_types_are_accepted(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path, strict=True) as run:
        run.log({"loss": 1.0}, step=IntLike())
        run.log({"loss": 2.0}, step=9.0)
        run.log({"loss": 3.0})
    with stonks.open(db_path) as db:
        assert db.get_metrics(run.id, "loss").steps == [7, 9, 10]


@pytest.mark.parametrize("metrics", [[("loss", 1.0)], "loss=1", 1.0, None])
def test_metrics_not_a_dict_is_a_wrong_call(db_path: str, metrics, caplog) -> None:
    with pytest.raises(stonks.InvalidMetricError):
        with stonks.start_run("exp", db=db_path, strict=True) as strict_run:
            strict_run.log(metrics)
    with caplog.at_level(logging.WARNING, logger="stonks"):
        with stonks.start_run("exp", db=db_path) as run:
            run.log(metrics)
            run.log(metrics)
            run.log({"loss": 1.0})
    assert logged(db_path, run.id) == {"loss": [1.0]}
    assert len([r for r in caplog.records if r.name == "stonks"]) == 1


def test_warnings_are_once_per_key_not_per_call(db_path: str, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="stonks"):
        with stonks.start_run("exp", db=db_path) as run:
            for _ in range(50):
                run.log({"a": float("nan"), "b": float("inf"), "c": 1.0})
    messages = [r.getMessage() for r in caplog.records if r.name == "stonks"]
    assert len(messages) == 2
    assert any("'a'" in m for m in messages) and any("'b'" in m for m in messages)
    with stonks.open(db_path) as db:
        assert db.get_metrics(run.id, "c").steps == list(range(50))


def test_dict_reused_and_mutated_by_the_caller_keeps_logged_values(db_path: str) -> None:
    metrics = {"loss": 1.0}
    with stonks.start_run("exp", db=db_path) as run:
        for step in range(3):
            metrics["loss"] = float(step)
            run.log(metrics)
    assert logged(db_path, run.id) == {"loss": [0.0, 1.0, 2.0]}


def test_stonks_never_imports_numpy_or_torch_or_heavy_modules_at_import() -> None:
    done = run_python(
        """
        import sys, tempfile, os
        import stonks
        heavy = ("numpy", "torch", "uuid", "json", "subprocess", "sqlite3", "dataclasses")
        print("import:", [m for m in heavy if m in sys.modules])
        path = os.path.join(tempfile.mkdtemp(), "s.db")
        with stonks.start_run("exp", db=path) as run:
            run.log({"x": 1.0})
        print("used:", [m for m in ("numpy", "torch") if m in sys.modules])
        """
    )
    assert "import: []" in done.stdout
    assert "used: []" in done.stdout


def test_import_stonks_loads_only_its_own_modules_not_typing() -> None:
    # -S: without site, whose .pth hooks may import typing themselves (certifi's does) and so
    # hide what `import stonks` costs a bare interpreter; typing alone takes about 10 ms there.
    probe = "import sys; before = set(sys.modules); import stonks; print(sorted(set(sys.modules) - before))"
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe], env=python_env(), capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "['__future__', 'stonks', 'stonks._errors']"


def test_logger_level_follows_stonks_log_level(tmp_path) -> None:
    script = """
        import os, sys, stonks
        with stonks.start_run("exp", db=sys.argv[1]) as run:
            run.log({"x": float("nan")})
        """
    loud = run_python(script, str(tmp_path / "a.db"))
    quiet = run_python(script, str(tmp_path / "b.db"), STONKS_LOG_LEVEL="error")
    assert "'x'" in loud.stderr
    assert "'x'" not in quiet.stderr


class AddsLikeANumber:
    """Passes a sum() check (it adds to a float) but is no number: dropped by the writer, with a warning."""

    def __radd__(self, other: float) -> float:
        return other + 1.0


def test_an_object_that_only_pretends_to_add_is_dropped_not_stored(db_path: str, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="stonks"):
        with stonks.start_run("exp", db=db_path) as run:
            run.log({"a": 1.0, "b": 2.0})
            run.log({"a": 1.0, "b": AddsLikeANumber()})
            run.log({"a": 3.0, "b": 4.0})
    with stonks.open(db_path) as db:
        assert db.get_metrics(run.id, "a").steps == [0, 1, 2]
        b = db.get_metrics(run.id, "b")
    assert (b.steps, b.values) == ([0, 2], [2.0, 4.0])
    assert any("'b'" in r.getMessage() for r in caplog.records if r.name == "stonks")


def test_a_key_of_1000_characters_is_kept_a_longer_one_dropped_with_one_warning(db_path: str, caplog) -> None:
    assert stonks.MAX_KEY_LENGTH == 1000
    longest = "k" * stonks.MAX_KEY_LENGTH
    too_long = "x" * (stonks.MAX_KEY_LENGTH + 1)
    with caplog.at_level(logging.WARNING, logger="stonks"):
        with stonks.start_run("exp", db=db_path) as run:
            for step in range(3):
                run.log({"a": float(step), longest: 1.0, too_long: 2.0}, step=step)
    warnings = [r.getMessage() for r in caplog.records if "characters long" in r.getMessage()]
    assert len(warnings) == 1 and "1001 characters long" in warnings[0]
    values = logged(db_path, run.id)
    assert values == {"a": [0.0, 1.0, 2.0], longest: [1.0, 1.0, 1.0]}


def test_strict_mode_raises_for_a_too_long_key_and_stores_nothing_of_the_call(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path, strict=True) as run:
        with pytest.raises(stonks.InvalidMetricError, match="more than the 1000 allowed"):
            run.log({"a": 1.0, "x" * 1001: 2.0}, step=0)
        run.log({"a": 3.0}, step=1)
    with stonks.open(db_path) as db:
        assert db.get_metrics(run.id, "a").steps == [1]


class ComplexScalarLike:
    """Like numpy.complex64(1 + 2j): __float__ gives the real part (numpy only warns), item() a complex."""

    class dtype:
        kind = "c"

    real = 1.0
    imag = 2.0

    def __float__(self) -> float:
        return self.real

    def __complex__(self) -> complex:
        return complex(self.real, self.imag)

    def item(self) -> complex:
        return complex(self.real, self.imag)


class Complex128Like(complex):
    """Like numpy.complex128: a subclass of complex whose __float__ gives the real part."""

    def __float__(self) -> float:
        return self.real


class ComplexTensorLike:
    """Like a 0-d complex tensor without a usable dtype: only item() tells."""

    def item(self) -> complex:
        return 1 + 2j


@pytest.mark.parametrize("value", [1 + 2j, 3 + 0j, ComplexScalarLike(), Complex128Like(1, 2), ComplexTensorLike()])
def test_complex_values_are_invalid_metrics_never_their_real_part(db_path: str, value, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="stonks"):
        with stonks.start_run("exp", db=db_path) as run:
            run.log({"z": value, "ok": 1.0})
    assert logged(db_path, run.id) == {"ok": [1.0]}
    assert any("'z'" in r.getMessage() and "not a finite number" in r.getMessage() for r in caplog.records)
    with stonks.start_run("exp", db=db_path, strict=True) as strict_run:
        with pytest.raises(stonks.InvalidMetricError):
            strict_run.log({"z": value})


def test_numpy_complex_values_are_invalid_metrics(db_path: str) -> None:
    numpy = pytest.importorskip("numpy")
    with stonks.start_run("exp", db=db_path) as run:
        run.log({"c64": numpy.complex64(1 + 2j), "c128": numpy.complex128(1 + 2j), "array": numpy.array(1 + 2j)})
        run.log({"f": numpy.float64(0.5), "c0": numpy.complex128(3)})
    assert logged(db_path, run.id) == {"f": [0.5]}
