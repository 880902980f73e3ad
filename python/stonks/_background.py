"""Daemon threads that start without waiting and never receive SIGINT or SIGTERM."""

from __future__ import annotations

import _thread
import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def signal_module() -> Any:
    """The signal functions; the C module when ``signal`` (whose enums cost milliseconds) is not loaded yet."""
    loaded = sys.modules.get("signal")
    if loaded is not None:
        return loaded
    import importlib

    return importlib.import_module("_signal")


class Background:
    """A daemon thread. Unlike threading.Thread.start(), starting it does not wait until it runs."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        self._done = threading.Event()

        def main() -> None:
            try:
                target(*args)
            finally:
                self._done.set()

        # The kernel may deliver a process signal to any thread that does not block it; one
        # delivered to a background thread would not interrupt a main thread sleeping in C
        # code, and Ctrl-C or SIGTERM would wait until that sleep ends. A new thread inherits
        # the signal mask of the thread starting it: block SIGINT and SIGTERM around the
        # start so the thread is born unable to receive them.
        signal = signal_module()
        masked = hasattr(signal, "pthread_sigmask")
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM}) if masked else None
        try:
            _thread.start_new_thread(main, ())
        finally:
            if previous is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def is_alive(self) -> bool:
        return not self._done.is_set()

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)
