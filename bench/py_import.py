"""`import stonks` time: whole fresh processes, `python3 -c "import stonks"` against `python3 -c "pass"`.

Run: python3 bench/py_import.py [runs]            (prints the numbers)
     python3 bench/py_import.py [runs] --write    (also writes its block of bench/RESULTS.md)

Each round starts one process of every kind, one after the other in a rotating order, and
times it from spawn to exit; the cost of an import is the median over rounds of (that
process - the bare one of the same round), so load that drifts over the run cancels out.
Twice: with `-S` (no site: what stonks itself adds to a bare interpreter) and as a user runs
it (site's .pth hooks may import modules, typing among them, that stonks would otherwise pay for).
For context, the same for `import sqlite3` (what a naive SDK would pay at least).
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import time

from py_common import child_env, compile_package, machine, median, write_results_block

BLOCK_ID = "py-import"
PROGRAMS = {"bare": "pass", "stonks": "import stonks", "sqlite3": "import sqlite3"}
# The import statement alone, timed inside the process: what -X importtime reports, free of process start-up noise.
INSIDE = "import time; t = time.perf_counter(); import stonks; print((time.perf_counter() - t) * 1000)"


def process_ms(flags: list[str], program: str, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *flags, "-c", program], env=env, check=True)
    return (time.perf_counter() - started) * 1000


def measure_with(flags: list[str], runs: int) -> dict:
    env = child_env()
    names = list(PROGRAMS)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(runs):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(process_ms(flags, PROGRAMS[name], env))
    bare = samples["bare"]
    return {
        "bare_ms": median(bare),
        "stonks_process_ms": median(samples["stonks"]),
        "stonks_ms": median([s - b for s, b in zip(samples["stonks"], bare)]),
        "sqlite3_ms": median([s - b for s, b in zip(samples["sqlite3"], bare)]),
    }


def inside_ms(runs: int) -> float:
    env = child_env()
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-S", "-c", INSIDE],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(done.stdout))
    return median(samples)


def measure(runs: int) -> dict:
    """``stonks_ms`` and ``sqlite3_ms``: what each import adds to a bare (-S) interpreter, median."""
    compile_package()
    bare = measure_with(["-S"], runs)
    with_site = measure_with([], runs)
    return {
        "stonks_ms": bare["stonks_ms"],
        "sqlite3_ms": bare["sqlite3_ms"],
        "inside_ms": inside_ms(runs),
        "bare": bare,
        "site": with_site,
        "runs": runs,
    }


def block(result: dict) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    bare, site = result["bare"], result["site"]
    lines = [
        "### `import stonks`, whole fresh processes",
        "",
        f"Command: `python3 bench/py_import.py {result['runs']} --write` ({datetime.date.today().isoformat()}). "
        f"Machine: {machine()}; load average {load:.1f} when it ended. Medians of {result['runs']} rounds; "
        'each round runs `python3 -c "pass"`, `python3 -c "import stonks"` and `python3 -c "import sqlite3"` '
        "and takes each one's spawn-to-exit time minus the bare one's.",
        "",
        "| interpreter | bare process | `import stonks` adds | `import sqlite3` adds |",
        "|---|---|---|---|",
        f"| `python3 -S` (no site) | {bare['bare_ms']:.1f} ms | {bare['stonks_ms']:.1f} ms | "
        f"{bare['sqlite3_ms']:.1f} ms |",
        f"| `python3` (with site) | {site['bare_ms']:.1f} ms | {site['stonks_ms']:.1f} ms | "
        f"{site['sqlite3_ms']:.1f} ms |",
        "",
        f"The import statement alone, timed inside a `python3 -S` process: {result['inside_ms']:.2f} ms "
        "(median; what `-X importtime` reports). Process start-up on this shared VM varies by more than that "
        "from one process to the next, so the whole-process differences above are within noise when the "
        "load is high.",
        "",
        "`import stonks` loads the package and its error classes only (no typing, sqlite3 or threading: "
        "`python/tests/test_values.py` checks the module list); the rest loads on first use. With site, "
        "this machine's .pth hooks already import typing and more before the script runs.",
        "",
        "Until 2026-12-06 `import stonks` imported typing, which cost a bare interpreter 12–18 ms in all; the "
        "0.8 ms of the Python SDK section's 2026-11-27 run timed the import statement in a process whose site "
        "had already imported typing. That row now comes from this benchmark's `-S` whole-process figure.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    args = [arg for arg in sys.argv[1:] if arg != "--write"]
    result = measure(int(args[0]) if args else 41)
    print(block(result))
    if "--write" in sys.argv[1:]:
        write_results_block(BLOCK_ID, block(result))
