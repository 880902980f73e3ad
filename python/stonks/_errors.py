"""Typed errors. Every error stonks raises on purpose is a StonksError.

The original stonks' four names (``stonks.exceptions``) are kept as bases: DatabaseError for
a database file that cannot be opened, understood or written, RunError for a run that cannot
be started or resumed as asked, InvalidMetricError for a value that cannot be logged.
"""


class StonksError(Exception):
    """Base class of every error stonks raises on purpose."""


class DatabaseError(StonksError):
    """The database file cannot be opened, understood or written."""


class RunError(StonksError):
    """A run cannot be started, resumed or finished as asked."""


class InvalidMetricError(StonksError, ValueError):
    """A metric value, key, step or call shape that cannot be logged (strict mode)."""


class InvalidConfigError(StonksError, ValueError):
    """Text or a config value that cannot be stored faithfully (strict mode): run name, tags,
    notes, group, job type, experiment name, config keys and values."""


class SchemaVersionError(DatabaseError):
    """The database was written by a newer stonks, or is not a stonks database."""


class NotAStonksFileError(SchemaVersionError):
    """The file is not a stonks database (another program's SQLite file, or not SQLite); it was left untouched."""


class WriteError(DatabaseError):
    """Buffered points could not be written yet; they are kept and retried."""


class NotFoundError(StonksError, LookupError):
    """A run or experiment that does not exist."""


class RunNotFoundError(RunError, NotFoundError):
    """The run to resume does not exist (``resume="must"``, or a run id that names no run)."""
