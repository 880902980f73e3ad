"""Golden vectors: SDK operations and the rows they must leave in the file (tests/vectors/*.json).

The TypeScript SDK checks the same files (tests/sdk-vectors.test.ts); neither needs the other runtime.
Placeholders (``<id:LABEL>``, ``<time>``, ...) are described in docs/schema.md.
"""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import subprocess
import time
from array import array
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT, run_python

import stonks

VECTORS = REPO_ROOT / "tests" / "vectors"
FILES = sorted(path.name for path in VECTORS.glob("*.json"))
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

RUN_OPERATIONS = """
    import json, os, sys, stonks
    vector = json.load(open(sys.argv[1], encoding="utf-8"))
    db = sys.argv[2]
    runs, ids = {}, {}
    for op in vector["operations"]:
        run = runs.get(op["run"])
        kind = op["op"]
        if kind == "start_run":
            names = ("run_name", "tags", "group", "job_type", "notes", "config", "project")
            options = {name: op[name] for name in names if name in op}
            if "resume" in op:
                options["resume"] = ids.get(op["resume"], op["resume"])
            run = stonks.start_run(op["experiment"], db=db, strict=True, **options)
            run.start()
            runs[op["run"]] = run
            ids.setdefault(op["run"], run.id)
        elif kind == "log":
            run.log(op["metrics"], step=op.get("step"))
        elif kind == "log_series":
            for i in range(op["count"]):
                run.log({op["key"]: op["first_value"] + i * op["value_step"]}, step=op["first_step"] + i)
        elif kind == "log_config":
            run.log_config(op["config"])
        elif kind == "set_notes":
            run.set_notes(op["notes"])
        elif kind == "set_tags":
            run.set_tags(op["tags"])
        elif kind == "flush":
            run.flush()
        elif kind == "finish":
            run.finish(op["status"])
        else:
            raise SystemExit("unknown operation " + kind)
    print(json.dumps({"pid": os.getpid(), "ids": ids}))
"""

OF_RUN_AND_KEY = "JOIN runs r ON r.seq = s.run_seq JOIN metric_keys k ON k.id = s.key_id"


def floats(blob: bytes) -> list[float]:
    values = array("d")
    values.frombytes(blob)
    return values.tolist()


def dump_rows(db: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables a vector covers, in a fixed order; blobs decoded, JSON text kept as text."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row

    def rows(sql: str) -> list[dict[str, Any]]:
        return [dict(row) for row in connection.execute(sql)]

    try:
        chunks = rows(f"""SELECT r.id AS run, k.key, c.start_index, c.count, c.first_step, c.last_step, c.steps,
            c.vals, c.times FROM chunks c JOIN series s ON s.id = c.series_id {OF_RUN_AND_KEY}
            ORDER BY s.run_seq, k.key, c.start_index""")
        for chunk in chunks:
            for column in ("steps", "vals", "times"):
                chunk[column] = floats(chunk[column])
        return {
            "projects": rows("SELECT id, name, created_at FROM projects ORDER BY name"),
            "experiments": rows("SELECT id, name, description, created_at, project_id FROM experiments ORDER BY name"),
            "runs": rows("""SELECT seq, id, experiment_id, name, status, config, tags, group_name, job_type, notes,
                color, created_at, ended_at, last_heartbeat, host, pid, command, cwd, git_commit, git_dirty,
                sdk_language, sdk_version, revision, color_index FROM runs ORDER BY seq"""),
            "series": rows(f"""SELECT r.id AS run, k.key, s.count, s.monotonic, s.first_step, s.last_step,
                s.last_value, s.last_time, s.min_value, s.max_value FROM series s {OF_RUN_AND_KEY}
                ORDER BY s.run_seq, k.key"""),
            "chunks": chunks,
            "rollups": rows(f"""SELECT r.id AS run, k.key, u.level, u.bucket, u.count, u.first_step, u.last_step,
                u.min_value, u.min_step, u.min_time, u.max_value, u.max_step, u.max_time, u.value_sum, u.step_sum
                FROM rollups u
                JOIN series s ON s.id = u.series_id {OF_RUN_AND_KEY} ORDER BY s.run_seq, k.key, u.level, u.bucket"""),
        }
    finally:
        connection.close()


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


class Context:
    """What the placeholders of a vector stand for in one execution of it."""

    def __init__(
        self, ids: dict[str, str], pid: int, cwd: str, git_commit: str | None, since: float, until: float
    ) -> None:
        self.ids = ids
        self.pid = pid
        self.cwd = cwd
        self.git_commit = git_commit
        self.since = since
        self.until = until
        self.bound: dict[str, str] = {}

    def in_window(self, value: Any) -> bool:
        return (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and self.since - 1 <= value <= self.until + 1
        )


def placeholder(name: str, label: str, actual: Any, path: str, context: Context) -> list[str]:
    def fail(what: str) -> list[str]:
        return [f"{path}: expected {what}, got {actual!r}"]

    if name == "id":
        if not isinstance(actual, str) or not UUID.match(actual):
            return fail("a UUID")
        known = context.bound.get(label, context.ids.get(label))
        if known is not None and known != actual:
            return fail(f"the id of {label} ({known})")
        context.bound[label] = actual
        return []
    if name == "time":
        return [] if context.in_window(actual) else fail("a time while the operations ran")
    if name == "times":
        ordered = isinstance(actual, list) and all(actual[i - 1] <= actual[i] for i in range(1, len(actual)))
        return [] if ordered and all(map(context.in_window, actual)) else fail("non-decreasing times while they ran")
    if name == "host":
        return [] if actual == socket.gethostname() else fail(f"this host ({socket.gethostname()})")
    if name == "pid":
        return [] if actual == context.pid else fail(f"the writing process's pid ({context.pid})")
    if name == "cwd":
        return [] if actual == context.cwd else fail(f"the directory the operations ran in ({context.cwd})")
    if name == "command":
        return [] if isinstance(actual, str) and actual else fail("a command line")
    if name == "git_commit":
        return [] if actual == context.git_commit else fail(f"the checkout's commit ({context.git_commit})")
    if name == "sdk_language":
        return [] if actual == "python" else fail('"python"')
    if name == "sdk_version":
        return [] if actual == stonks.__version__ else fail(f"this SDK's version ({stonks.__version__})")
    return [f"{path}: unknown placeholder <{name}>"]


def mismatches(expected: Any, actual: Any, path: str, context: Context) -> list[str]:
    """Every difference between expected (with placeholders) and actual rows, as "path: why" lines."""
    if isinstance(expected, str) and re.fullmatch(r"<[^<>]+>", expected):
        name, _, label = expected[1:-1].partition(":")
        return placeholder(name, label, actual, path, context)
    if isinstance(expected, dict) and "arithmetic" in expected:
        spec = expected["arithmetic"]
        expanded = [spec["first"] + i * spec["step"] for i in range(spec["count"])]
        return mismatches(expanded, actual, path, context)
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {actual!r}"]
        out = [] if len(expected) == len(actual) else [f"{path}: expected {len(expected)} items, got {len(actual)}"]
        for i, (want, got) in enumerate(zip(expected, actual)):
            out += mismatches(want, got, f"{path}[{i}]", context)
        return out
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        out = []
        for key in list(expected) + [k for k in actual if k not in expected]:
            if key not in expected or key not in actual:
                out.append(f"{path}.{key}: {'missing' if key not in actual else 'not in the vector'}")
            else:
                out += mismatches(expected[key], actual[key], f"{path}.{key}", context)
        return out
    same = type(expected) is type(actual) or {type(expected), type(actual)} <= {int, float}
    return [] if same and expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


def test_there_are_vectors_to_check() -> None:
    assert len(FILES) >= 2


@pytest.mark.parametrize("name", FILES)
def test_the_operations_leave_exactly_the_rows_of_the_vector(name: str, tmp_path: Path) -> None:
    vector = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    cwd = tmp_path.resolve()
    git_commit = None
    if vector["git"]:
        git(cwd, "init", "-q")
        (cwd / "train.py").write_text("print('train')\n")
        git(cwd, "add", "train.py")
        git(cwd, "commit", "-q", "-m", "x")
        git_commit = git(cwd, "rev-parse", "HEAD")
    (cwd / "out").mkdir()
    db = str(cwd / "out" / "vector.db")
    since = time.time()
    done = run_python(RUN_OPERATIONS, str(VECTORS / name), db, cwd=str(cwd))
    until = time.time()
    reply = json.loads(done.stdout.strip().splitlines()[-1])
    context = Context(reply["ids"], reply["pid"], str(cwd), git_commit, since, until)
    assert mismatches(vector["expect"], dump_rows(db), "rows", context) == []
