"""Remote mode with real processes: a real `stonks serve` (Node, dist/) and real Python SDK children.

Points must reach the server exactly once across a SIGKILLed server, a server that is down at start
(even after the logging process exited), and connections a proxy cuts or stalls.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT, python_env, run_python
from flaky_proxy import FlakyProxy

import stonks
from stonks import _ship

CLI = REPO_ROOT / "dist" / "cli" / "main.js"
UNREACHABLE = "unreachable ("
BACK = "is back;"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`stonks serve` on a fixed port, so it can be killed and started again at the same address."""

    def __init__(self, db: Path, port: int | None = None, token: str | None = None) -> None:
        self.db = db
        self.port = port or free_port()
        self.token = token
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        node = shutil.which("node")
        if node is None or not CLI.exists():
            pytest.fail(f"remote-mode tests need node and {CLI}: run `npm run build` first.")
        env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
        self.process = subprocess.Popen(
            [node, str(CLI), "serve", "--db", str(self.db), "--port", str(self.port)]
            + ([] if self.token is None else ["--token", self.token]),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert "stonks is serving" in line, line + self.process.stdout.read()
        return self

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None

    def get(self, path: str) -> Any:
        headers = {} if self.token is None else {"Authorization": f"Bearer {self.token}"}
        with urllib.request.urlopen(urllib.request.Request(self.url + path, headers=headers), timeout=10) as answer:
            return json.loads(answer.read())


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "spool"
    monkeypatch.setenv("STONKS_SPOOL_DIR", str(folder))
    return folder


@pytest.fixture
def server(tmp_path: Path):
    started = Server(tmp_path / "server.db").start()
    yield started
    started.stop()


def points_on_server(db: Path, run_id: str, key: str) -> list[int | float]:
    with stonks.open(str(db)) as database:
        return database.get_metrics(run_id, key).steps


def has_points(db: Path, run_id: str) -> bool:
    try:
        return len(points_on_server(db, run_id, "loss")) > 0
    except stonks.NotFoundError:
        return False


def spooled_run_ids(spool: Path) -> list[str]:
    files = list(spool.glob("*.db"))
    if not files:
        return []
    conn = sqlite3.connect(files[0])
    try:
        return [row[0] for row in conn.execute("SELECT id FROM runs")]
    finally:
        conn.close()


def wait_for(condition, what: str, seconds: float = 90.0) -> None:
    """Polls until ``condition()`` holds (a bound on a wait, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds:.0f} s for {what}")
        time.sleep(0.1)


# A child that logs two metrics at every step until stdin says "finish"; it says when it reaches each
# line it reads ("ack <line>"), prints its run id first and the last step it logged at the end.
LOGGER = """
import sys, threading, time, queue
import stonks
lines = queue.Queue()
threading.Thread(target=lambda: [lines.put(l.strip()) for l in sys.stdin], daemon=True).start()
step = 0
with stonks.start_run("remote", db=sys.argv[1], config={"lr": 0.1}) as run:
    print(run.id, flush=True)
    while True:
        run.log({"loss": 1.0 / (step + 1), "acc": step * 0.5}, step=step)
        step += 1
        if step % 50 == 0:
            time.sleep(0.002)
            try:
                line = lines.get_nowait()
            except queue.Empty:
                continue
            print("ack", line, flush=True)
            if line == "finish":
                break
    run.log_config({"steps": step})
print("steps", step, flush=True)
"""


def say(child: subprocess.Popen[str], line: str) -> None:
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(line + "\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == f"ack {line}"


def finish_child(child: subprocess.Popen[str]) -> tuple[int, str]:
    say(child, "finish")
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    return int(out.split()[-1]), err


def logger_process(url: str, spool: Path) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen(
        [sys.executable, "-c", LOGGER, url],
        env=python_env(STONKS_SPOOL_DIR=str(spool)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    assert run_id, child.stderr.read() if child.stderr else ""
    return child, run_id


def test_every_point_arrives_once_across_a_server_sigkill_and_restart(tmp_path: Path, spool_dir: Path) -> None:
    server = Server(tmp_path / "server.db").start()
    try:
        child, run_id = logger_process(server.url, spool_dir)
        time.sleep(0.5)
        say(child, "logging")
        # Killed while points are being logged and shipped: a batch may be half way.
        server.kill()
        time.sleep(0.5)
        say(child, "server down")
        time.sleep(1.0)
        server.start()
        say(child, "server up")
        time.sleep(0.5)
        steps, err = finish_child(child)
        for key in ("loss", "acc"):
            assert points_on_server(server.db, run_id, key) == list(range(steps))
        run = server.get(f"/api/runs/{run_id}")
        assert run["status"] == "completed"
        assert run["config"] == {"lr": 0.1, "steps": steps}
        assert err.count(UNREACHABLE) == 1, err
        assert err.count(BACK) == 1, err
        # Finished and acknowledged: gone from the spool.
        assert spooled_run_ids(spool_dir) == []
    finally:
        server.stop()


def test_a_server_down_at_start_gets_the_points_once_it_is_up(tmp_path: Path, spool_dir: Path) -> None:
    server = Server(tmp_path / "server.db")
    child, run_id = logger_process(server.url, spool_dir)
    say(child, "logged while down")
    server.start()
    try:
        # The running process sends its spool once the server answers (its backoff is at most 30 s).
        wait_for(lambda: has_points(server.db, run_id), "the first points on the server")
        steps, err = finish_child(child)
        assert points_on_server(server.db, run_id, "loss") == list(range(steps))
        assert points_on_server(server.db, run_id, "acc") == list(range(steps))
        assert err.count(UNREACHABLE) == 1 and err.count(BACK) == 1, err
    finally:
        server.stop()


def test_a_process_that_exits_while_the_server_is_away_leaves_its_spool_for_the_next(
    tmp_path: Path, spool_dir: Path
) -> None:
    server = Server(tmp_path / "server.db")
    first = run_python(
        """
        import sys, stonks
        with stonks.start_run("offline", db=sys.argv[1], tags=["a"], notes="n") as run:
            for step in range(3000):
                run.log({"loss": step * 0.25}, step=step)
            run.set_tags(["a", "b"])
        print(run.id)
        """,
        server.url,
        STONKS_SPOOL_DIR=str(spool_dir),
    )
    offline_id = first.stdout.strip()
    assert first.stderr.count(UNREACHABLE) == 1, first.stderr
    assert spooled_run_ids(spool_dir) == [offline_id]
    server.start()
    try:
        second = run_python(
            """
            import sys, stonks
            with stonks.start_run("online", db=sys.argv[1]) as run:
                run.log({"x": 1.0})
            print(run.id)
            """,
            server.url,
            STONKS_SPOOL_DIR=str(spool_dir),
        )
        online_id = second.stdout.strip()
        # The leftover is shipped in the background: wait for it, then check every point once.
        wait_for(lambda: spooled_run_ids(spool_dir) == [], "the spool to empty")
        assert points_on_server(server.db, offline_id, "loss") == list(range(3000))
        assert points_on_server(server.db, online_id, "x") == [0]
        offline = server.get(f"/api/runs/{offline_id}")
        assert offline["status"] == "completed"
        assert offline["tags"] == ["a", "b"] and offline["notes"] == "n"
    finally:
        server.stop()


def test_cut_and_stalled_connections_lose_and_double_nothing(tmp_path: Path, spool_dir: Path) -> None:
    server = Server(tmp_path / "server.db").start()
    # The first connections: a request cut half way, an answer lost after the server stored the
    # points (the resend must be skipped by its start index), a stalled request, then a clean line.
    proxy = FlakyProxy(server.port, [("cut_response", 20), ("cut_request", 300), ("stall", 1.5)])
    try:
        child, run_id = logger_process(proxy.url, spool_dir)
        wait_for(lambda: len(proxy.applied) == 3 and has_points(server.db, run_id), "the first rules to pass")
        say(child, "through the proxy")
        # Two answers lost once the kept-alive connection is gone: both are resends of points.
        proxy.add(("cut_response", 10), ("cut_response", 10))
        proxy.drop_connections()
        wait_for(lambda: len(proxy.applied) == 5, "the later rules to be used")
        say(child, "after the lost answers")
        steps, err = finish_child(child)
        assert [rule[0] for rule in proxy.applied] == [
            "cut_response",
            "cut_request",
            "stall",
            "cut_response",
            "cut_response",
        ]
        for key in ("loss", "acc"):
            assert points_on_server(server.db, run_id, key) == list(range(steps))
        # Each outage is told once when it starts and once when it ends.
        assert err.count(UNREACHABLE) == err.count(BACK) >= 1, err
        assert spooled_run_ids(spool_dir) == []
    finally:
        proxy.close()
        server.stop()


def test_strict_mode_raises_once_more_points_wait_than_the_spool_limit(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STONKS_SPOOL_MAX_POINTS", "500")
    url = f"http://127.0.0.1:{free_port()}"
    run = stonks.start_run("strict-remote", db=url, strict=True).start()
    try:
        for step in range(400):
            run.log({"loss": 0.5}, step=step)
        run.flush()
        for step in range(400, 800):
            run.log({"loss": 0.5}, step=step)
        with pytest.raises(stonks.WriteError, match="STONKS_SPOOL_MAX_POINTS=500"):
            run.flush()
        with pytest.raises(stonks.WriteError, match="800 points"):
            run.log({"loss": 0.5})
    finally:
        run.finish()
    # Nothing was dropped: the spool holds every point for the server.
    conn = sqlite3.connect(run.db)
    try:
        assert conn.execute("SELECT SUM(count) FROM series").fetchone()[0] == 800
    finally:
        conn.close()


def test_default_mode_keeps_logging_past_the_spool_limit(spool_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STONKS_SPOOL_MAX_POINTS", "100")
    url = f"http://127.0.0.1:{free_port()}"
    with stonks.start_run("default-remote", db=url) as run:
        for step in range(300):
            run.log({"loss": 0.5}, step=step)
        run.flush()
        run.log({"loss": 0.5}, step=300)
    conn = sqlite3.connect(run.db)
    try:
        assert conn.execute("SELECT SUM(count) FROM series").fetchone()[0] == 301
    finally:
        conn.close()


def test_resume_of_a_run_only_the_server_has_continues_its_steps(tmp_path: Path, spool_dir: Path) -> None:
    server = Server(tmp_path / "server.db").start()
    try:
        first = run_python(
            """
            import sys, stonks
            with stonks.start_run("resumed", db=sys.argv[1], config={"lr": 0.1}, tags=["x"]) as run:
                for step in range(100):
                    run.log({"loss": step * 1.0})
            print(run.id)
            """,
            server.url,
            STONKS_SPOOL_DIR=str(spool_dir),
        )
        run_id = first.stdout.strip()
        assert spooled_run_ids(spool_dir) == []
        # Another machine (its own spool) resumes it.
        other_spool = tmp_path / "other-spool"
        run_python(
            """
            import sys, stonks
            with stonks.start_run("resumed", db=sys.argv[1], resume=sys.argv[2], config={"epochs": 3}) as run:
                assert run.config == {"lr": 0.1, "epochs": 3}, run.config
                assert run.tags == ["x"], run.tags
                for _ in range(50):
                    run.log({"loss": -1.0})
                run.set_notes("resumed")
            """,
            server.url,
            run_id,
            STONKS_SPOOL_DIR=str(other_spool),
        )
        assert points_on_server(server.db, run_id, "loss") == list(range(150))
        run = server.get(f"/api/runs/{run_id}")
        assert run["status"] == "completed" and run["notes"] == "resumed"
        assert run["config"] == {"lr": 0.1, "epochs": 3}
    finally:
        server.stop()


def test_the_spool_file_is_named_by_the_server_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STONKS_SPOOL_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    import hashlib

    digest = hashlib.sha256(b"http://host:8000").hexdigest()[:16]
    expected = str(tmp_path / "cache" / "stonks" / "spool" / f"{digest}.db")
    assert _ship.spool_path("http://host:8000") == expected
    assert stonks.start_run("e", db="http://host:8000/").db == expected
    monkeypatch.setenv("STONKS_SPOOL_DIR", str(tmp_path / "elsewhere"))
    assert _ship.spool_path("http://host:8000") == str(tmp_path / "elsewhere" / f"{digest}.db")


def test_a_token_is_sent_and_a_wrong_one_is_told(tmp_path: Path, spool_dir: Path) -> None:
    server = Server(tmp_path / "server.db", token="s3cret").start()
    try:
        good = run_python(
            """
            import sys, stonks
            with stonks.start_run("auth", db=sys.argv[1]) as run:
                run.log({"loss": 1.0})
            print(run.id)
            """,
            server.url,
            STONKS_SPOOL_DIR=str(spool_dir),
            STONKS_TOKEN="s3cret",
        )
        assert points_on_server(server.db, good.stdout.strip(), "loss") == [0]
        bad = run_python(
            """
            import sys, stonks
            with stonks.start_run("auth", db=sys.argv[1], token="wrong") as run:
                run.log({"loss": 1.0})
            """,
            server.url,
            STONKS_SPOOL_DIR=str(tmp_path / "bad-spool"),
        )
        assert "refused the points (PUT" in bad.stderr and "HTTP 401" in bad.stderr, bad.stderr
    finally:
        server.stop()


def test_an_idle_run_beats_its_heartbeat_on_the_server(server: Server, spool_dir: Path) -> None:
    child = run_python(
        """
        import sys, time, stonks
        with stonks.start_run("beat", db=sys.argv[1]) as run:
            run.log({"loss": 1.0})
            run.flush()
            print(run.id, flush=True)
            time.sleep(1.5)
            print(run._shipper.sync(10), flush=True)
            time.sleep(0.5)
        """,
        server.url,
        STONKS_SPOOL_DIR=str(spool_dir),
        STONKS_FLUSH_INTERVAL="0.2",
    )
    run_id = child.stdout.split()[0]
    run = server.get(f"/api/runs/{run_id}")
    # The writer's heartbeat in the spool reached the server while nothing was logged.
    assert run["last_heartbeat"] - run["created_at"] >= 1.0
