"""Shared helpers: real SQLite files in tmp dirs, real Python and Node subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from array import array
from pathlib import Path
from typing import Any

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PYTHON_DIR.parent
NODE_HELPERS = Path(__file__).resolve().parent / "node_helpers"
DIST_INDEX = REPO_ROOT / "dist" / "index.js"

if str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "stonks.db")


@pytest.fixture(autouse=True)
def _no_stonks_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STONKS_DB", raising=False)
    monkeypatch.delenv("STONKS_FLUSH_INTERVAL", raising=False)
    monkeypatch.delenv("STONKS_MAX_PENDING_POINTS", raising=False)
    monkeypatch.delenv("STONKS_LOG_LEVEL", raising=False)


def python_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env["PYTHONPATH"] = str(PYTHON_DIR) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_python(
    code: str, *args: str, cwd: str | None = None, timeout: float = 60, check: bool = True, **env: str
) -> subprocess.CompletedProcess:
    """Runs a Python script (dedented) in a fresh interpreter that imports stonks from this checkout."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=cwd,
        env=python_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"python exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    return done


def popen_python(code: str, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=python_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def node_command(helper: str, *args: str) -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the cross-language tests need Node.js 20 (see ENGINEERING.md).")
    if not DIST_INDEX.exists():
        pytest.fail(
            f"{DIST_INDEX} is missing: run `npm run build` before the Python tests (the README test command does)."
        )
    return [node, str(NODE_HELPERS / helper), str(DIST_INDEX.parent), *args]


def run_node(helper: str, *args: str, timeout: float = 60, stdin: str | None = None) -> Any:
    """Runs a node helper and returns the JSON it prints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    done = subprocess.run(
        node_command(helper, *args), capture_output=True, text=True, timeout=timeout, input=stdin, env=env
    )
    if done.returncode != 0:
        raise AssertionError(f"node {helper} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    return json.loads(done.stdout) if done.stdout.strip() else None


def decode(blob: bytes) -> list[float]:
    values = array("d")
    values.frombytes(blob)
    if sys.byteorder != "little":
        values.byteswap()
    return values.tolist()


def dump_points(path: str) -> dict[str, Any]:
    """Every stored point-related row of a file, keyed by (run id, metric key), ids left out."""
    conn = sqlite3.connect(path)
    try:
        out: dict[str, Any] = {}
        series = conn.execute(
            """SELECT s.id, r.id, k.key, s.count, s.monotonic, s.first_step, s.last_step, s.last_value, s.last_time,
                      s.min_value, s.max_value
               FROM series s JOIN runs r ON r.seq = s.run_seq JOIN metric_keys k ON k.id = s.key_id"""
        ).fetchall()
        for sid, run_id, key, *summary in series:
            chunks = [
                (start, count, first, last, decode(steps), decode(vals), decode(times))
                for start, count, first, last, steps, vals, times in conn.execute(
                    "SELECT start_index, count, first_step, last_step, steps, vals, times FROM chunks "
                    "WHERE series_id = ? ORDER BY start_index",
                    (sid,),
                )
            ]
            rollups = conn.execute(
                "SELECT level, bucket, count, first_step, last_step, min_value, min_step, min_time, "
                "max_value, max_step, max_time FROM rollups WHERE series_id = ? ORDER BY level, bucket",
                (sid,),
            ).fetchall()
            out[f"{run_id}/{key}"] = {"summary": summary, "chunks": chunks, "rollups": rollups}
        return out
    finally:
        conn.close()


def query(path: str, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
