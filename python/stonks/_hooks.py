"""Process exit and fork: every unfinished run is finished at interpreter exit, with the status
the exit implies (docs/python.md), SIGTERM unwinds the main thread so with-blocks see it, and a
forked child forgets the parent's runs.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

from ._background import signal_module
from ._log import warn
from ._values import env_seconds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any

    from ._run import Run

# How long finish() waits for a failing final write before handing it to the background.
FINISH_WAIT_S = 60.0
# How long the exit hook waits for a write attempt under way before it reports what is not written.
ABANDON_WAIT_S = 2.0

_active: dict[int, Run] = {}
_hooks_installed = False
_uncaught: type[BaseException] | None = None
_terminated = False
# Set while the atexit hook runs: finish() then leaves the count of unwritten points to it.
_exiting = False


def status_for(exc_type: type[BaseException] | None, exc: BaseException | None) -> str:
    """The status a run gets when its with-block ends this way."""
    if exc_type is None:
        return "completed"
    if issubclass(exc_type, KeyboardInterrupt):
        return "interrupted"
    if issubclass(exc_type, SystemExit):
        if _terminated:
            return "interrupted"
        code = getattr(exc, "code", None)
        return "completed" if code is None or code == 0 else "failed"
    return "failed"


def exiting() -> bool:
    """True while the exit hook finishes the unfinished runs."""
    return _exiting


def register(run: Run) -> None:
    _install_hooks()
    _active[id(run)] = run


def unregister(run: Run) -> None:
    _active.pop(id(run), None)


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_finish_at_exit)
    previous = sys.excepthook

    def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        global _uncaught
        _uncaught = exc_type
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook
    if threading.current_thread() is threading.main_thread():
        signal = signal_module()
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_forget_runs_in_child)


def _on_sigterm(signum: int, frame: Any) -> None:
    global _terminated
    signal = signal_module()
    if not _active:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    _terminated = True
    # Unwinds the main thread so with-blocks and atexit record "interrupted" and write every point.
    raise SystemExit(128 + signum)


def _forget_runs_in_child() -> None:
    for run in _active.values():
        run._forked = True
        run._accepting = False
    _active.clear()


def exit_status() -> str:
    """The status an unfinished run gets at interpreter exit."""
    if _terminated:
        return "interrupted"
    if _uncaught is not None:
        return "interrupted" if issubclass(_uncaught, KeyboardInterrupt) else "failed"
    return "completed"


def _finish_at_exit() -> None:
    global _exiting
    _exiting = True
    status = exit_status()
    for run in list(_active.values()):
        try:
            if run._finished:
                run._writer.join(env_seconds("STONKS_EXIT_TIMEOUT", FINISH_WAIT_S))
            else:
                run.finish(status)
        except Exception as error:
            warn(f"stonks could not finish run {run.id} at exit: {error}")
        _report_unwritten(run)


def _report_unwritten(run: Run) -> None:
    """Stops a writer that is still retrying at exit and says exactly what it could not write."""
    writer = run._writer
    if not writer.is_alive():
        return
    writer.abandon()
    # An attempt under way ends by itself (a full disk fails at once; a lock waits out the busy timeout).
    writer.join(ABANDON_WAIT_S)
    stopped = "" if not writer.is_alive() else "at least "
    warn(f"not written: {stopped}{writer.unwritten()} points of run {run.id} ({run.db})")
