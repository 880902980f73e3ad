/** Base class of every error stonks throws on purpose. */
export class StonksError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A metric value, key, step or call shape that cannot be logged. */
export class InvalidMetricError extends StonksError {}

/** A run option or config value (name, tag, notes, config key or value...) that cannot be stored as given (strict mode). */
export class InvalidConfigError extends StonksError {}

/** The database was written by a newer stonks, or is not a stonks database. */
export class SchemaVersionError extends StonksError {}

/** The file is not a stonks database (another program's SQLite file, or not SQLite at all); it was left untouched. */
export class NotAStonksFileError extends SchemaVersionError {}

/** A write to the database failed and is being retried (strict mode surfaces it). */
export class WriteError extends StonksError {}

/** A run, experiment or series that does not exist. */
export class NotFoundError extends StonksError {}

/** The database server cannot be reached (down, restarting, refusing connections); the same call may succeed later. */
export class DatabaseUnavailableError extends StonksError {
  constructor(
    message: string,
    /** What the connection attempt met, e.g. "connect ECONNREFUSED 10.0.0.5:5432". */
    readonly reason: string,
  ) {
    super(message);
  }
}
