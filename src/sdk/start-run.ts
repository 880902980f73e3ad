import { Run, type StartRunOptions } from "./run.js";
import { prestartWriter } from "./writer-client.js";

/**
 * Starts a run of an experiment (created on first use, reused after).
 *
 * Manual form: returns the Run; call run.start() and run.finish(status).
 * Callback form: starts the run, awaits the callback, and records
 * "completed" when it returns or "failed" when it throws (the error is
 * re-thrown); SIGINT/SIGTERM record "interrupted".
 */
export function startRun(experiment: string, options?: StartRunOptions): Run;
export function startRun<T>(experiment: string, callback: (run: Run) => T | Promise<T>): Promise<T>;
export function startRun<T>(
  experiment: string,
  options: StartRunOptions,
  callback: (run: Run) => T | Promise<T>,
): Promise<T>;
/** The original stonks' form: the experiment is options.experiment, default "default". */
export function startRun(options?: StartRunOptions): Run;
export function startRun<T>(options: StartRunOptions, callback: (run: Run) => T | Promise<T>): Promise<T>;
export function startRun<T>(
  first?: string | StartRunOptions,
  optionsOrCallback?: StartRunOptions | ((run: Run) => T | Promise<T>),
  callback?: (run: Run) => T | Promise<T>,
): Run | Promise<T> {
  if (typeof first === "object" && first !== null) {
    const body = typeof optionsOrCallback === "function" ? optionsOrCallback : undefined;
    return begin(new Run(undefined, first), body);
  }
  const options = typeof optionsOrCallback === "function" ? {} : (optionsOrCallback ?? {});
  const body = typeof optionsOrCallback === "function" ? optionsOrCallback : callback;
  return begin(new Run(first as string | undefined, options), body);
}

function begin<T>(run: Run, body: ((run: Run) => T | Promise<T>) | undefined): Run | Promise<T> {
  // A reader that opened a database first boots the writer now, in case start() comes after an await.
  prestartWriter();
  if (body === undefined) return run;
  return runWithin(run.start(), body);
}

async function runWithin<T>(run: Run, body: (run: Run) => T | Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await body(run);
  } catch (error) {
    await run.finish("failed");
    throw error;
  }
  await run.finish("completed");
  return result;
}

prestartWriter();
