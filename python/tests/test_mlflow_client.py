"""The real MLflow client (mlflow-skinny, installed by .ci/run) logs into a real `stonks serve`.

An unmodified MLflow training script (tests/fixtures/interop/mlflow/train_mlflow.py) runs with
MLFLOW_TRACKING_URI pointing at the server; its runs are then read back through stonks' own
query API: experiment, run names, params as config, tags, notes, nested runs, statuses and every
point with its step.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO_ROOT

import stonks

CLI = REPO_ROOT / "dist" / "cli" / "main.js"
SCRIPT = REPO_ROOT / "tests" / "fixtures" / "interop" / "mlflow" / "train_mlflow.py"
TOKEN = "mlflow-admin-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Serve:
    def __init__(self, db: Path, token: str | None) -> None:
        node = shutil.which("node")
        if node is None or not CLI.exists():
            pytest.fail(f"the MLflow client test needs node and {CLI}: run `npm run build` first.")
        self.db = db
        self.url = f"http://127.0.0.1:{free_port()}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
        args = [node, str(CLI), "serve", "--db", str(db), "--port", self.url.rsplit(":", 1)[1]]
        self.process = subprocess.Popen(
            args + ([] if token is None else ["--token", token]),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert "stonks is serving" in line, line + self.process.stdout.read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    server = Serve(tmp_path / "server.db", TOKEN)
    yield server
    server.stop()


def train(server: Serve, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The training script in a fresh interpreter, configured only through MLflow's own variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STONKS_", "MLFLOW_"))}
    return subprocess.run(
        [sys.executable, str(SCRIPT)],
        cwd=cwd,
        env={**clean, "MLFLOW_TRACKING_URI": server.url, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_unmodified_mlflow_script_logs_into_stonks(serve: Serve, tmp_path: Path) -> None:
    done = train(serve, tmp_path, MLFLOW_TRACKING_TOKEN=TOKEN)
    assert done.returncode == 0, done.stderr
    read_back = json.loads(done.stdout.strip().splitlines()[-1])
    # What the script read back through the MLflow client: params as text, tags, the whole history.
    assert read_back["status"] == "FINISHED"
    assert read_back["params"] == {"lr": "0.001", "epochs": "5", "optimizer": "adam", "seed": "0042"}
    assert read_back["tags"] == {
        "team": "vision",
        "stage": "baseline",
        "mlflow.runName": "train",
        "mlflow.note.content": "first MLflow run",
    }
    assert sorted(map(tuple, read_back["history"])) == [(0, 1.0), (1, 0.5), (1, 9.0), (2, 1 / 3), (3, 0.25), (4, 0.2)]
    assert read_back["found"] == ["train"]

    with stonks.open(str(serve.db)) as db:
        experiment = db.get_experiment("mlflow-client")
        runs = {run.name: run for run in db.list_runs(experiment.id)}
        assert sorted(runs) == ["child", "crash", "train"]
        main = runs["train"]
        assert main.id.replace("-", "") == read_back["run_id"]
        assert main.status == "completed"
        assert main.config == {"lr": 0.001, "epochs": 5, "optimizer": "adam", "seed": "0042"}
        assert main.tags == ["team=vision", "stage=baseline"]
        assert main.notes == "first MLflow run"
        assert main.command == str(SCRIPT)
        assert main.sdk_language == "mlflow"
        assert main.ended_at is not None and main.ended_at >= main.created_at
        assert db.get_metric_keys(main.id) == ["acc", "loss", "val/loss"]
        loss = db.get_metrics(main.id, "loss")
        # Sorted by step on reading; the NaN logged at step 6 is not stored.
        assert list(zip(loss.steps, loss.values)) == [(0, 1.0), (1, 0.5), (1, 9.0), (2, 1 / 3), (3, 0.25), (4, 0.2)]
        assert all(math.isfinite(t) and t >= main.created_at - 1 for t in loss.timestamps)
        acc = db.get_metrics(main.id, "acc")
        assert list(zip(acc.steps, acc.values)) == [(step, step / 10) for step in range(5)]
        assert list(db.get_metrics(main.id, "val/loss").values) == [2 / (step + 1) for step in range(5)]

        child = runs["child"]
        assert child.group == "train"
        assert child.status == "completed"
        inner = db.get_metrics(child.id, "inner")
        assert (list(inner.steps), list(inner.values)) == ([3], [1.5])

        crash = runs["crash"]
        assert crash.status == "failed"
        assert list(db.get_metrics(crash.id, "loss").values) == [5.0]


def test_without_the_token_the_script_stops_with_the_servers_message(serve: Serve, tmp_path: Path) -> None:
    done = train(serve, tmp_path)
    assert done.returncode != 0
    assert "UNAUTHENTICATED" in done.stderr
    assert "This server needs a token: send Authorization: Bearer <token>." in done.stderr
    with stonks.open(str(serve.db)) as db:
        assert db.list_experiments() == []
