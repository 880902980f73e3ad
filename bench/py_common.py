"""Shared helpers of the Python SDK benchmarks (bench/py_*.py)."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path
from typing import List

REPO = Path(__file__).resolve().parents[1]
PYTHON_DIR = REPO / "python"
RESULTS = REPO / "bench" / "RESULTS.md"
START = "<!-- python-sdk benchmarks: start -->"
END = "<!-- python-sdk benchmarks: end -->"

if str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))


def child_env() -> dict:
    """Environment of benchmark child processes: stonks from this checkout, bytecode cached
    (as after pip install, which compiles it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("STONKS_")}
    env["PYTHONPATH"] = str(PYTHON_DIR)
    return env


def compile_package() -> None:
    import compileall

    compileall.compile_dir(str(PYTHON_DIR / "stonks"), quiet=1)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import sqlite3

    return (
        f"{os.cpu_count()} × {cpu}, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{platform.system()} {platform.release()}"
    )


def median(samples: List[float]) -> float:
    return statistics.median(samples)


def scratch_db(name: str = "bench.db") -> str:
    return os.path.join(tempfile.mkdtemp(prefix="stonks-bench-"), name)


def row(what: str, value: str, goal: str, baseline: str = "", ratio: str = "", note: str = "") -> str:
    return f"| {what} | {value} | {goal} | {baseline} | {ratio} | {note} |"


HEADER = [
    "| measurement | stonks (median) | goal | baseline (same run) | ratio | note |",
    "|---|---|---|---|---|---|",
]


def write_results_block(block_id: str, markdown: str) -> None:
    """Replaces the block between ``<!-- id:start -->`` and ``<!-- id:end -->`` of bench/RESULTS.md,
    or adds it after the Python SDK section (as bench/results.mjs does for the others)."""
    start, end = f"<!-- {block_id}:start -->", f"<!-- {block_id}:end -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    # Read right before writing: other benchmarks write to the same file.
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    elif END in text:
        cut = text.index(END) + len(END)
        text = text[:cut] + "\n\n" + block + text[cut:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")
