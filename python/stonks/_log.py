"""The one logger stonks warns through: ``logging.getLogger("stonks")``.

``STONKS_LOG_LEVEL`` (debug, info, warning, error, silent) sets its level.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False

if TYPE_CHECKING:
    import logging

_logger: logging.Logger | None = None
_LEVELS = {"debug": 10, "info": 20, "warn": 30, "warning": 30, "error": 40, "silent": 100}


def logger() -> logging.Logger:
    global _logger
    if _logger is None:
        import logging

        created = logging.getLogger("stonks")
        level = os.environ.get("STONKS_LOG_LEVEL", "").strip().lower()
        if level in _LEVELS:
            created.setLevel(_LEVELS[level])
        _logger = created
    return _logger


def warn(message: str) -> None:
    logger().warning(message)
