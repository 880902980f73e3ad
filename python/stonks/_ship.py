"""Remote mode: a run logs into a local spool file and a shipper sends it to a stonks server.

The spool is a normal stonks file (one per server URL, shared by every process) that the run's
writer writes exactly as in local mode. After each write it wakes this process's Shipper of that
URL, a daemon thread that sends what the server lacks: PUT /api/runs/{id} (metadata, answered
with the server's point count per series), then POST /api/runs/{id}/points from those counts on.
A point is identified by its index in its series, so a resend never doubles it. A run that is
finished and entirely on the server leaves the spool. The protocol: docs/rest-api.md.

Standard library only, loaded only in remote mode.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import sqlite3
import threading
import urllib.parse
from functools import partial
from time import monotonic
from time import time as _now

from . import _db, _store
from ._background import Background
from ._errors import StonksError
from ._log import warn

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from typing import Any

    from ._run import Run

CONNECT_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 30.0
MAX_POINTS_PER_POST = 50_000
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
# A cycle also runs this often without a write: it beats the heartbeat and retries.
TICK_S = 5.0
DEFAULT_SPOOL_MAX_POINTS = 5_000_000
# A run of another host whose heartbeat is older than this has no live owner (readers use the same 60 s).
STALE_AFTER_S = 60.0

# Columns of _store.spool_runs().
(
    _SEQ,
    _ID,
    _REVISION,
    _STATUS,
    _HOST,
    _PID,
    _HEARTBEAT,
    _EXPERIMENT,
    _PROJECT,
    _NAME,
    _CONFIG,
    _TAGS,
    _GROUP,
    _JOB_TYPE,
    _NOTES,
    _COLOR,
    _CREATED,
    _ENDED,
    _COMMAND,
    _CWD,
    _GIT_COMMIT,
    _GIT_DIRTY,
    _SDK_LANGUAGE,
    _SDK_VERSION,
) = range(24)


def normalize_url(url: str) -> str:
    """The server URL without trailing slashes: "http://h:1/" and "http://h:1" share one spool (as in TypeScript)."""
    return url.rstrip("/")


def spool_path(url: str) -> str:
    """``$STONKS_SPOOL_DIR`` or ``${XDG_CACHE_HOME:-~/.cache}/stonks/spool``, file ``<16 hex of sha256(url)>.db``."""
    folder = os.environ.get("STONKS_SPOOL_DIR", "")
    if not folder:
        cache = os.environ.get("XDG_CACHE_HOME", "") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(cache, "stonks", "spool")
    digest = hashlib.sha256(normalize_url(url).encode("utf-8")).hexdigest()[:16]
    return os.path.join(folder, digest + ".db")


def spool_limit() -> int:
    try:
        return int(os.environ.get("STONKS_SPOOL_MAX_POINTS", "") or DEFAULT_SPOOL_MAX_POINTS)
    except ValueError:
        return DEFAULT_SPOOL_MAX_POINTS


class ServerError(Exception):
    """A request that did not succeed; the message says why (used in the "unreachable" warning).
    ``refused``: the server answered with an error (a token without the write role, for example)."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class Client:
    """One keep-alive connection to the server; every request has the protocol's timeouts."""

    def __init__(self, url: str, token: str | None) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise StonksError(f"{url} is not a server address; write it as http://host:port or https://host:port.")
        self.url = url
        self._https = parts.scheme.lower() == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._base = parts.path.rstrip("/")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=CONNECT_TIMEOUT_S, context=_ssl_context()
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=CONNECT_TIMEOUT_S)
        conn.connect()
        if conn.sock is not None:
            conn.sock.settimeout(REQUEST_TIMEOUT_S)
        return conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, parsed JSON answer or None). Raises ServerError when no answer came back."""
        data = None if body is None else json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
        for attempt in (1, 2):
            reused = self._conn is not None
            try:
                if self._conn is None:
                    self._conn = self._connect()
                self._conn.request(method, self._base + path, body=data, headers=self._headers)
                response = self._conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException) as error:
                self.close()
                # A kept-alive connection the server closed while idle fails once; a new one is tried.
                if reused and attempt == 1:
                    continue
                raise ServerError(_reason(error)) from None
            if response.will_close:
                self.close()
            try:
                answer = json.loads(raw) if raw else None
            except ValueError:
                answer = None
            return response.status, answer
        raise AssertionError("unreachable")


def _ssl_context() -> ssl.SSLContext:
    import ssl

    return ssl.create_default_context(cafile=os.environ.get("STONKS_CA_FILE") or None)


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    text = str(error) or type(error).__name__
    return text


def _refused(method: str, path: str, status: int, answer: Any) -> ServerError:
    message = ""
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        message = f": {answer['error'].get('message')}"
    # A 5xx is the server being away or failing; a 4xx is an answer that retrying alone does not change.
    return ServerError(f"{method} {path} answered HTTP {status}{message}", refused=400 <= status < 500)


def _b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode("ascii")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class Shipper:
    """Sends a spool file's runs to a server from a daemon thread; one per URL and process."""

    def __init__(self, url: str, token: str | None, path: str) -> None:
        self.url = url
        self.path = path
        self.limit = spool_limit()
        #: Points in the spool the server does not have yet (this process's runs and leftovers).
        self.unsent = 0
        #: Why the server is unreachable; None while it answers.
        self.unreachable: str | None = None
        self._client = Client(url, token)
        self._host = os.uname().nodename if hasattr(os, "uname") else None
        self._pid = os.getpid()
        self._wake = threading.Event()
        self._cond = threading.Condition()
        self._requested = 0
        self._completed = 0
        self._retry_now = False
        self._runs: dict[int, Run] = {}
        # Per run id: the server's point count per key, and the revision its metadata was sent at.
        self._counts: dict[str, dict[str, int]] = {}
        self._sent_revision: dict[str, int] = {}
        self._heartbeat_sent: dict[str, float] = {}
        self._sent_while_away = 0
        self._warned_limit = False
        self._thread = Background(self._main)

    def register(self, run: Run) -> None:
        with self._cond:
            self._runs[id(run)] = run

    def unregister(self, run: Run) -> None:
        with self._cond:
            self._runs.pop(id(run), None)

    def wake(self) -> None:
        self._wake.set()

    def over_limit(self) -> bool:
        return self.unsent > self.limit

    def sync(self, timeout: float, *, retry_now: bool = False) -> bool:
        """Waits (at most ``timeout`` s) for a ship cycle that starts after this call; True when it sent everything.

        ``retry_now``: that cycle tries the server even while backing off (finish: the server may be back)."""
        with self._cond:
            self._requested += 1
            wanted = self._requested
            self._retry_now = self._retry_now or retry_now
        self._wake.set()
        deadline = monotonic() + timeout
        with self._cond:
            while self._completed < wanted and self._thread.is_alive():
                left = deadline - monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 1.0))
            return self.unreachable is None and self.unsent == 0

    # ------------------------------------------------------------------ the thread

    def _main(self) -> None:
        conn: sqlite3.Connection | None = None
        failures = 0
        retry_at = 0.0
        next_tick = monotonic()
        while True:
            wait = (retry_at if failures else next_tick) - monotonic()
            if wait > 0:
                self._wake.wait(wait)
            self._wake.clear()
            with self._cond:
                requested = self._requested
                retry_now = self._retry_now
                self._retry_now = False
            try:
                if conn is None:
                    conn = _db.connect(self.path)
                    conn.text_factory = _store.decode_text
                runs, series = _db.read_snapshot(conn, partial(_read_spool, conn))
            except (StonksError, sqlite3.Error) as error:
                if conn is None and failures == 0:
                    warn(f"stonks cannot read its spool file {self.path} ({error}); nothing is sent to {self.url}.")
                failures += 1
                retry_at = monotonic() + MAX_BACKOFF_S
                self._done(requested)
                continue
            shipped = [run for run in runs if self._ships(run)]
            local: dict[int, dict[str, tuple[int, int]]] = {}
            for run_seq, key, series_id, count in series:
                local.setdefault(run_seq, {})[key] = (series_id, count)
            self._count_unsent(shipped, local)
            if not failures or retry_now or monotonic() >= retry_at:
                try:
                    self._ship(conn, shipped, local)
                    if failures:
                        warn(f"stonks: server {self.url} is back; {self._sent_while_away} points sent")
                    failures = 0
                    self.unreachable = None
                except ServerError as error:
                    self._client.close()
                    failures += 1
                    retry_at = monotonic() + min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** min(failures - 1, 10))
                    if self.unreachable is None:
                        self._sent_while_away = 0
                        state = "refused the points" if error.refused else "unreachable"
                        warn(
                            f"stonks: server {self.url} {state} ({error}); points are kept in {self.path} "
                            "and sent when it is back"
                        )
                    self.unreachable = str(error)
                self._count_unsent(shipped, local)
                next_tick = monotonic() + TICK_S
            self._done(requested)

    def _done(self, requested: int) -> None:
        with self._cond:
            self._completed = max(self._completed, requested)
            self._cond.notify_all()

    def _ships(self, run: tuple[Any, ...]) -> bool:
        """This process ships its own runs and those no live process owns (leftovers)."""
        return self._owned(run) or not self._owner_alive(run)

    def _owned(self, run: tuple[Any, ...]) -> bool:
        return bool(run[_PID] == self._pid and run[_HOST] == self._host)

    def _owner_alive(self, run: tuple[Any, ...]) -> bool:
        if run[_HOST] == self._host:
            return isinstance(run[_PID], int) and _alive(run[_PID])
        heartbeat = run[_HEARTBEAT]
        return heartbeat is not None and _now() - heartbeat < STALE_AFTER_S

    def _count_unsent(self, runs: list[tuple[Any, ...]], local: dict[int, dict[str, tuple[int, int]]]) -> None:
        unsent = 0
        for run in runs:
            on_server = self._counts.get(run[_ID], {})
            for key, (_, count) in local.get(run[_SEQ], {}).items():
                unsent += max(0, count - on_server.get(key, 0))
        self.unsent = unsent
        if unsent > self.limit:
            with self._cond:
                registered = list(self._runs.values())
            for registered_run in registered:
                if registered_run.strict:
                    registered_run._spool_full = True
                    registered_run._accepting = False
            if not self._warned_limit:
                self._warned_limit = True
                warn(
                    f"stonks: {unsent} points wait in {self.path} for {self.url}, more than "
                    f"STONKS_SPOOL_MAX_POINTS={self.limit}; they are kept on disk (strict runs raise)."
                )
        elif unsent <= self.limit // 2:
            self._warned_limit = False

    def _ship(
        self, conn: sqlite3.Connection, runs: list[tuple[Any, ...]], local: dict[int, dict[str, tuple[int, int]]]
    ) -> None:
        for run in runs:
            run_id: str = run[_ID]
            series = local.get(run[_SEQ], {})
            counts = self._counts.get(run_id)
            if counts is None or self._sent_revision.get(run_id) != run[_REVISION]:
                counts = self._put(run)
            elif run[_STATUS] == "running" and self._owned(run):
                self._heartbeat(run)
            if not self._send_points(conn, run_id, series, counts):
                continue
            finished = run[_STATUS] != "running" or (not self._owned(run) and not self._owner_alive(run))
            if finished and all(counts.get(key, 0) >= count for key, (_, count) in series.items()):
                self._forget(conn, run)

    def _put(self, run: tuple[Any, ...]) -> dict[str, int]:
        run_id: str = run[_ID]
        path = f"/api/runs/{urllib.parse.quote(run_id, safe='')}"
        body = {
            "experiment": run[_EXPERIMENT],
            "project": run[_PROJECT],
            "name": run[_NAME],
            "config": _store.from_json(run[_CONFIG]) if run[_CONFIG] else {},
            "tags": _store.from_json(run[_TAGS]) if run[_TAGS] else [],
            "group": run[_GROUP],
            "jobType": run[_JOB_TYPE],
            "notes": run[_NOTES],
            "color": run[_COLOR],
            "createdAt": run[_CREATED],
            "provenance": {
                "host": run[_HOST],
                "pid": run[_PID],
                "command": run[_COMMAND],
                "cwd": run[_CWD],
                "gitCommit": run[_GIT_COMMIT],
                "gitDirty": None if run[_GIT_DIRTY] is None else bool(run[_GIT_DIRTY]),
                "sdkLanguage": run[_SDK_LANGUAGE],
                "sdkVersion": run[_SDK_VERSION],
            },
            "status": run[_STATUS],
            "endedAt": run[_ENDED],
            "lastHeartbeat": run[_HEARTBEAT],
        }
        status, answer = self._client.request("PUT", path, body)
        if status not in (200, 201) or not isinstance(answer, dict) or not isinstance(answer.get("series"), dict):
            raise _refused("PUT", path, status, answer)
        counts = {str(key): int(count) for key, count in answer["series"].items()}
        self._counts[run_id] = counts
        self._sent_revision[run_id] = run[_REVISION]
        self._heartbeat_sent[run_id] = run[_HEARTBEAT] or 0.0
        return counts

    def _heartbeat(self, run: tuple[Any, ...]) -> None:
        run_id: str = run[_ID]
        beat = run[_HEARTBEAT]
        if beat is None or beat <= self._heartbeat_sent.get(run_id, 0.0):
            return
        path = f"/api/runs/{urllib.parse.quote(run_id, safe='')}/heartbeat"
        status, answer = self._client.request("POST", path, {"at": beat})
        if status == 404:
            self._counts.pop(run_id, None)
            return
        if status >= 300:
            raise _refused("POST", path, status, answer)
        self._heartbeat_sent[run_id] = beat

    def _send_points(
        self, conn: sqlite3.Connection, run_id: str, series: dict[str, tuple[int, int]], counts: dict[str, int]
    ) -> bool:
        """Sends every point of the run the server lacks; False when the server no longer has the run."""
        path = f"/api/runs/{urllib.parse.quote(run_id, safe='')}/points"
        while True:
            batch: list[dict[str, Any]] = []
            room = MAX_POINTS_PER_POST
            for key, (series_id, count) in series.items():
                start = counts.get(key, 0)
                if start >= count or room <= 0:
                    continue
                part = self._read_points(conn, series_id, start, min(count - start, room))
                if part is None:
                    continue
                batch.append({"key": key, "start": start, "steps": part[0], "values": part[1], "times": part[2]})
                room -= part[3]
            if not batch:
                return True
            status, answer = self._client.request("POST", path, {"series": batch})
            if status == 404:
                # The server lost the run (a new database, or deleted): the next cycle creates it again.
                self._counts.pop(run_id, None)
                return False
            if status != 200 or not isinstance(answer, dict) or not isinstance(answer.get("series"), dict):
                raise _refused("POST", path, status, answer)
            before = sum(counts.values())
            for table in (answer["series"], answer.get("gaps") or {}):
                for key, count in table.items():
                    counts[str(key)] = int(count)
            sent = sum(counts.values()) - before
            self._sent_while_away += max(0, sent)
            if sent <= 0 and not answer.get("gaps"):
                raise ServerError(f"POST {path} stored none of {MAX_POINTS_PER_POST - room} points")

    def _read_points(
        self, conn: sqlite3.Connection, series_id: int, start: int, wanted: int
    ) -> tuple[str, str, str, int] | None:
        """``wanted`` points of a series from index ``start`` on, as base64 columns; None if the file lacks them."""
        steps, values, times = bytearray(), bytearray(), bytearray()
        index = start
        for chunk_start, count, chunk_steps, chunk_values, chunk_times in _store.chunks_from(conn, series_id, start):
            if chunk_start > index:
                break
            end = min(chunk_start + count, start + wanted)
            lo, hi = (index - chunk_start) * 8, (end - chunk_start) * 8
            steps += chunk_steps[lo:hi]
            values += chunk_values[lo:hi]
            times += chunk_times[lo:hi]
            index = end
            if index >= start + wanted:
                break
        if index == start:
            return None
        return _b64(bytes(steps)), _b64(bytes(values)), _b64(bytes(times)), index - start

    def _forget(self, conn: sqlite3.Connection, run: tuple[Any, ...]) -> None:
        """Deletes a finished (or ownerless) run the server holds entirely from the spool."""
        try:
            _db.run_immediate(conn, lambda: _store.delete_spooled_run(conn, run[_SEQ], run[_REVISION]))
        except sqlite3.Error:
            return
        for table in (self._counts, self._sent_revision, self._heartbeat_sent):
            table.pop(run[_ID], None)


def _read_spool(
    conn: sqlite3.Connection,
) -> tuple[list[tuple[Any, ...]], list[tuple[int, str, int, int]]]:
    return _store.spool_runs(conn), _store.spool_series(conn)


_shippers: dict[str, Shipper] = {}
_shippers_lock = threading.Lock()


def shipper_for(url: str, token: str | None, path: str) -> Shipper:
    """This process's shipper of ``url`` (started on first use; it also ships the spool's leftovers)."""
    with _shippers_lock:
        shipper = _shippers.get(url)
        if shipper is None or not shipper._thread.is_alive():
            if not _shippers and hasattr(os, "register_at_fork"):
                # A forked child has no shipper thread: it starts its own.
                os.register_at_fork(after_in_child=_shippers.clear)
            shipper = _shippers[url] = Shipper(url, token, path)
        return shipper


# ------------------------------------------------------------------ resume from the server


def ensure_resumable(
    conn: sqlite3.Connection, url: str, token: str | None, resume: _store.Resume, experiment: str
) -> None:
    """Copies the state of the run ``resume`` names from the server into the spool when the spool lacks it
    (a run shipped and deleted from the spool, or logged from another machine): its metadata, and each
    series' count and last step, so new points continue at the right index and step."""
    target = resume.target
    if target is None:
        return
    if target == "latest":
        if _store.has_runs_of(conn, experiment):
            return
    elif _store.find_run_id(conn, target):
        return
    client = Client(url, token)
    try:
        run = _latest_on_server(client, experiment) if target == "latest" else _get(client, f"/api/runs/{_q(target)}")
        if run is None:
            return
        run_id = str(run["id"])
        sync = _get(client, f"/api/runs/{_q(run_id)}/sync")
        experiment_json = _get(client, f"/api/experiments/{_q(str(run['experiment_id']))}")
    except ServerError as error:
        raise StonksError(
            f"Cannot resume run {target}: it is not in the spool {spool_path(url)} and the server {url} did not "
            f"answer ({error})."
        ) from None
    finally:
        client.close()
    if sync is None or experiment_json is None:
        return
    if not resume.any_experiment and experiment_json.get("name") != experiment:
        return
    provenance = run.get("provenance") or {}
    new = _store.NewRun(
        str(experiment_json.get("name")),
        run.get("name"),
        run.get("config") or {},
        list(run.get("tags") or []),
        run.get("group"),
        run.get("job_type"),
        run.get("notes"),
        float(run.get("created_at") or _now()),
        {
            "host": provenance.get("host"),
            "pid": provenance.get("pid"),
            "command": provenance.get("command"),
            "cwd": provenance.get("cwd"),
            "git_commit": provenance.get("git_commit"),
            "git_dirty": provenance.get("git_dirty"),
            "sdk_language": provenance.get("sdk_language"),
            "sdk_version": provenance.get("sdk_version"),
        },
        run_id,
        None,
    )
    summary = run.get("summary") or {}

    def seed() -> None:
        started = _store.insert_run(conn, new)
        _store.set_run_times(conn, started.seq, new.now, run.get("color"))
        for key, count in (sync.get("series") or {}).items():
            last_step = (summary.get(key) or {}).get("last_step")
            _store.seed_series(conn, started.seq, str(key), int(count), last_step)

    _db.run_immediate(conn, seed)


def _q(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _get(client: Client, path: str) -> Any:
    """The JSON answer of a GET; None for 404."""
    status, answer = client.request("GET", path)
    if status == 404:
        return None
    if status != 200:
        raise _refused("GET", path, status, answer)
    return answer


def _latest_on_server(client: Client, experiment: str) -> Any:
    experiments = _get(client, "/api/experiments")
    found = [e for e in experiments or [] if isinstance(e, dict) and e.get("name") == experiment]
    if not found:
        return None
    runs = _get(client, f"/api/experiments/{_q(str(found[0]['id']))}/runs")
    if isinstance(runs, dict):
        runs = runs.get("runs")
    candidates = [r for r in runs or [] if isinstance(r, dict) and "id" in r]
    if not candidates:
        return None
    latest = max(candidates, key=lambda r: (r.get("created_at") or 0, r.get("seq") or 0))
    return _get(client, f"/api/runs/{_q(str(latest['id']))}")
