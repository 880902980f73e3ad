"""`import stonks` time, in a fresh interpreter each time.

Run: python3 bench/py_import.py [runs]
Measured inside the child around the import statement (interpreter start-up excluded).
For context, the same for `import sqlite3` (what a naive SDK would pay at least).
"""

from __future__ import annotations

import subprocess
import sys

from py_common import child_env, compile_package, median

PROBE = "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"


def import_ms(module: str) -> float:
    env = child_env()
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)], env=env, capture_output=True, text=True, check=True
    )
    return float(done.stdout)


def measure(runs: int) -> dict:
    compile_package()
    ours = [import_ms("stonks") for _ in range(runs)]
    base = [import_ms("sqlite3") for _ in range(runs)]
    return {"stonks_ms": median(ours), "sqlite3_ms": median(base), "runs": runs}


if __name__ == "__main__":
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 21))
