import type { GroupSeriesBodyJson, GroupSeriesJson, GroupSeriesReplyJson } from "../../../src/contract/groups";
import type { ErrorJson, InfoJson, SeriesBodyJson } from "../../../src/contract/wire";
import type {
  Experiment,
  Project,
  RunPatch,
  RunWithSummary,
  SavedWorkspace,
  SeriesRequest,
  SeriesResponse,
} from "./types";

/** An error the API answered, or a failure to reach it, with a message for people. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const pageParams = new URLSearchParams(window.location.search);
/** The access token from the page URL (?token=T), sent with every request. */
export const token = pageParams.get("token");

/**
 * GETs index.html started before this code loaded (the experiment list, the run list of the linked
 * experiment), by path; each answers the first request for its path and is then forgotten.
 */
const early = new Map(
  Object.entries((window as { __stonksEarly?: Record<string, Promise<Response>> }).__stonksEarly ?? {}),
);

function send(method: string, path: string, headers: Record<string, string>, body: unknown): Promise<Response> {
  const started = method === "GET" ? early.get(path) : undefined;
  if (started) {
    early.delete(path);
    return started;
  }
  return fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

async function request<T>(method: string, path: string, body?: unknown): Promise<{ data: T; response: Response }> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await send(method, path, headers, body);
  } catch {
    throw new ApiError(
      0,
      "network",
      "Cannot reach the stonks server. Is `stonks serve` still running? Reload the page once it is back.",
    );
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text.length > 0) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!response.ok) {
    const error = (parsed as Partial<ErrorJson> | null)?.error;
    const message =
      response.status === 401
        ? "The server asks for a token. Open the dashboard with ?token=YOUR_TOKEN in the URL."
        : (error?.message ?? `The server answered ${response.status} ${response.statusText} to ${method} ${path}.`);
    throw new ApiError(response.status, error?.code ?? "http_error", message);
  }
  return { data: parsed as T, response };
}

const enc = encodeURIComponent;

export const api = {
  /** Facts about the server, e.g. the database file it serves. */
  async info(): Promise<InfoJson> {
    return (await request<InfoJson>("GET", "/api/info")).data;
  },

  async experiments(): Promise<Experiment[]> {
    return (await request<Experiment[]>("GET", "/api/experiments")).data;
  },

  async projects(): Promise<Project[]> {
    return (await request<Project[]>("GET", "/api/projects")).data;
  },

  /** Every run of an experiment, newest first, fetched in pages. */
  async runs(experimentId: string): Promise<RunWithSummary[]> {
    const pageSize = 5000;
    const all: RunWithSummary[] = [];
    for (let offset = 0; ; offset += pageSize) {
      const { data, response } = await request<RunWithSummary[]>(
        "GET",
        `/api/experiments/${enc(experimentId)}/runs?limit=${pageSize}&offset=${offset}`,
      );
      all.push(...data);
      const total = Number(response.headers.get("X-Total-Count") ?? all.length);
      if (data.length < pageSize || all.length >= total) return all;
    }
  },

  async run(runId: string): Promise<RunWithSummary> {
    return (await request<RunWithSummary>("GET", `/api/runs/${enc(runId)}`)).data;
  },

  async patchRun(runId: string, patch: RunPatch): Promise<RunWithSummary> {
    return (await request<RunWithSummary>("PATCH", `/api/runs/${enc(runId)}`, patch)).data;
  },

  async deleteRun(runId: string): Promise<void> {
    await request("DELETE", `/api/runs/${enc(runId)}`);
  },

  async workspaces(experimentId: string): Promise<SavedWorkspace[]> {
    return (await request<SavedWorkspace[]>("GET", `/api/experiments/${enc(experimentId)}/workspaces`)).data;
  },

  async saveWorkspace(experimentId: string, name: string, state: object): Promise<SavedWorkspace> {
    const path = `/api/experiments/${enc(experimentId)}/workspaces/${enc(name)}`;
    return (await request<SavedWorkspace>("PUT", path, { state })).data;
  },

  async deleteWorkspace(experimentId: string, name: string): Promise<void> {
    await request("DELETE", `/api/experiments/${enc(experimentId)}/workspaces/${enc(name)}`);
  },

  async deleteExperiment(experimentId: string): Promise<void> {
    await request("DELETE", `/api/experiments/${enc(experimentId)}`);
  },

  /** Many series in one request; without `times` the wall-clock times are left out (a third less to send). */
  async series(
    series: SeriesRequest[],
    downsample: number,
    times: boolean,
    minStep?: number,
    maxStep?: number,
  ): Promise<SeriesResponse[]> {
    const body: SeriesBodyJson = { series, downsample };
    if (!times) body.fields = ["steps", "values"];
    if (minStep !== undefined) body.min_step = minStep;
    if (maxStep !== undefined) body.max_step = maxStep;
    return (await request<{ series: SeriesResponse[] }>("POST", "/api/series", body)).data.series;
  },

  /** Per group and key, the mean line and band statistics over step buckets (docs/grouping.md). */
  async groupSeries(body: GroupSeriesBodyJson): Promise<GroupSeriesJson[]> {
    return (await request<GroupSeriesReplyJson>("POST", "/api/groups/series", body)).data.series;
  },
};

/** URL of the live event stream of one experiment, or (null) of the experiment list alone. */
export function eventsUrl(experimentId: string | null): string {
  const params = new URLSearchParams(experimentId === null ? { only: "experiments" } : { experiment_id: experimentId });
  if (token) params.set("token", token);
  return `/api/events?${params}`;
}
