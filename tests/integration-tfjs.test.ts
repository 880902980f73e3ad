// stonks/tfjs with the real TensorFlow.js (pure JavaScript CPU backend): a tiny model fitted a
// few epochs, read back through open().
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { open, startRun } from "../dist/index.js";
import { stonksCallback } from "../dist/integrations/tfjs.js";
import { tempDb } from "./support/helpers.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
  await tf.ready();
});

/** y = x1 + x2 on 32 samples, a dense layer of 4 then 1 unit, Adam at 0.01. */
function tinyModelAndData(): { model: tf.Sequential; xs: tf.Tensor2D; ys: tf.Tensor2D } {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [2], units: 4, activation: "relu" }), tf.layers.dense({ units: 1 })],
  });
  model.compile({ optimizer: tf.train.adam(0.01), loss: "meanSquaredError", metrics: ["mae"] });
  const inputs = Array.from({ length: 32 }, (_, i) => [Math.sin(i), Math.cos(i * 0.7)]);
  const xs = tf.tensor2d(inputs);
  const ys = tf.tensor2d(inputs.map(([a, b]) => [a + b]));
  return { model, xs, ys };
}

describe("stonksCallback in model.fit()", () => {
  it("logs batch and epoch metrics, validation included, and fit's parameters", async () => {
    const db = tempDb();
    const { model, xs, ys } = tinyModelAndData();
    const callback = stonksCallback({ experiment: "tfjs-mlp", db, runName: "adam", config: { units: 4 } });
    // 24 training samples in batches of 8: 3 batches per epoch; 8 samples for validation.
    await model.fit(xs, ys, { epochs: 2, batchSize: 8, validationSplit: 0.25, verbose: 0, callbacks: callback });

    const q = open(db);
    try {
      const [run] = q.listRuns();
      expect(q.listRuns()).toHaveLength(1);
      expect(run.name).toBe("adam");
      expect(run.status).toBe("completed");
      expect(run.config).toMatchObject({ units: 4, epochs: 2, batchSize: 8, samples: 24, doValidation: true });
      const steps = (key: string) => [...q.getMetrics(run.id, key).steps];
      expect(steps("batch/loss")).toEqual([1, 2, 3, 4, 5, 6]);
      expect(steps("batch/mae")).toEqual([1, 2, 3, 4, 5, 6]);
      for (const key of ["epoch/loss", "epoch/mae", "epoch/val_loss", "epoch/val_mae"]) {
        expect(steps(key), key).toEqual([3, 6]);
      }
      expect([...q.getMetrics(run.id, "epoch/epoch").values]).toEqual([0, 1]);
      expect(q.getMetricKeys(run.id)).not.toContain("batch/batch");
      expect(q.getMetricKeys(run.id)).not.toContain("batch/size");
      expect([...q.getMetrics(run.id, "epoch/loss").values].every((loss) => loss > 0)).toBe(true);
    } finally {
      q.close();
    }
  });

  it("a second fit() continues the same run; epochs only; a user's run stays open", async () => {
    const db = tempDb();
    const { model, xs, ys } = tinyModelAndData();
    const callback = stonksCallback({ experiment: "again", db, logEveryNBatches: 0 });
    await model.fit(xs, ys, { epochs: 1, batchSize: 16, verbose: 0, callbacks: [callback] });
    await model.fit(xs, ys, { epochs: 1, batchSize: 16, verbose: 0, callbacks: [callback] });

    const run = startRun("mine", { db }).start();
    await model.fit(xs, ys, { epochs: 2, batchSize: 32, verbose: 0, callbacks: stonksCallback({ run }) });
    expect(run.status).toBe("running");
    await run.finish();

    const q = open(db);
    try {
      const runs = q.listRuns();
      expect(runs.map((r) => r.status)).toEqual(["completed", "completed"]);
      const again = runs.find((r) => r.id !== run.id);
      expect(again).toBeDefined();
      expect(q.getMetricKeys(again?.id ?? "")).not.toContain("batch/loss");
      expect([...q.getMetrics(again?.id ?? "", "epoch/loss").steps]).toEqual([2, 4]);
      expect([...q.getMetrics(run.id, "epoch/loss").steps]).toEqual([1, 2]);
    } finally {
      q.close();
    }
  });

  it("finish('failed') marks the run failed when fit() throws", async () => {
    const db = tempDb();
    const { model, xs, ys } = tinyModelAndData();
    const callback = stonksCallback({ experiment: "crash", db });
    const crash = {
      onBatchEnd: async (batch: number) => {
        if (batch === 1) throw new Error("crash in batch 1");
      },
    };
    await expect(
      model.fit(xs, ys, { epochs: 1, batchSize: 8, verbose: 0, callbacks: [callback, crash] }),
    ).rejects.toThrow("crash in batch 1");
    await callback.finish("failed");
    const q = open(db);
    try {
      const [run] = q.listRuns();
      expect(run.status).toBe("failed");
      expect([...q.getMetrics(run.id, "batch/loss").steps]).toEqual([1, 2]);
    } finally {
      q.close();
    }
  });
});
