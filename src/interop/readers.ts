/**
 * The kinds `stonks import <kind> <source>` knows, each loaded only when asked
 * for (a reader may pull in a protobuf or Parquet library).
 */
import type { ForeignReader } from "./model.js";

export const FOREIGN_READERS: Record<string, () => Promise<ForeignReader>> = {
  wandb: async () => (await import("./wandb.js")).readWandb,
  neptune: async () => (await import("./neptune.js")).readNeptune,
  tensorboard: async () => (await import("./tensorboard.js")).readTensorboard,
  mlflow: async () => (await import("./mlflow.js")).readMlflow,
};

export function importKinds(): string[] {
  return Object.keys(FOREIGN_READERS).sort();
}
