"""Where a run comes from: host, pid, command line, cwd, git commit and dirty flag."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

GIT_TIMEOUT_S = 2.0


def _hostname() -> str | None:
    if hasattr(os, "uname"):
        return os.uname().nodename
    return os.environ.get("COMPUTERNAME")


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")


def _quote(arg: str) -> str:
    """shlex.quote, without importing shlex (and compiling its regex) on the start_run() path."""
    if arg and all(c in _SAFE for c in arg):
        return arg
    return "'" + arg.replace("'", "'\"'\"'") + "'"


def _command_line() -> str:
    argv = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    return " ".join(_quote(str(arg)) for arg in argv)


def cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:
        return None


def basic(sdk_version: str) -> dict[str, Any]:
    """Everything but git (which needs a subprocess, so it is captured in the background)."""
    return {
        "host": _hostname(),
        "pid": os.getpid(),
        "command": _command_line(),
        "cwd": cwd(),
        "git_commit": None,
        "git_dirty": None,
        "sdk_language": "python",
        "sdk_version": sdk_version,
    }


def git_state(directory: str | None) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git checkout holding directory; (None, None) outside one or on any failure."""
    if directory is None:
        return None, None
    import subprocess

    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
            cwd=directory,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    if done.returncode != 0:
        return None, None
    commit = None
    dirty = False
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("# branch.oid "):
            oid = line[len("# branch.oid ") :].strip()
            commit = oid if oid != "(initial)" else None
        elif line and not line.startswith("#"):
            dirty = True
    return commit, dirty
