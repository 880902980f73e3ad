/**
 * `stonks migrate FROM TO`: copies everything of one stonks store into another
 * (a SQLite file or a postgresql:// database, either way round): projects,
 * experiments, runs with every point, workspaces and tokens.
 *
 * It only uses the service API, the same calls a server makes for a sender
 * (upsert a run's metadata, append points at their start index), so it works
 * between any two backends openService opens, and it is idempotent the same
 * way a sender is: points the destination has are skipped by index, so a
 * second run copies nothing and an interrupted one (killed, Ctrl-C, a lost
 * connection) continues where it stopped. It never deletes from either side.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import {
  openService,
  type RemoteRunMeta,
  type RemoteSeriesBatch,
  type RunSyncState,
  type StonksService,
  type TokenRestore,
} from "../query/service.js";
import type { RunInfo } from "../types.js";
import { isPostgresUrl } from "../util/db-path.js";
import { CliError } from "./common.js";

/** Points read and appended per step: large enough for few transactions, small enough to keep memory flat. */
const POINTS_PER_STEP = 100_000;
/** Least time between two redraws of the progress bar. */
const REDRAW_MS = 100;

export interface MigrateReport {
  projects: number;
  experiments: { copied: number; skipped: number };
  /** copied: new in the destination; continued: there already, given points or newer metadata. */
  runs: { copied: number; continued: number; skipped: number };
  points: { copied: number; skipped: number };
  workspaces: number;
  tokens: number;
}

export interface MigrateProgress {
  runsDone: number;
  runsTotal: number;
  pointsDone: number;
  pointsTotal: number;
}

function emptyReport(): MigrateReport {
  return {
    projects: 0,
    experiments: { copied: 0, skipped: 0 },
    runs: { copied: 0, continued: 0, skipped: 0 },
    points: { copied: 0, skipped: 0 },
    workspaces: 0,
    tokens: 0,
  };
}

function runMeta(run: RunInfo, experiment: string, project: string | null): RemoteRunMeta {
  return {
    experiment,
    project,
    name: run.name,
    config: run.config,
    tags: run.tags,
    group: run.group,
    jobType: run.jobType,
    notes: run.notes,
    color: run.color,
    createdAt: run.createdAt,
    provenance: run.provenance,
    status: run.status,
    endedAt: run.endedAt,
    lastHeartbeat: run.lastHeartbeat,
  };
}

function total(state: RunSyncState): number {
  return Object.values(state.series).reduce((sum, count) => sum + count, 0);
}

/** Copies everything of `source` that `target` lacks; `progress` is told after every step. */
export function copyStore(
  source: StonksService,
  target: StonksService,
  progress: (state: MigrateProgress) => void = () => {},
): MigrateReport {
  const report = emptyReport();
  const projects = source.listProjects();
  const projectNames = new Map(projects.map((p) => [p.id, p.name]));
  for (const project of projects) {
    if (target.restoreProject({ id: project.id, name: project.name, createdAt: project.createdAt })) {
      report.projects += 1;
    }
  }

  const experiments = source.listExperiments();
  const targetExperiment = new Map<string, string>();
  const experimentNames = new Map<string, { name: string; project: string | null }>();
  for (const experiment of experiments) {
    const project = experiment.projectId === null ? null : (projectNames.get(experiment.projectId) ?? null);
    const restored = target.restoreExperiment({
      id: experiment.id,
      name: experiment.name,
      description: experiment.description,
      createdAt: experiment.createdAt,
      project,
    });
    targetExperiment.set(experiment.id, restored.id);
    experimentNames.set(experiment.id, { name: experiment.name, project });
    if (restored.created) report.experiments.copied += 1;
    else report.experiments.skipped += 1;
  }

  // Oldest first, as they were made: a run's default colour follows the runs made before it.
  const runs = source.listRuns().reverse();
  const counts = new Map<string, RunSyncState>();
  for (const run of runs) {
    const state = source.runSyncState(run.id);
    if (state !== null) counts.set(run.id, state);
  }
  const state: MigrateProgress = {
    runsDone: 0,
    runsTotal: counts.size,
    pointsDone: 0,
    pointsTotal: [...counts.values()].reduce((sum, s) => sum + total(s), 0),
  };
  progress(state);
  for (const run of runs) {
    const sourceState = counts.get(run.id);
    const experiment = experimentNames.get(run.experimentId);
    if (sourceState === undefined || experiment === undefined) continue;
    copyRun(source, target, run, runMeta(run, experiment.name, experiment.project), sourceState, report, (points) => {
      state.pointsDone += points;
      progress(state);
    });
    state.runsDone += 1;
    progress(state);
  }

  for (const experiment of experiments) {
    const targetId = targetExperiment.get(experiment.id);
    if (targetId === undefined) continue;
    for (const workspace of source.listWorkspaces(experiment.id)) {
      if (target.restoreWorkspace(targetId, workspace)) report.workspaces += 1;
    }
  }

  for (const token of source.tokensWithHashes()) {
    const outcome: TokenRestore = target.restoreToken(token);
    if (outcome === "copied" || outcome === "revoked") report.tokens += 1;
  }
  return report;
}

function copyRun(
  source: StonksService,
  target: StonksService,
  run: RunInfo,
  meta: RemoteRunMeta,
  sourceState: RunSyncState,
  report: MigrateReport,
  advanced: (points: number) => void,
): void {
  const before = target.runSyncState(run.id);
  const upserted = target.upsertRemoteRun(run.id, meta);
  const stored = upserted.series;
  let pending: RemoteSeriesBatch[] = [];
  let pendingPoints = 0;
  let copied = 0;
  const flush = () => {
    if (pending.length === 0) return;
    const outcome = target.appendRemotePoints(run.id, pending);
    if (outcome === null)
      throw new CliError(`Run ${run.id} disappeared from the destination while copying; run again.`);
    const gap = Object.keys(outcome.gaps)[0];
    if (gap !== undefined) {
      throw new CliError(`The destination's "${gap}" of run ${run.id} changed while copying; run again.`);
    }
    copied += pendingPoints;
    advanced(pendingPoints);
    pending = [];
    pendingPoints = 0;
  };
  for (const key of Object.keys(sourceState.series).sort()) {
    const count = sourceState.series[key];
    let at = Math.min(stored[key] ?? 0, count);
    report.points.skipped += at;
    advanced(at);
    while (at < count) {
      const points = source.readPointRange(run.id, key, at, Math.min(count, at + POINTS_PER_STEP - pendingPoints));
      const n = points.values.length;
      if (n === 0) break;
      pending.push({ key, start: at, steps: points.steps, values: points.values, times: points.timestamps });
      pendingPoints += n;
      at += n;
      if (pendingPoints >= POINTS_PER_STEP) flush();
    }
  }
  flush();
  report.points.copied += copied;
  if (upserted.created) report.runs.copied += 1;
  else if (copied > 0 || target.runSyncState(run.id)?.revision !== before?.revision) report.runs.continued += 1;
  else report.runs.skipped += 1;
}

/** One line for a terminal: a bar, the share done, points and runs. */
export function progressLine(state: MigrateProgress, columns: number): string {
  const share =
    state.pointsTotal === 0 ? state.runsDone / Math.max(1, state.runsTotal) : state.pointsDone / state.pointsTotal;
  const text = ` ${Math.floor(share * 100)}%  ${state.pointsDone}/${state.pointsTotal} points  ${state.runsDone}/${state.runsTotal} runs`;
  const width = Math.max(10, Math.min(40, columns - text.length - 3));
  const filled = Math.round(share * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]${text}`;
}

function summary(report: MigrateReport): string {
  const continued = report.runs.continued > 0 ? ` (${report.runs.continued} continued)` : "";
  return (
    `copied ${report.experiments.copied} experiments, ${report.runs.copied + report.runs.continued} runs${continued}, ` +
    `${report.points.copied} points, ${report.workspaces} workspaces, ${report.projects} projects, ${report.tokens} tokens; ` +
    `skipped (already there) ${report.experiments.skipped} experiments, ${report.runs.skipped} runs, ${report.points.skipped} points`
  );
}

/** Where a store is, to tell two spellings of one file apart. */
function location(target: string): string {
  return isPostgresUrl(target) ? target : resolve(target);
}

export async function migrateCommand(from: string, to: string): Promise<void> {
  if (!isPostgresUrl(from) && !existsSync(from)) {
    throw new CliError(`No stonks database at ${from}; FROM is a stonks file or a postgresql:// URL.`);
  }
  if (location(from) === location(to)) throw new CliError("FROM and TO are the same store; name another TO.");
  const source = openService(from, { readonly: true });
  try {
    const target = openService(to, { create: true });
    try {
      const terminal = process.stderr.isTTY === true;
      let drawn = 0;
      const report = copyStore(source, target, (state) => {
        const now = Date.now();
        if (!terminal || (now - drawn < REDRAW_MS && state.runsDone < state.runsTotal)) return;
        drawn = now;
        process.stderr.write(`\r${progressLine(state, process.stderr.columns || 80)}\x1b[K`);
      });
      if (terminal) process.stderr.write("\r\x1b[K");
      process.stdout.write(`${summary(report)}\n`);
    } finally {
      target.close();
    }
  } finally {
    source.close();
  }
}
