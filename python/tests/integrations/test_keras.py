"""stonks.integrations.keras with real Keras 3 on the torch backend: a tiny model fitted a few
epochs on CPU, read back through stonks.open()."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import run_python
from framework_helpers import framework

import stonks


def _model_and_data() -> Any:
    keras = framework("keras", "keras")
    numpy = framework("numpy", "numpy")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    x = numpy.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    return model, x, x.sum(axis=1, keepdims=True)


def test_callback_records_batches_epochs_validation_and_fit_parameters(db_path: str) -> None:
    from stonks.integrations.keras import StonksCallback

    model, x, y = _model_and_data()
    # 24 training samples in batches of 8: 3 steps per epoch; 8 samples for validation.
    callback = StonksCallback("keras-mlp", db=db_path, name="adam", config={"units": 4})
    model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0, callbacks=[callback])

    with stonks.open(db_path) as db:
        (run,) = db.list_runs()
        assert (run.name, run.status) == ("adam", "completed")
        assert run.config["units"] == 4
        assert (run.config["epochs"], run.config["steps"]) == (2, 3)
        assert run.config["optimizer"]["name"] == "adam"
        assert run.config["optimizer"]["learning_rate"] == pytest.approx(0.01)
        assert db.get_metrics(run.id, "batch/loss").steps == [1, 2, 3, 4, 5, 6]
        assert db.get_metrics(run.id, "batch/mae").steps == [1, 2, 3, 4, 5, 6]
        for key in ("epoch/loss", "epoch/mae", "epoch/val_loss", "epoch/val_mae"):
            assert db.get_metrics(run.id, key).steps == [3, 6], key
        assert db.get_metrics(run.id, "epoch/epoch").values == [0.0, 1.0]
        losses = db.get_metrics(run.id, "epoch/loss").values
        assert all(loss > 0 for loss in losses)


def test_epochs_only_into_a_run_the_user_started(db_path: str) -> None:
    from stonks.integrations.keras import StonksCallback

    model, x, y = _model_and_data()
    with stonks.start_run("mine", db=db_path) as run:
        model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[StonksCallback(run=run, log_every_n_batches=0)])
        with stonks.open(db_path) as db:
            assert db.get_run(run.id).status == "running", "a run the user passed stays open"
    with stonks.open(db_path) as db:
        keys = db.get_metric_keys(run.id)
        assert "batch/loss" not in keys
        assert db.get_metrics(run.id, "epoch/loss").steps == [2, 4, 6]


def test_importing_without_keras_says_what_to_install() -> None:
    done = run_python(
        """
        import sys
        sys.modules["keras"] = None
        try:
            import stonks.integrations.keras
        except ImportError as error:
            print(error)
        """
    )
    assert "pip install keras" in done.stdout


def test_keras_without_a_backend_names_the_import_that_failed() -> None:
    done = run_python(
        """
        import sys
        sys.modules["torch"] = None
        try:
            import stonks.integrations.keras
        except ImportError as error:
            print(error)
        """,
        KERAS_BACKEND="torch",
    )
    assert "stonks.integrations.keras could not import keras" in done.stdout
