"""Typed errors. Every error stonks raises on purpose is a StonksError."""


class StonksError(Exception):
    """Base class of every error stonks raises on purpose."""


class InvalidMetricError(StonksError, ValueError):
    """A metric value, key, step or call shape that cannot be logged (strict mode)."""


class InvalidConfigError(StonksError, ValueError):
    """Text or a config value that cannot be stored faithfully (strict mode): run name, tags,
    notes, group, job type, experiment name, config keys and values."""


class SchemaVersionError(StonksError):
    """The database was written by a newer stonks, or is not a stonks database."""


class NotAStonksFileError(SchemaVersionError):
    """The file is not a stonks database (another program's SQLite file, or not SQLite); it was left untouched."""


class WriteError(StonksError):
    """Buffered points could not be written yet; they are kept and retried."""


class NotFoundError(StonksError, LookupError):
    """A run or experiment that does not exist."""
