/** The write API as a remote SDK calls it (docs/rest-api.md), from a test: a run, then points of "loss". */

import { UNKNOWN_PROVENANCE } from "../../src/types.js";
import { encodeB64F64 } from "../../src/util/b64f64.js";

/** PUT /api/runs/{id}: the run as a remote SDK creates it. */
export async function putRun(base: string, runId: string, headers: Record<string, string> = {}): Promise<Response> {
  const now = Date.now() / 1000;
  return fetch(`${base}/api/runs/${runId}`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({
      experiment: "faults",
      project: null,
      name: null,
      config: {},
      tags: [],
      group: null,
      jobType: null,
      notes: null,
      color: null,
      createdAt: now,
      provenance: { ...UNKNOWN_PROVENANCE },
      status: "running",
      endedAt: null,
      lastHeartbeat: now,
    }),
    signal: AbortSignal.timeout(30_000),
  });
}

/** POST /api/runs/{id}/points: `count` points of "loss" from index `start`, value = step * 10. */
export async function postPoints(
  base: string,
  runId: string,
  start: number,
  count: number,
  headers: Record<string, string> = {},
): Promise<Response> {
  const steps = Float64Array.from({ length: count }, (_, i) => start + i);
  return fetch(`${base}/api/runs/${runId}/points`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({
      series: [
        {
          key: "loss",
          start,
          steps: encodeB64F64(steps),
          values: encodeB64F64(steps.map((step) => step * 10)),
          times: encodeB64F64(steps),
        },
      ],
    }),
    signal: AbortSignal.timeout(30_000),
  });
}
