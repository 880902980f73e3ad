"""One file, two languages: Python and the TypeScript SDK/store read and write the same file."""

from __future__ import annotations

import json
import os
import random
import subprocess
from functools import partial

from conftest import dump_points, node_command, popen_python, query, run_node, run_python

import stonks
from stonks import _db, _store


def python_view(path: str):
    """The file as the Python query API sees it, in the TypeScript API's shape."""
    with stonks.open(path) as db:
        runs = []
        for run in db.list_runs():
            metrics = {}
            for key in db.get_metric_keys(run.id):
                series = db.get_metrics(run.id, key)
                metrics[key] = {
                    "steps": [float(s) for s in series.steps],
                    "values": series.values,
                    "timestamps": series.timestamps,
                }
            runs.append(
                {
                    "id": run.id,
                    "experimentId": run.experiment_id,
                    "name": run.name,
                    "status": run.status,
                    "stale": run.stale,
                    "config": run.config,
                    "tags": run.tags,
                    "group": run.group,
                    "jobType": run.job_type,
                    "notes": run.notes,
                    "color": run.color,
                    "createdAt": run.created_at,
                    "endedAt": run.ended_at,
                    "lastHeartbeat": run.last_heartbeat,
                    "revision": run.revision,
                    "provenance": {
                        "host": run.host,
                        "pid": run.pid,
                        "command": run.command,
                        "cwd": run.cwd,
                        "gitCommit": run.git_commit,
                        "gitDirty": run.git_dirty,
                        "sdkLanguage": run.sdk_language,
                        "sdkVersion": run.sdk_version,
                    },
                    "metrics": metrics,
                    "summaries": [
                        {
                            "key": s.key,
                            "count": s.count,
                            "lastStep": s.last_step,
                            "last": s.last,
                            "min": s.min,
                            "max": s.max,
                            "lastTime": s.last_time,
                        }
                        for s in db.get_summaries(run.id)
                    ],
                }
            )
        experiments = [
            {
                "id": e.id,
                "name": e.name,
                "description": e.description,
                "createdAt": e.created_at,
                "runCount": e.run_count,
                "projectId": e.project_id,
            }
            for e in db.list_experiments()
        ]
    return {"experiments": experiments, "runs": runs}


def test_a_file_written_by_python_reads_identically_through_typescript(db_path: str) -> None:
    with stonks.start_run(
        "cross",
        config={"lr": 0.1, "arch": {"depth": 18}, "tags": ["x"]},
        db=db_path,
        run_name="py-baseline",
        tags=["py", "fp16"],
        group="sweep-1",
        job_type="train",
        notes="written by python",
    ) as run:
        for step in range(3000):
            run.log({"train/loss": 1.0 / (step + 1), "train/acc": step % 3, "flag": step % 2 == 0}, step=step)
        run.log({"late": 5.0}, step=10)
        run.log({"late": 4.0}, step=2)
        run.log({"late": 3.0}, step=10)
        run.log_config({"lr": 0.05, "early_stopped_at": 50})
    try:
        with stonks.start_run("cross", db=db_path) as failed:
            failed.log({"x": -0.0})
            raise RuntimeError("x")
    except RuntimeError:
        pass
    with stonks.start_run("second-experiment", db=db_path) as other:
        other.log({"y": 1e-300})
    typescript = run_node("read_db.mjs", db_path)
    python = python_view(db_path)
    assert typescript == python
    runs = {r["id"]: r for r in typescript["runs"]}
    assert runs[run.id]["status"] == "completed" and runs[failed.id]["status"] == "failed"
    assert runs[run.id]["config"] == {"lr": 0.05, "arch": {"depth": 18}, "tags": ["x"], "early_stopped_at": 50}
    assert runs[run.id]["metrics"]["late"]["steps"] == [2, 10, 10]
    assert runs[run.id]["metrics"]["late"]["values"] == [4.0, 5.0, 3.0]
    assert runs[run.id]["metrics"]["train/loss"]["values"] == [1.0 / (s + 1) for s in range(3000)]
    assert runs[run.id]["provenance"]["sdkLanguage"] == "python"


def test_a_file_written_by_typescript_reads_identically_through_python(db_path: str) -> None:
    rng = random.Random(5)
    calls = [{"metrics": {"train/loss": rng.random(), "val/acc": rng.randint(0, 100)}, "step": s} for s in range(2500)]
    calls += [{"metrics": {"late": 1.5}, "step": 7}, {"metrics": {"late": 0.5}, "step": 3}, {"metrics": {"late": 2.5}}]
    spec = {
        "experiment": "cross-ts",
        "db": db_path,
        "config": {"lr": 0.1, "nested": {"a": [1, 2]}},
        "runName": "ts-baseline",
        "tags": ["ts"],
        "group": "g",
        "jobType": "eval",
        "notes": "from node",
        "logConfig": {"lr": 0.2, "extra": True},
        "calls": calls,
        "status": "interrupted",
    }
    ts_id = run_node("log_run.mjs", stdin=json.dumps(spec))["id"]
    typescript = run_node("read_db.mjs", db_path)
    python = python_view(db_path)
    assert python == typescript
    [run] = python["runs"]
    assert run["id"] == ts_id
    assert (run["name"], run["status"], run["tags"], run["group"], run["jobType"], run["notes"]) == (
        "ts-baseline",
        "interrupted",
        ["ts"],
        "g",
        "eval",
        "from node",
    )
    assert run["config"] == {"lr": 0.2, "nested": {"a": [1, 2]}, "extra": True}
    assert run["metrics"]["train/loss"]["values"] == [c["metrics"]["train/loss"] for c in calls[:2500]]
    assert run["metrics"]["val/acc"]["values"] == [float(c["metrics"]["val/acc"]) for c in calls[:2500]]
    assert run["metrics"]["late"]["steps"] == [3, 4, 7]
    assert run["metrics"]["late"]["values"] == [0.5, 2.5, 1.5]
    # Python keeps logging into the TypeScript-made file, and node still reads it.
    with stonks.start_run("cross-ts", db=db_path, resume=ts_id) as resumed:
        resumed.log({"train/loss": 0.125})
    with stonks.open(db_path) as db:
        series = db.get_metrics(ts_id, "train/loss")
        assert series.steps[-1] == 2500 and series.values[-1] == 0.125
    assert run_node("read_db.mjs", db_path) == python_view(db_path)


def strip_run_ids(dump):
    return {key.split("/", 1)[1]: value for key, value in dump.items()}


def python_append(path: str, series_batches) -> None:
    conn = _db.connect(path)
    try:
        seq = _db.run_immediate(
            conn,
            lambda: _store.insert_run(
                conn, _store.NewRun("rollups", None, {}, [], None, None, None, 1.0, {"sdk_language": "python"})
            ),
        ).seq
        for key, batches in series_batches.items():
            series_id = _db.run_immediate(conn, partial(_store.ensure_series, conn, seq, key))
            for steps, values, times in batches:
                _db.run_immediate(conn, partial(_store.append_points, conn, series_id, steps, values, times))
    finally:
        conn.close()


def typescript_append(path: str, series_batches) -> None:
    spec = {
        "db": path,
        "runs": [
            {
                "series": [
                    {"key": key, "batches": [{"steps": s, "values": v, "times": t} for s, v, t in batches]}
                    for key, batches in series_batches.items()
                ]
            }
        ],
    }
    run_node("append_points.mjs", stdin=json.dumps(spec))


def split(points, rng):
    steps, values, times = points
    batches, i = [], 0
    while i < len(values):
        size = rng.choice([1, 2, 63, 64, 100, 1000, 1024, 1500, 4096])
        batches.append((steps[i : i + size], values[i : i + size], times[i : i + size]))
        i += size
    return batches


def test_python_and_typescript_stores_write_identical_rows_for_the_same_points(tmp_path) -> None:
    rng = random.Random(11)
    n = 20_000
    monotonic = (
        list(range(n)),
        [rng.choice([0.0, -0.0, 1.0, -3.5, rng.random()]) for _ in range(n)],
        [1_700_000_000 + i / 7 for i in range(n)],
    )
    shuffled_steps = list(range(3000))
    rng.shuffle(shuffled_steps)
    unordered = (shuffled_steps, [float(rng.randint(-3, 3)) for _ in range(3000)], [float(i) for i in range(3000)])
    py_path, ts_path = str(tmp_path / "py.db"), str(tmp_path / "ts.db")
    python_append(py_path, {"train/loss": split(monotonic, rng), "val/x": split(unordered, rng)})
    typescript_append(ts_path, {"train/loss": split(monotonic, rng), "val/x": split(unordered, rng)})
    py_rows, ts_rows = strip_run_ids(dump_points(py_path)), strip_run_ids(dump_points(ts_path))
    assert py_rows["train/loss"]["rollups"] and py_rows["val/x"]["summary"][1] == 0
    assert py_rows == ts_rows


def test_rollups_of_points_logged_by_the_python_sdk_match_the_typescript_store(tmp_path) -> None:
    py_path, ts_path = str(tmp_path / "py.db"), str(tmp_path / "ts.db")
    rng = random.Random(2)
    with stonks.start_run("rollups", db=py_path) as run:
        for step in range(6000):
            run.log({"loss": rng.choice([0.5, 0.25, rng.random()]), "acc": step % 5}, step=step)
            if step % 1700 == 0:
                run.flush()
    with stonks.open(py_path) as db:
        logged = {key: db.get_metrics(run.id, key) for key in db.get_metric_keys(run.id)}
    typescript_append(ts_path, {key: [(s.steps, s.values, s.timestamps)] for key, s in logged.items()})
    assert strip_run_ids(dump_points(py_path)) == strip_run_ids(dump_points(ts_path))


def test_rollups_of_points_logged_by_the_typescript_sdk_match_the_python_store(tmp_path) -> None:
    ts_path, py_path = str(tmp_path / "ts.db"), str(tmp_path / "py.db")
    rng = random.Random(4)
    calls = [{"metrics": {"loss": rng.choice([0.5, 0.25, rng.random()])}, "step": s} for s in range(6000)]
    ts_id = run_node("log_run.mjs", stdin=json.dumps({"experiment": "rollups", "db": ts_path, "calls": calls}))["id"]
    with stonks.open(ts_path) as db:
        series = db.get_metrics(ts_id, "loss")
    python_append(py_path, {"loss": [(series.steps, series.values, series.timestamps)]})
    assert strip_run_ids(dump_points(ts_path)) == strip_run_ids(dump_points(py_path))


PYTHON_WRITER = """
    import sys, stonks
    db, name, points = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with stonks.start_run("many-writers", db=db, run_name=name, strict=True) as run:
        for step in range(points):
            run.log({"train/loss": step * 0.5, "train/acc": step % 7}, step=step)
            if step % 2500 == 0:
                run.flush()
    print(run.id)
    """


def test_eight_python_and_two_node_processes_log_into_one_file_at_once(db_path: str) -> None:
    points = 20_000
    # Create the file first so every writer meets the same schema.
    stonks.start_run("many-writers", db=db_path).finish()
    python = [popen_python(PYTHON_WRITER, db_path, f"py-{i}", str(points)) for i in range(8)]
    node = [
        subprocess.Popen(
            node_command("concurrent_writer.mjs", db_path, f"node-{i}", str(points)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for process in python + node:
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert err.strip() == "", err
    expected_loss = [s * 0.5 for s in range(points)]
    expected_acc = [float(s % 7) for s in range(points)]
    with stonks.open(db_path) as db:
        runs = [r for r in db.list_runs() if r.name]
        assert sorted(r.name for r in runs) == sorted([f"py-{i}" for i in range(8)] + ["node-0", "node-1"])
        for run in runs:
            assert run.status == "completed"
            loss = db.get_metrics(run.id, "train/loss")
            assert loss.steps == list(range(points)), run.name
            assert loss.values == expected_loss, run.name
            assert db.get_metrics(run.id, "train/acc").values == expected_acc, run.name
    assert query(db_path, "PRAGMA integrity_check") == [("ok",)]


PYTHON_RUN_ROWS = """
    import json, sys, time, stonks
    db = sys.argv[1]
    snapshots = []

    def snapshot(step, run_id):
        with stonks.open(db) as q:
            run = q.get_run(run_id)
        snapshots.append({
            "step": step, "revision": run.revision, "status": run.status, "name": run.name,
            "config": run.config, "tags": run.tags, "group": run.group, "jobType": run.job_type,
            "notes": run.notes,
            "provenance": {"host": run.host, "pid": run.pid, "command": run.command, "cwd": run.cwd,
                           "gitCommit": run.git_commit, "gitDirty": run.git_dirty,
                           "sdkLanguage": run.sdk_language, "sdkVersion": run.sdk_version},
        })

    run = stonks.start_run("rows", db=db, strict=True, run_name="first", tags=["a", "b"], group="g",
                           job_type="train", notes="n",
                           config={"lr": 0.1, "nested": {"layers": [64, 32], "act": "relu"}, "flag": True,
                                   "none": None})
    run.start()
    run.flush()
    snapshot("start", run.id)
    run.log({"loss": 1})
    time.sleep(1.0)
    run.flush()
    snapshot("log", run.id)
    run.log_config({"lr": 0.2, "extra": "x", "nested": {"act": "gelu"}})
    run.flush()
    snapshot("log_config", run.id)
    run.finish("completed")
    snapshot("finish", run.id)
    resumed = stonks.start_run("rows", db=db, strict=True, resume=run.id, tags=["c"], config={"resumed": True})
    resumed.start()
    resumed.flush()
    snapshot("resume", run.id)
    resumed.log({"loss": 2})
    time.sleep(1.0)
    resumed.flush()
    snapshot("resume_log", run.id)
    resumed.finish("failed")
    snapshot("resume_finish", run.id)
    print(json.dumps(snapshots))
    """


def test_both_sdks_write_the_same_run_rows_for_start_log_config_finish_and_resume(tmp_path) -> None:
    # A repository of our own, so the git commit and dirty flag are known.
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    (repo / "train.py").write_text("print('train')\n")
    subprocess.run([*git, "-C", str(repo), "add", "train.py"], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "-m", "x"], check=True)
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    py_db, ts_db = str(tmp_path / "py.db"), str(tmp_path / "ts.db")
    python = json.loads(run_python(PYTHON_RUN_ROWS, py_db, cwd=str(repo)).stdout)
    node = subprocess.run(
        node_command("run_rows.mjs", ts_db),
        check=False,
        cwd=str(repo),
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("STONKS_")},
    )
    assert node.returncode == 0, node.stderr
    typescript = json.loads(node.stdout)

    assert [s["step"] for s in python] == [s["step"] for s in typescript]
    for py, ts in zip(python, typescript):
        step = py["step"]
        # Every change of the row (start, git provenance, config, status, resume) takes one revision.
        assert py["revision"] - python[0]["revision"] == ts["revision"] - typescript[0]["revision"], step
        for field in ("status", "name", "config", "tags", "group", "jobType", "notes"):
            assert py[field] == ts[field], (step, field)
        for language, snapshot in (("python", py), ("typescript", ts)):
            provenance = snapshot["provenance"]
            assert provenance["sdkLanguage"] == language
            assert provenance["cwd"] == str(repo)
            for field in ("host", "pid", "command", "sdkVersion"):
                assert provenance[field], (language, step, field)
            if step != "start":
                assert (provenance["gitCommit"], provenance["gitDirty"]) == (head, False), (language, step)
    # start 1, git provenance 2, log_config 3, finish 4, resume 5 (git kept from the start), finish 6.
    assert [s["revision"] for s in typescript] == [1, 2, 3, 4, 5, 5, 6]
    assert typescript[-1]["config"] == {
        "lr": 0.2,
        "nested": {"act": "gelu"},
        "flag": True,
        "none": None,
        "extra": "x",
        "resumed": True,
    }


def color_indexes(path: str, experiment: str):
    return [
        row[0]
        for row in query(
            path,
            "SELECT r.color_index FROM runs r JOIN experiments e ON e.id = r.experiment_id "
            "WHERE e.name = ? ORDER BY r.seq",
            (experiment,),
        )
    ]


def test_both_sdks_give_a_new_run_the_same_palette_index_in_the_same_file(tmp_path) -> None:
    # The same creations and deletions, once all from Python and once with the languages taking turns:
    # each SDK sees runs the other created (and gaps the deletions left) and must choose as the other would.
    steps = [
        ("a", "py"),
        ("b", "ts"),
        ("a", "ts"),
        ("a", "py"),
        ("a", "ts"),
        ("delete", 2),
        ("b", "py"),
        ("a", "py"),
        ("a", "ts"),
        ("delete", 0),
        ("a", "ts"),
        ("a", "py"),
    ]

    def replay(path: str, mixed: bool):
        created = []
        for what, how in steps:
            if what == "delete":
                conn = _db.connect(path)
                try:
                    conn.execute("DELETE FROM runs WHERE id = ?", (created[how],))
                finally:
                    conn.close()
            elif mixed and how == "ts":
                spec = {"experiment": what, "db": path, "calls": []}
                created.append(run_node("log_run.mjs", stdin=json.dumps(spec))["id"])
            else:
                with stonks.start_run(what, db=path, strict=True) as run:
                    created.append(run.id)
        return {experiment: color_indexes(path, experiment) for experiment in ("a", "b")}

    mixed = replay(str(tmp_path / "mixed.db"), True)
    languages = dict(query(str(tmp_path / "mixed.db"), "SELECT sdk_language, count(*) FROM runs GROUP BY sdk_language"))
    assert languages == {"python": 4, "typescript": 4}
    assert mixed == replay(str(tmp_path / "python.db"), False)
    # Deleted runs free their indexes (1, then 0) for the next new run; the others keep theirs.
    assert mixed == {"a": [2, 3, 1, 4, 0, 5], "b": [0, 1]}
