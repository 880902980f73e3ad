// TensorFlow.js: a callback for model.fit() in @tensorflow/tfjs or @tensorflow/tfjs-node.
// It is a plain callback-args object (what fit() accepts besides tf.Callback instances), so this
// module never imports TensorFlow.js: either package, any 4.x version, works with it.
import type { Run, StartRunOptions } from "../sdk/run.js";
import { startRun } from "../sdk/start-run.js";
import type { FinishStatus } from "../types.js";

/** What TensorFlow.js passes to a callback: metric name -> value (scalars already resolved to numbers). */
export type TfLogs = Record<string, unknown>;

export interface StonksCallbackOptions extends StartRunOptions {
  /** Log into this run instead of starting one; the callback then leaves finishing it to you. */
  run?: Run;
  /** Log batch metrics every this many batches; 0 logs epochs only. Default 1. */
  logEveryNBatches?: number;
  /** Prefix of batch metrics. Default "batch/". */
  batchPrefix?: string;
  /** Prefix of epoch metrics (validation ones included: "epoch/val_loss"). Default "epoch/". */
  epochPrefix?: string;
}

/** The callback: pass it as `callbacks` to model.fit() (alone or in a list). */
export interface StonksCallback {
  /** `this` is the object fit() calls it on, which holds fit()'s parameters as `params`. */
  onTrainBegin(this: unknown, logs?: TfLogs): Promise<void>;
  onEpochBegin(epoch: number, logs?: TfLogs): Promise<void>;
  onBatchEnd(batch: number, logs?: TfLogs): Promise<void>;
  onEpochEnd(epoch: number, logs?: TfLogs): Promise<void>;
  onTrainEnd(logs?: TfLogs): Promise<void>;
  /** The run being logged into, once training started. */
  readonly run: Run | null;
  /** Finishes a run this callback started, e.g. "failed" when fit() threw. */
  finish(status?: FinishStatus): Promise<void>;
}

/**
 * A model.fit() callback that logs into a stonks run. The step is the number of training
 * batches so far, across epochs. After each batch the batch metrics are logged as
 * `batch/<name>`; after each epoch its metrics as `epoch/<name>` (validation ones included,
 * `epoch/val_loss`) with `epoch/epoch`, the epoch's index. At the start of training the run
 * (started then, with these startRun options) gets fit()'s parameters (epochs, samples,
 * batchSize...) as config; the end of training finishes it as completed. A later fit() with the
 * same callback continues the same run.
 */
export function stonksCallback(options: StonksCallbackOptions = {}): StonksCallback {
  const { run: given, logEveryNBatches = 1, batchPrefix = "batch/", epochPrefix = "epoch/", ...runOptions } = options;
  const everyN = Math.max(0, Math.floor(logEveryNBatches));
  let current: Run | null = given ?? null;
  let finishedId: string | null = null;
  let globalStep = 0;
  let epochStartStep = 0;

  function open(): Run {
    if (current === null) {
      // A later fit() continues the run the first one finished, with the same options.
      current = startRun(finishedId === null ? runOptions : { ...runOptions, resume: true, id: finishedId });
    }
    if (current.status === "created") current.start();
    return current;
  }

  async function finish(status: FinishStatus = "completed"): Promise<void> {
    const run = current;
    if (run === null || given !== undefined) return;
    current = null;
    if (run.status !== "created") finishedId = run.id;
    await run.finish(status);
  }

  return {
    async onTrainBegin(this: unknown): Promise<void> {
      const run = open();
      // TensorFlow.js calls the callback as a method of its own callback object, which fit() gave its parameters.
      const params = typeof this === "object" && this !== null && "params" in this ? this.params : undefined;
      if (typeof params === "object" && params !== null) run.logConfig({ ...params });
    },
    async onEpochBegin(): Promise<void> {
      epochStartStep = globalStep;
    },
    async onBatchEnd(batch: number, logs?: TfLogs): Promise<void> {
      globalStep = epochStartStep + batch + 1;
      if (logs === undefined || everyN === 0 || globalStep % everyN !== 0) return;
      const metrics = prefixed(batchPrefix, logs, ["batch", "size"]);
      if (Object.keys(metrics).length > 0) open().log(metrics, { step: globalStep });
    },
    async onEpochEnd(epoch: number, logs?: TfLogs): Promise<void> {
      const metrics = prefixed(epochPrefix, logs ?? {}, []);
      metrics[`${epochPrefix}epoch`] = epoch;
      open().log(metrics, { step: globalStep });
    },
    async onTrainEnd(): Promise<void> {
      await finish("completed");
    },
    get run(): Run | null {
      return current;
    },
    finish,
  };
}

/** `logs` with `prefix` before each key; `skip`: keys that are bookkeeping, not metrics. */
function prefixed(prefix: string, logs: TfLogs, skip: readonly string[]): Record<string, unknown> {
  const metrics: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(logs)) {
    if (!skip.includes(key)) metrics[prefix + key] = value;
  }
  return metrics;
}
