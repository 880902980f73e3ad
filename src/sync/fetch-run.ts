/**
 * Reads a run back from a server, with every point, for a resume of a run the
 * local spool no longer holds (it was sent and deleted, or logged from another
 * machine): the spool gets the run as the server has it, so the resumed run's
 * series continue at the server's counts.
 */
import type { ExperimentJson, MetricPointsJson, RunJson } from "../contract/wire.js";
import type { ServerRun } from "../store/shipping.js";
import { type ServerClient, ServerRefused } from "./http.js";

async function getOrNull<T>(server: ServerClient, path: string): Promise<T | null> {
  try {
    return (await server.request<T>("GET", path)).body;
  } catch (error) {
    if (error instanceof ServerRefused && error.status === 404) return null;
    throw error;
  }
}

/** The id a resume target names on the server: the id itself, or the experiment's newest run for "latest". */
async function resolveTarget(server: ServerClient, target: string, experiment: string): Promise<string | null> {
  if (target !== "latest") return target;
  const runs = await getOrNull<RunJson[]>(
    server,
    `/api/experiments/${encodeURIComponent(experiment)}/runs?sort=created_at&order=desc&limit=1`,
  );
  return runs?.[0]?.id ?? null;
}

/** The run a resume names, as the server holds it; null when the server has no such run. */
export async function fetchServerRun(
  server: ServerClient,
  target: string,
  experiment: string,
): Promise<ServerRun | null> {
  const id = await resolveTarget(server, target, experiment);
  if (id === null) return null;
  const run = await getOrNull<RunJson>(server, `/api/runs/${encodeURIComponent(id)}`);
  if (run === null) return null;
  const owner = await getOrNull<ExperimentJson>(server, `/api/experiments/${encodeURIComponent(run.experiment_id)}`);
  const series: ServerRun["series"] = [];
  for (const key of Object.keys(run.summary)) {
    const points = await getOrNull<MetricPointsJson>(
      server,
      `/api/runs/${encodeURIComponent(id)}/metrics?key=${encodeURIComponent(key)}`,
    );
    if (points === null) continue;
    series.push({
      key,
      steps: Float64Array.from(points.steps),
      values: Float64Array.from(points.values),
      times: Float64Array.from(points.timestamps),
    });
  }
  const p = run.provenance;
  return {
    id: run.id,
    experiment: owner?.name ?? experiment,
    name: run.name,
    config: run.config,
    tags: run.tags,
    group: run.group,
    jobType: run.job_type,
    notes: run.notes,
    color: run.color,
    status: run.status,
    createdAt: run.created_at,
    endedAt: run.ended_at,
    lastHeartbeat: run.last_heartbeat,
    provenance: {
      host: p.host,
      pid: p.pid,
      command: p.command,
      cwd: p.cwd,
      gitCommit: p.git_commit,
      gitDirty: p.git_dirty,
      sdkLanguage: p.sdk_language,
      sdkVersion: p.sdk_version,
    },
    series,
  };
}
