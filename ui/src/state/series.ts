import { MAX_SERIES_PER_REQUEST } from "../../../src/contract/limits";
import { ApiError, api } from "../api/client";
import type { PointsEvent, SeriesRequest, SeriesResponse } from "../api/types";

/** An inclusive step range of a zoomed view. */
export type StepRange = [number, number];

/** One (run, metric) series as the charts hold it: flat typed arrays with room to append live points. */
export interface SeriesData {
  runId: string;
  key: string;
  steps: Float64Array;
  values: Float64Array;
  times: Float64Array;
  length: number;
  /** Points of the stored series these stand for (the live stream's start_index counts from here). */
  total: number;
  downsampled: boolean;
  range: StepRange | null;
  /** The downsample size it was fetched with. */
  target: number;
  /** Whether the wall-clock times came too (charts on the step axis leave them out). */
  hasTimes: boolean;
}

const MAX_PARALLEL_REQUESTS = 3;
/** A live series that grew past this many times its target is fetched again, downsampled. */
const COMPACT_FACTOR = 3;

function seriesId(runId: string, key: string): string {
  return `${runId}\u0000${key}`;
}

function rangeKey(range: StepRange | null): string {
  return range ? `${range[0]}:${range[1]}` : "full";
}

function withRoom(values: number[], capacity: number): Float64Array {
  const out = new Float64Array(capacity);
  for (let i = 0; i < values.length; i++) out[i] = values[i];
  return out;
}

function grow(a: Float64Array, capacity: number): Float64Array {
  const out = new Float64Array(capacity);
  out.set(a);
  return out;
}

interface Job {
  runId: string;
  key: string;
  range: StepRange | null;
  target: number;
  times: boolean;
}

interface InFlight {
  range: StepRange | null;
  buffered: PointsEvent[];
}

/**
 * Chart data for every (run, metric) shown, fetched in batches through
 * POST /api/series and extended in place by the live `points` events, so
 * history is never fetched twice.
 */
class SeriesStore {
  private full = new Map<string, SeriesData>();
  private zoomed = new Map<string, SeriesData>();
  private inflight = new Map<string, InFlight>();
  /** The zoomed fetch on its way per series (the same objects as in inflight). */
  private zoomFlights = new Map<string, InFlight>();
  private queue = new Map<string, Job>();
  private flushScheduled = false;
  private active = 0;
  private waiting: (() => void)[] = [];
  private listeners = new Map<string, Set<() => void>>();
  private errors = new Map<string, string>();
  /** Bumped by reset(); answers to requests sent before are dropped. */
  private epoch = 0;

  subscribe(key: string, listener: () => void): () => void {
    let set = this.listeners.get(key);
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  private notify(key: string): void {
    const set = this.listeners.get(key);
    if (set) for (const l of set) l();
  }

  get(runId: string, key: string, range: StepRange | null): SeriesData | undefined {
    const id = seriesId(runId, key);
    if (range === null) return this.full.get(id);
    const z = this.zoomed.get(id);
    return z && rangeKey(z.range) === rangeKey(range) ? z : undefined;
  }

  error(key: string): string | undefined {
    return this.errors.get(key);
  }

  isLoading(runIds: string[], key: string, range: StepRange | null): boolean {
    const rk = rangeKey(range);
    return runIds.some((runId) => {
      const flight = this.inflight.get(`${seriesId(runId, key)}\u0000${rk}`);
      return flight !== undefined || this.queue.has(`${seriesId(runId, key)}\u0000${rk}`);
    });
  }

  /**
   * Asks for the series of these runs at about `target` points each, with
   * their wall-clock times when `times`; only what is missing is fetched.
   */
  request(key: string, runIds: string[], target: number, range: StepRange | null, times: boolean): void {
    for (const runId of runIds) {
      const have = this.get(runId, key, range);
      if (have && !(have.downsampled && have.target < target * 0.75) && (have.hasTimes || !times)) continue;
      // A refetch keeps what the held copy had: one chart of a metric may need its times (a time
      // axis) while another reads it densely as its x axis, and neither may undo the other's.
      this.enqueue({
        runId,
        key,
        range,
        target: Math.max(target, have?.target ?? 0),
        times: times || (have?.hasTimes ?? false),
      });
    }
  }

  private enqueue(job: Job): void {
    const id = `${seriesId(job.runId, job.key)}\u0000${rangeKey(job.range)}`;
    if (this.inflight.has(id) || this.queue.has(id)) return;
    this.queue.set(id, job);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const groups = new Map<string, Job[]>();
    for (const [id, job] of this.queue) {
      const groupKey = `${rangeKey(job.range)}|${job.target}|${job.times}`;
      let group = groups.get(groupKey);
      if (!group) {
        group = [];
        groups.set(groupKey, group);
      }
      group.push(job);
      const flight: InFlight = { range: job.range, buffered: [] };
      this.inflight.set(id, flight);
      if (job.range) this.zoomFlights.set(seriesId(job.runId, job.key), flight);
    }
    this.queue.clear();
    for (const jobs of groups.values()) {
      for (let i = 0; i < jobs.length; i += MAX_SERIES_PER_REQUEST) {
        void this.fetchBatch(jobs.slice(i, i + MAX_SERIES_PER_REQUEST));
      }
    }
  }

  private async slot(): Promise<void> {
    if (this.active < MAX_PARALLEL_REQUESTS) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  private async fetchBatch(jobs: Job[]): Promise<void> {
    const epoch = this.epoch;
    const { range, target, times } = jobs[0];
    const request: SeriesRequest[] = jobs.map((j) => ({ run_id: j.runId, key: j.key }));
    const keys = new Set(jobs.map((j) => j.key));
    await this.slot();
    let answer: SeriesResponse[] | null = null;
    let failure: string | null = null;
    try {
      answer = await api.series(request, target, times, range?.[0], range?.[1]);
    } catch (error) {
      failure = error instanceof ApiError ? error.message : String(error);
    } finally {
      this.release();
    }
    if (epoch !== this.epoch) return;
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i];
      const id = seriesId(job.runId, job.key);
      const flightId = `${id}\u0000${rangeKey(range)}`;
      const flight = this.inflight.get(flightId);
      this.inflight.delete(flightId);
      if (range && this.zoomFlights.get(id) === flight) this.zoomFlights.delete(id);
      const got = answer?.[i];
      if (!got) continue;
      const n = got.values.length;
      const capacity = Math.max(64, Math.ceil(n * 1.25));
      const data: SeriesData = {
        runId: job.runId,
        key: job.key,
        steps: withRoom(got.steps, capacity),
        values: withRoom(got.values, capacity),
        times: withRoom(got.timestamps ?? [], capacity),
        length: n,
        total: got.total_points,
        downsampled: got.downsampled,
        range,
        target,
        hasTimes: times,
      };
      for (const event of flight?.buffered ?? []) this.append(data, event);
      (range ? this.zoomed : this.full).set(id, data);
    }
    for (const key of keys) {
      if (failure) this.errors.set(key, failure);
      else this.errors.delete(key);
      this.notify(key);
    }
  }

  /** Adds the new points of a live event; false when the event does not fit (a gap: refetch). */
  private append(data: SeriesData, event: PointsEvent): boolean {
    const n = event.values.length;
    let from: number;
    if (data.range === null) {
      if (event.start_index > data.total) return false;
      from = data.total - event.start_index;
      if (from >= n) return true;
      data.total = event.start_index + n;
    } else {
      const last = data.length > 0 ? data.steps[data.length - 1] : Number.NEGATIVE_INFINITY;
      from = 0;
      while (from < n && event.steps[from] <= last) from++;
      let to = from;
      while (to < n && event.steps[to] <= data.range[1]) to++;
      // The first point past the window too, as the server's read brings it: the line reaches the right edge.
      if (to < n && last <= data.range[1]) to++;
      if (from >= to) return true;
      return this.copyIn(data, event, from, to);
    }
    return this.copyIn(data, event, from, n);
  }

  private copyIn(data: SeriesData, event: PointsEvent, from: number, to: number): boolean {
    const needed = data.length + (to - from);
    if (needed > data.values.length) {
      const capacity = Math.max(needed, data.values.length * 2);
      data.steps = grow(data.steps, capacity);
      data.values = grow(data.values, capacity);
      data.times = grow(data.times, capacity);
    }
    let j = data.length;
    for (let i = from; i < to; i++, j++) {
      data.steps[j] = event.steps[i];
      data.values[j] = event.values[i];
      data.times[j] = event.timestamps[i];
    }
    data.length = j;
    return true;
  }

  /** A live `points` event: appended to every held copy of that series, or kept for a fetch on its way. */
  points(event: PointsEvent): void {
    const id = seriesId(event.run_id, event.key);
    let changed = false;
    const fullFlight = this.inflight.get(`${id}\u0000full`);
    if (fullFlight) fullFlight.buffered.push(event);
    else changed = this.appendLive(this.full.get(id), event) || changed;
    const zoomFlight = this.zoomFlights.get(id);
    if (zoomFlight) zoomFlight.buffered.push(event);
    else changed = this.appendLive(this.zoomed.get(id), event) || changed;
    if (changed) this.notify(event.key);
  }

  private appendLive(data: SeriesData | undefined, event: PointsEvent): boolean {
    if (!data) return false;
    const before = data.length;
    if (!this.append(data, event)) {
      this.enqueue({ runId: data.runId, key: data.key, range: data.range, target: data.target, times: data.hasTimes });
      return false;
    }
    if (data.length > COMPACT_FACTOR * data.target) {
      this.enqueue({ runId: data.runId, key: data.key, range: data.range, target: data.target, times: data.hasTimes });
    }
    return data.length !== before;
  }

  dropRun(runId: string): void {
    const prefix = `${runId}\u0000`;
    for (const map of [this.full, this.zoomed]) {
      for (const id of map.keys()) if (id.startsWith(prefix)) map.delete(id);
    }
  }

  /** Forgets everything (new experiment, or events were missed); charts ask again. */
  reset(): void {
    this.epoch++;
    this.full.clear();
    this.zoomed.clear();
    this.inflight.clear();
    this.zoomFlights.clear();
    this.queue.clear();
    this.errors.clear();
    for (const key of this.listeners.keys()) this.notify(key);
  }
}

export const seriesStore = new SeriesStore();
