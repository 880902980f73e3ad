/**
 * Demo data for a first look at the dashboard: three experiments, 36 runs,
 * noisy learning curves with spikes, a hyperparameter sweep, a run with a
 * million points, and failed, interrupted and stale runs. Written through the
 * service layer, one transaction per run. The noise comes from a fixed random
 * sequence, so every demo database looks the same apart from its timestamps.
 */
import type { StonksService } from "../query/service.js";
import type { Config, Provenance, RecordedRun, RunStatus } from "../types.js";

export const DEMO_EXPERIMENTS = ["resnet-cifar10", "gpt2-small-finetune", "ppo-cartpole"] as const;

interface Series {
  steps: number[];
  values: number[];
  /** Seconds after the run started; left out, the time follows from the step (secondsPerStep). */
  times?: number[];
}

interface DemoRun {
  experiment: string;
  name: string;
  config: Config;
  tags: string[];
  group: string | null;
  jobType: string | null;
  notes: string | null;
  color?: string;
  createdAt: number;
  secondsPerStep: number;
  status: RunStatus;
  /** For a running run: when its process last said it was alive. */
  lastHeartbeat?: number;
  provenance: Provenance;
  metrics: Record<string, Series>;
}

/** mulberry32: small, fast, good enough for plausible noise. */
function randomSource(start: number) {
  let state = start >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const hex = (length: number) => Array.from({ length }, () => Math.floor(next() * 16).toString(16)).join("");
  return { next, gaussian, hex };
}

type Random = ReturnType<typeof randomSource>;

/** Occasional upward spikes that decay over the next points, like real loss curves. */
function spiky(random: Random, probability: number, size: number, decay: number) {
  let excess = 0;
  return () => {
    if (random.next() < probability) excess += size * (0.5 + random.next());
    const value = excess;
    excess *= decay;
    return value;
  };
}

function series(): Series {
  return { steps: [], values: [] };
}

function provenance(random: Random, command: string, cwd: string, language = "python"): Provenance {
  return {
    host: `demo-gpu-0${1 + Math.floor(random.next() * 4)}`,
    pid: 1000 + Math.floor(random.next() * 60000),
    command,
    cwd,
    gitCommit: random.hex(40),
    gitDirty: random.next() < 0.3,
    sdkLanguage: language,
    sdkVersion: "0.1.0",
  };
}

const DAY = 86400;

function cifarSweep(random: Random, now: number): DemoRun[] {
  const runs: DemoRun[] = [];
  const learningRates = [0.3, 0.1, 0.03, 0.01];
  const batchSizes = [64, 128, 256];
  const optimizers = ["sgd", "adamw"];
  let created = now - 6 * DAY;
  for (const optimizer of optimizers) {
    for (const lr of learningRates) {
      for (const batchSize of batchSizes) {
        const best = optimizer === "sgd" ? 0.1 : 0.01;
        const quality = Math.exp(-((Math.log10(lr) - Math.log10(best)) ** 2) / 0.6);
        const floor = 0.08 + 0.55 * (1 - quality) + batchSize / 4000;
        const stepsPerEpoch = Math.floor(50_000 / batchSize);
        const epochs = 30;
        const totalSteps = stepsPerEpoch * epochs;
        const diverges = optimizer === "sgd" && lr === 0.3 && batchSize === 64;
        const interrupted = optimizer === "adamw" && lr === 0.03 && batchSize === 128;
        const stopAt = diverges
          ? Math.floor(totalSteps * 0.35)
          : interrupted
            ? Math.floor(totalSteps * 0.6)
            : totalSteps;
        const weightDecay = optimizer === "sgd" ? 5e-4 : 0.05;
        const spike = spiky(random, 0.004, 0.6, 0.9);
        const loss = series();
        const accuracy = series();
        const lrSeries = series();
        const gpu = series();
        const valLoss = series();
        const valAccuracy = series();
        let last = 2.3;
        for (let step = 0; step < stopAt; step += 10) {
          const progress = step / totalSteps;
          let value = floor + (2.3 - floor) * Math.exp(-progress * 9) + spike();
          if (diverges && progress > 0.25) value += Math.exp((progress - 0.25) * 40) - 1;
          value *= 1 + 0.06 * random.gaussian();
          last = Math.max(0.01, value);
          loss.steps.push(step);
          loss.values.push(last);
          accuracy.steps.push(step);
          accuracy.values.push(Math.min(1, Math.max(0.1, 1 - last / 2.5 + 0.015 * random.gaussian())));
          if (step % 100 === 0) {
            const warmup = Math.min(1, step / (stepsPerEpoch * 2));
            lrSeries.steps.push(step);
            lrSeries.values.push(lr * warmup * 0.5 * (1 + Math.cos(Math.PI * progress)));
          }
          if (step % 50 === 0) {
            gpu.steps.push(step);
            gpu.values.push(Math.min(100, 88 + batchSize / 40 + 3 * random.gaussian()));
          }
        }
        for (let epoch = 1; epoch * stepsPerEpoch <= stopAt; epoch++) {
          const progress = (epoch * stepsPerEpoch) / totalSteps;
          const overfit = progress > 0.5 ? (progress - 0.5) * (optimizer === "sgd" ? 0.5 : 0.2) : 0;
          const value = floor * 1.15 + (2.3 - floor) * Math.exp(-progress * 8) + overfit + 0.03 * random.gaussian();
          valLoss.steps.push(epoch * stepsPerEpoch);
          valLoss.values.push(diverges && progress > 0.25 ? value + 3 : value);
          valAccuracy.steps.push(epoch * stepsPerEpoch);
          valAccuracy.values.push(Math.min(0.99, Math.max(0.1, 1 - value / 2.4)));
        }
        const name = `${optimizer}-lr${lr}-bs${batchSize}`;
        runs.push({
          experiment: "resnet-cifar10",
          name,
          config: {
            lr,
            batch_size: batchSize,
            optimizer,
            weight_decay: weightDecay,
            epochs,
            augment: { random_crop: true, horizontal_flip: true, cutout: batchSize === 256 },
            model: { arch: "resnet18", width: 64, dropout: 0.1 },
            seed: runs.length,
          },
          tags: ["sweep", optimizer, ...(quality > 0.9 && !diverges ? ["best-lr"] : [])],
          group: "lr-bs-sweep",
          jobType: "train",
          notes: diverges
            ? "Diverged around epoch 10: loss exploded, killed by the NaN guard."
            : interrupted
              ? "Stopped by hand (Ctrl+C) to free the GPU."
              : null,
          color: name === "sgd-lr0.1-bs128" ? "#d62728" : undefined,
          createdAt: created,
          secondsPerStep: 0.02 + batchSize / 4000,
          status: diverges ? "failed" : interrupted ? "interrupted" : "completed",
          provenance: provenance(
            random,
            `python train.py --opt ${optimizer} --lr ${lr} --batch-size ${batchSize}`,
            "/home/demo/projects/cifar",
          ),
          metrics: {
            "train/loss": loss,
            "train/acc": accuracy,
            "train/lr": lrSeries,
            "val/loss": valLoss,
            "val/acc": valAccuracy,
            "system/gpu_util": gpu,
          },
        });
        created += 3.5 * 3600;
      }
    }
  }
  return runs;
}

/** A power-law language-model loss with rare large spikes. */
function languageModelLoss(random: Random, steps: number, every: number, scale: number) {
  const loss = series();
  const spike = spiky(random, 0.00004 * every, 1.5, 0.995 ** every);
  for (let step = 0; step < steps; step += every) {
    const base = 2.55 + 8.3 * (1 + step / (2000 * scale)) ** -0.38;
    loss.steps.push(step);
    loss.values.push(base + spike() + 0.04 * random.gaussian() * Math.sqrt(base));
  }
  return loss;
}

function gptRuns(random: Random, now: number): DemoRun[] {
  const runs: DemoRun[] = [];
  const cwd = "/home/demo/projects/gpt2";
  // The long pretraining run: a million points of train/loss, one per step.
  const pretrainSteps = 1_000_000;
  const lr = series();
  const tokens = series();
  for (let step = 0; step < pretrainSteps; step += 100) {
    const warm = Math.min(1, step / 2000);
    lr.steps.push(step);
    lr.values.push(6e-4 * warm * (0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * step) / pretrainSteps))));
    if (step % 1000 === 0) {
      tokens.steps.push(step);
      tokens.values.push(182_000 + 6000 * random.gaussian());
    }
  }
  runs.push({
    experiment: "gpt2-small-finetune",
    name: "pretrain-owt-1M",
    config: {
      model: { n_layer: 12, n_head: 12, d_model: 768, vocab_size: 50257 },
      lr: 6e-4,
      batch_size: 480,
      context_length: 1024,
      max_steps: pretrainSteps,
      dataset: "openwebtext",
      precision: "bf16",
    },
    tags: ["pretrain", "1M-steps"],
    group: "pretrain",
    jobType: "pretrain",
    notes: "Reference pretraining run. One train/loss point per step: a million points.",
    color: "#1f77b4",
    createdAt: now - 5 * DAY,
    secondsPerStep: 0.35,
    status: "completed",
    provenance: provenance(random, "torchrun --nproc-per-node 8 pretrain.py --config gpt2-small.yaml", cwd),
    metrics: {
      "train/loss": languageModelLoss(random, pretrainSteps, 1, 50),
      "val/loss": languageModelLoss(random, pretrainSteps, 5000, 50),
      "train/lr": lr,
      "system/tokens_per_sec": tokens,
    },
  });
  const finetunes: {
    name: string;
    lr: number;
    dataset: string;
    lora: number | null;
    status: RunStatus;
    stopAt: number;
    notes: string | null;
    tags: string[];
  }[] = [
    {
      name: "ft-wikitext-lr3e-5",
      lr: 3e-5,
      dataset: "wikitext-103",
      lora: null,
      status: "completed",
      stopAt: 1,
      notes: null,
      tags: ["full-ft"],
    },
    {
      name: "ft-wikitext-lr1e-4",
      lr: 1e-4,
      dataset: "wikitext-103",
      lora: null,
      status: "completed",
      stopAt: 1,
      notes: "Best val/loss so far.",
      tags: ["full-ft", "best"],
    },
    {
      name: "ft-wikitext-lora16",
      lr: 3e-4,
      dataset: "wikitext-103",
      lora: 16,
      status: "completed",
      stopAt: 1,
      notes: null,
      tags: ["lora"],
    },
    {
      name: "ft-code-lora8",
      lr: 3e-4,
      dataset: "the-stack-py-10k",
      lora: 8,
      status: "failed",
      stopAt: 0.24,
      notes: "CUDA out of memory at step 1200 (batch 32, seq 2048).",
      tags: ["lora", "oom"],
    },
    {
      name: "ft-code-lora16",
      lr: 2e-4,
      dataset: "the-stack-py-10k",
      lora: 16,
      status: "running",
      stopAt: 0.55,
      notes: "Node was preempted; the process never reported back.",
      tags: ["lora"],
    },
  ];
  let created = now - 2 * DAY;
  for (const ft of finetunes) {
    const maxSteps = 5000;
    const stopAt = Math.floor(maxSteps * ft.stopAt);
    const loss = languageModelLoss(random, stopAt, 1, 0.3);
    const floor = 2.9 - Math.log10(ft.lr / 1e-5) * 0.15 + (ft.lora === null ? 0 : 0.05);
    for (let i = 0; i < loss.values.length; i++) loss.values[i] = floor + (loss.values[i] - 2.55) * 0.12;
    const val = series();
    for (let step = 250; step <= stopAt; step += 250) {
      val.steps.push(step);
      val.values.push(floor + 0.08 + 0.9 * Math.exp(-step / 900) + 0.02 * random.gaussian());
    }
    runs.push({
      experiment: "gpt2-small-finetune",
      name: ft.name,
      config: {
        base: "pretrain-owt-1M",
        lr: ft.lr,
        dataset: ft.dataset,
        lora_rank: ft.lora,
        batch_size: 32,
        max_steps: maxSteps,
        warmup_steps: 100,
      },
      tags: ["finetune", ...ft.tags],
      group: ft.dataset,
      jobType: "finetune",
      notes: ft.notes,
      // The stale run's process died three hours ago, right after its last point.
      createdAt: ft.status === "running" ? now - 3 * 3600 - stopAt * 0.6 - 10 : created,
      secondsPerStep: 0.6,
      status: ft.status,
      lastHeartbeat: ft.status === "running" ? now - 3 * 3600 : undefined,
      provenance: provenance(random, `python finetune.py --dataset ${ft.dataset} --lr ${ft.lr}`, cwd),
      metrics: {
        "train/loss": loss,
        "val/loss": val,
        // One run shows what start_run(..., hardware=True) adds.
        ...(ft.name === "ft-wikitext-lr1e-4" ? systemMetrics(random, stopAt * 0.6, 5) : {}),
      },
    });
    created += 7 * 3600;
  }
  return runs;
}

/** What hardware=True logs for a one-GPU run of `seconds`: a sample every `interval` seconds at its own steps. */
function systemMetrics(random: Random, seconds: number, interval: number): Record<string, Series> {
  const metrics: Record<string, Series> = {};
  const put = (key: string, sample: number, time: number, value: number) => {
    metrics[key] ??= { steps: [], values: [], times: [] };
    metrics[key].steps.push(sample);
    metrics[key].values.push(value);
    metrics[key].times!.push(time);
  };
  const ramTotal = 251.7;
  const gpuTotal = 79.6;
  let diskRead = 0;
  let diskWrite = 0;
  let netSent = 0;
  let netRecv = 0;
  for (let sample = 0, time = 0; time <= seconds; sample++, time += interval) {
    // The dataset is read in the first minutes; a checkpoint is written every 500 s; evaluation every 150 s.
    const evaluating = time % 150 < 10;
    diskRead += time < 240 ? 180 * interval * (1 + 0.2 * random.gaussian()) : 0.4 * interval * random.next();
    diskWrite += time > 0 && time % 500 < interval ? 1900 : 0.2 * interval * random.next();
    netSent += 0.05 * interval * random.next();
    netRecv += 0.08 * interval * random.next();
    const ramUsed = 38 + Math.min(14, time / 60) + 0.3 * random.gaussian();
    const gpuUsed = time < 20 ? 3 + time * 2.9 : 61.2 + 0.4 * random.gaussian();
    const values: Record<string, number> = {
      "sys/ram_used_gb": ramUsed,
      "sys/ram_total_gb": ramTotal,
      "sys/ram_percent": (100 * ramUsed) / ramTotal,
      "sys/disk_read_mb": diskRead,
      "sys/disk_write_mb": diskWrite,
      "sys/net_sent_mb": netSent,
      "sys/net_recv_mb": netRecv,
      "sys/gpu0_util": Math.min(100, (evaluating ? 61 : 97) + 2 * random.gaussian()),
      "sys/gpu0_mem_used_gb": gpuUsed,
      "sys/gpu0_mem_total_gb": gpuTotal,
      "sys/gpu0_mem_percent": (100 * gpuUsed) / gpuTotal,
      "sys/gpu0_temp_c": 44 + 28 * (1 - Math.exp(-time / 400)) + 0.8 * random.gaussian(),
      "sys/gpu0_power_w": (evaluating ? 380 : 560) + 25 * random.gaussian(),
      "sys/proc_rss_gb": 9.5 + Math.min(3, time / 400) + 0.05 * random.gaussian(),
    };
    // A CPU share needs a span of time: the sample taken at start has none.
    if (sample > 0) {
      values["sys/cpu_percent"] = Math.min(100, 34 + 6 * random.gaussian());
      values["sys/proc_cpu_percent"] = Math.max(0, 104 + 9 * random.gaussian());
    }
    for (const [key, value] of Object.entries(values)) put(key, sample, time, value);
  }
  return metrics;
}

function ppoRuns(random: Random, now: number): DemoRun[] {
  const runs: DemoRun[] = [];
  const timesteps = 500_000;
  const every = 2048;
  for (let replicate = 0; replicate < 6; replicate++) {
    const interrupted = replicate === 4;
    const stopAt = interrupted ? timesteps * 0.4 : timesteps;
    const reward = series();
    const entropy = series();
    const valueLoss = series();
    const clipFraction = series();
    const solvedAt = 150_000 + 120_000 * random.next();
    let collapse = 0;
    for (let step = 0; step < stopAt; step += every) {
      if (random.next() < 0.01) collapse = 0.6 + 0.3 * random.next();
      const learned = 1 / (1 + Math.exp(-(step - solvedAt) / 30_000));
      const value = Math.max(9, 500 * learned * (1 - collapse) + 20 + 15 * random.gaussian());
      collapse *= 0.8;
      reward.steps.push(step);
      reward.values.push(Math.min(500, value));
      entropy.steps.push(step);
      entropy.values.push(-0.69 * (1 - 0.7 * learned) + 0.02 * random.gaussian());
      valueLoss.steps.push(step);
      valueLoss.values.push(Math.abs(40 * Math.exp(-step / 120_000) + 5 * random.gaussian()) + collapse * 80);
      clipFraction.steps.push(step);
      clipFraction.values.push(Math.max(0, 0.12 * Math.exp(-step / 200_000) + 0.02 * random.gaussian()));
    }
    runs.push({
      experiment: "ppo-cartpole",
      name: `ppo-seed${replicate}`,
      config: {
        algo: "ppo",
        env: "CartPole-v1",
        n_envs: 8,
        n_steps: 256,
        learning_rate: 3e-4,
        gamma: 0.99,
        gae_lambda: 0.95,
        clip_range: 0.2,
        total_timesteps: timesteps,
        seed: replicate,
      },
      tags: ["ppo", "seeds"],
      group: "ppo-seeds",
      jobType: "train",
      notes: interrupted ? "Interrupted: laptop lid closed." : null,
      createdAt: now - 1 * DAY + replicate * 1800,
      secondsPerStep: 0.004,
      status: interrupted ? "interrupted" : "completed",
      provenance: provenance(random, `python ppo.py --env CartPole-v1 --seed ${replicate}`, "/home/demo/projects/rl"),
      metrics: {
        "rollout/ep_rew_mean": reward,
        "train/entropy_loss": entropy,
        "train/value_loss": valueLoss,
        "train/clip_fraction": clipFraction,
      },
    });
  }
  return runs;
}

function writeRun(db: StonksService, run: DemoRun): number {
  let points = 0;
  let lastStep = 0;
  const metrics: RecordedRun["metrics"] = {};
  for (const [key, metric] of Object.entries(run.metrics)) {
    const steps = Float64Array.from(metric.steps);
    const timestamps = metric.times
      ? Float64Array.from(metric.times, (time) => run.createdAt + 5 + time)
      : Float64Array.from(steps, (step) => run.createdAt + 5 + step * run.secondsPerStep);
    metrics[key] = { steps, values: Float64Array.from(metric.values), timestamps };
    points += steps.length;
    if (steps.length > 0 && !metric.times) lastStep = Math.max(lastStep, steps[steps.length - 1]);
  }
  const end = run.createdAt + 5 + lastStep * run.secondsPerStep + 3;
  db.writeRecordedRun({
    experiment: run.experiment,
    name: run.name,
    config: run.config,
    tags: run.tags,
    group: run.group,
    jobType: run.jobType,
    notes: run.notes,
    color: run.color ?? null,
    createdAt: run.createdAt,
    provenance: run.provenance,
    metrics,
    status: run.status,
    lastActive: run.status === "running" ? (run.lastHeartbeat ?? end) : end,
  });
  return points;
}

export interface DemoSummary {
  experiments: number;
  runs: number;
  points: number;
}

/** Writes the demo experiments into db. */
export function writeDemoData(db: StonksService, now = Date.now() / 1000): DemoSummary {
  const random = randomSource(20241127);
  const runs = [...cifarSweep(random, now), ...gptRuns(random, now), ...ppoRuns(random, now)];
  let points = 0;
  for (const run of runs) points += writeRun(db, run);
  return { experiments: DEMO_EXPERIMENTS.length, runs: runs.length, points };
}
