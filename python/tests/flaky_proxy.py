"""A TCP proxy on 127.0.0.1 that misbehaves on purpose, for the remote-mode tests.

Each new connection takes the next rule of ``rules`` (then passes traffic through untouched):
("cut_request", n): forwards n bytes of the request, then closes both sides;
("cut_response", n): forwards the whole request, then closes both sides after n bytes of the answer
(the server did the work; the client never hears of it);
("stall", seconds): holds the request that long before forwarding it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Callable


class FlakyProxy:
    def __init__(self, target_port: int, rules: list[tuple[str, float]] | None = None) -> None:
        self.target_port = target_port
        self.rules: deque[tuple[str, float]] = deque(rules or [])
        self.connections = 0
        #: Rules that were applied, in order.
        self.applied: list[tuple[str, float]] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._closed = False
        self._open: set[Callable[[], None]] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, *rules: tuple[str, float]) -> None:
        with self._lock:
            self.rules.extend(rules)

    def drop_connections(self) -> None:
        """Closes every open connection (a kept-alive one too), so the next request opens a new one."""
        with self._lock:
            closers = list(self._open)
        for close in closers:
            close()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.drop_connections()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                rule = self.rules.popleft() if self.rules else ("pass", 0)
                if rule[0] != "pass":
                    self.applied.append(rule)
            threading.Thread(target=self._serve, args=(client, rule), daemon=True).start()

    def _serve(self, client: socket.socket, rule: tuple[str, float]) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            client.close()
            return
        kind, amount = rule
        done = threading.Event()

        def close_both() -> None:
            with self._lock:
                self._open.discard(close_both)
            done.set()
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

        def pump(source: socket.socket, sink: socket.socket, limit: float | None, stall: float) -> None:
            sent = 0
            stalled = False
            try:
                while not done.is_set():
                    data = source.recv(65536)
                    if not data:
                        break
                    if stall and not stalled:
                        stalled = True
                        time.sleep(stall)
                    if limit is not None and sent + len(data) >= limit:
                        sink.sendall(data[: max(0, int(limit) - sent)])
                        break
                    sink.sendall(data)
                    sent += len(data)
            except OSError:
                pass
            close_both()

        with self._lock:
            self._open.add(close_both)
        request_limit = amount if kind == "cut_request" else None
        response_limit = amount if kind == "cut_response" else None
        stall = amount if kind == "stall" else 0.0
        threading.Thread(target=pump, args=(client, upstream, request_limit, stall), daemon=True).start()
        pump(upstream, client, response_limit, 0.0)
