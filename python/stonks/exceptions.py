"""The errors stonks raises, under the module name the original stonks used.

``from stonks.exceptions import StonksError, DatabaseError, RunError, InvalidMetricError``
works as it did there; the finer classes below are subclasses of those four.
"""

from ._errors import (
    DatabaseError,
    InvalidConfigError,
    InvalidMetricError,
    NotAStonksFileError,
    NotFoundError,
    RunError,
    RunNotFoundError,
    SchemaVersionError,
    StonksError,
    WriteError,
)

__all__ = [
    "DatabaseError",
    "InvalidConfigError",
    "InvalidMetricError",
    "NotAStonksFileError",
    "NotFoundError",
    "RunError",
    "RunNotFoundError",
    "SchemaVersionError",
    "StonksError",
    "WriteError",
]
