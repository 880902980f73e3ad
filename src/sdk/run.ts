import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import {
  InvalidConfigError,
  InvalidMetricError,
  NotFoundError,
  SchemaVersionError,
  StonksError,
  WriteError,
} from "../errors.js";
import type { ResumeTarget } from "../store/writes.js";
import { type Config, type FinishStatus, type HardwareOptions, MAX_KEY_LENGTH, type RunStatus } from "../types.js";
import { isRemoteUrl, normalizeServerUrl, resolveDbPath, spoolPathFor } from "../util/db-path.js";
import { logger } from "../util/logger.js";
import { codePointLength, type Repair, toConfigJson, wellFormed } from "./clean.js";
import { DEFAULT_HARDWARE_INTERVAL_S, HardwareSampler, type SampleValues } from "./hardware.js";
import { gitDirty, processProvenance, readGitCommit } from "./provenance.js";
import { type ExitParticipant, type WriterClient, writer } from "./writer-client.js";

export interface StartRunOptions extends HardwareOptions {
  /** The experiment, when startRun() is called with options only; default "default". */
  experiment?: string;
  /** Hyperparameters stored with the run, as JSON (see the docs for BigInt, Map, Set, cycles). */
  config?: Record<string, unknown>;
  /**
   * Database file, or a stonks server's URL (http:// or https://): this option >
   * STONKS_DB > ./stonks.db. With a URL the run is written to a local spool file
   * and sent from there (docs/remote.md).
   */
  db?: string;
  /** The server's token when db is a URL: this option > STONKS_TOKEN. */
  token?: string;
  /** The original stonks' name for db. */
  saveDir?: string;
  /** Human-readable name shown in the dashboard. */
  runName?: string;
  /** The original stonks' name for runName. */
  name?: string;
  /** The id of the new run, or (with resume: true or "must") of the run to continue. */
  id?: string;
  /** The project a new experiment is linked to (created by name on first use). */
  project?: string;
  /** Every key log() receives is stored as `${prefix}/${key}`. */
  prefix?: string;
  /** Throw on logging errors instead of warning and going on. Default false. */
  strict?: boolean;
  tags?: string[];
  group?: string;
  jobType?: string;
  notes?: string;
  /**
   * Continue an existing run; steps continue after its last one. "latest": the
   * experiment's newest run (a new run when it has none); a run id: that run of
   * this experiment; true: the run `id` in any experiment (a new run with that
   * id when there is none) or, without `id`, "latest"; "must": as true, but a
   * missing run throws NotFoundError ("not found"), strict or not.
   */
  resume?: true | "must" | "latest" | (string & {});
}

export interface LogOptions {
  /** Step of these values; omitted: the previous step + 1, starting at 0. */
  step?: number | bigint;
}

type RunState = "created" | "running" | "finished" | "disabled";

const FINISH_STATUSES: readonly string[] = ["completed", "failed", "interrupted"];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A number from anything a user would call one; NaN when it is not. */
function toNumber(value: unknown): number {
  switch (typeof value) {
    case "number":
      return value;
    case "boolean":
      return value ? 1 : 0;
    case "bigint":
      return Number(value);
    case "object":
      if (value instanceof Number) return value.valueOf();
      return Number.NaN;
    default:
      return Number.NaN;
  }
}

function describe(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (value === null) return "null";
  if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object";
  return `a ${typeof value}`;
}

/** The value of an option that has the seed's name and the original stonks' name. */
function oneOf(seedValue: string | undefined, originalValue: string | undefined, seed: string, original: string) {
  if (seedValue !== undefined && originalValue !== undefined && seedValue !== originalValue) {
    throw new StonksError(`${seed} and ${original} name the same option and got different values; pass one of them.`);
  }
  return seedValue ?? originalValue;
}

/** The error the writer thread reported, as its class. */
function replyError(kind: string, message: string): StonksError {
  if (kind === "SchemaVersionError") return new SchemaVersionError(message);
  if (kind === "NotFoundError") return new NotFoundError(message);
  return new StonksError(message);
}

/** One execution of a training script. Create with startRun(). */
export class Run implements ExitParticipant {
  readonly experiment: string;
  readonly strict: boolean;
  private readonly options: StartRunOptions;
  private state: RunState = "created";
  private runId: string | null = null;
  private seq = 0;
  private dbPath = "";
  private finalStatus: RunStatus | null = null;
  private nextStep = 0;
  /** Series slot of each key as logged; -1 for a key that is dropped (too long). */
  private readonly slots = new Map<string, number>();
  /** Series slot of each key as stored: two malformed keys may repair to one. */
  private readonly storedSlots = new Map<string, number>();
  private readonly warned = new Set<string>();
  private client: WriterClient | null = null;
  private pendingGit: (() => Promise<void>) | null = null;
  private gitAtExit: (() => void) | null = null;
  /** Prepended to every key log() receives ("" or "prefix/"). */
  private readonly prefix: string;
  private readonly dbOption: string | undefined;
  private readonly resumeTarget: ResumeTarget;
  private runExperimentId: string | null = null;
  private runName: string | null;
  private runProject: string | null;
  private runGroup: string | null;
  private runJobType: string | null;
  private runNotes: string | null;
  private runTags: string[];
  private runConfig: Config | null = null;
  private sampler: HardwareSampler | null = null;

  constructor(experiment: string | undefined, options: StartRunOptions = {}) {
    const named = experiment === undefined ? (options.experiment ?? "default") : experiment;
    if (typeof named !== "string" || named.trim() === "") {
      throw new StonksError("startRun needs an experiment name, a non-empty string such as startRun('my-experiment').");
    }
    if (experiment !== undefined && options.experiment !== undefined && experiment !== options.experiment) {
      throw new StonksError(
        `startRun got two experiments, "${experiment}" and options.experiment "${options.experiment}"; pass one.`,
      );
    }
    this.strict = options.strict === true;
    this.experiment = this.text(named, "the experiment name");
    this.options = options;
    this.dbOption = oneOf(options.db, options.saveDir, "db", "saveDir");
    this.runName = this.optionalText(oneOf(options.runName, options.name, "runName", "name"), "the run name");
    for (const [option, value] of [
      ["id", options.id],
      ["project", options.project],
    ] as const) {
      if (value !== undefined && (typeof value !== "string" || value === "")) {
        throw new StonksError(`${option} must be a non-empty string.`);
      }
    }
    if (options.prefix !== undefined && typeof options.prefix !== "string") {
      throw new StonksError("prefix must be a string.");
    }
    this.prefix = options.prefix ? `${this.text(options.prefix, "the prefix")}/` : "";
    this.runProject = this.optionalText(options.project, "the project name");
    this.runGroup = this.optionalText(options.group, "the group");
    this.runJobType = this.optionalText(options.jobType, "the job type");
    this.runNotes = this.optionalText(options.notes, "the notes");
    this.runTags = this.cleanTags(options.tags);
    this.resumeTarget = this.resumeFrom(options.resume, this.optionalText(options.id, "the run id"));
    const interval = options.hardwareInterval;
    if (interval !== undefined && (typeof interval !== "number" || !(interval > 0) || interval === Infinity)) {
      throw new StonksError(
        `hardwareInterval must be a positive number of seconds, e.g. 5, got ${describe(interval)}.`,
      );
    }
  }

  private resumeFrom(resume: unknown, id: string | null): ResumeTarget {
    if (resume === undefined || resume === null || resume === false) {
      return { target: null, anyExperiment: false, must: false };
    }
    if (resume === true || resume === "must") {
      return { target: id ?? "latest", anyExperiment: id !== null, must: resume === "must" };
    }
    if (typeof resume !== "string" || resume === "") {
      throw new StonksError('resume must be true, "must", "latest" or a run id.');
    }
    return { target: this.text(resume, "the resume id"), anyExperiment: false, must: false };
  }

  /** The run's id (available once started): a UUID, or the id option. */
  get id(): string {
    if (this.runId === null) throw new StonksError("the run has no id until run.start() is called.");
    return this.runId;
  }

  /** The experiment's id (available once started). */
  get experimentId(): string {
    if (this.runExperimentId === null)
      throw new StonksError("the run has no experiment id until run.start() is called.");
    return this.runExperimentId;
  }

  get name(): string | null {
    return this.runName;
  }

  /** The experiment's project once started (an experiment keeps the project it was created with); before, the project option. */
  get project(): string | null {
    return this.runProject;
  }

  get group(): string | null {
    return this.runGroup;
  }

  get jobType(): string | null {
    return this.runJobType;
  }

  get notes(): string | null {
    return this.runNotes;
  }

  get tags(): string[] {
    return [...this.runTags];
  }

  /** The run's config as stored (initial config merged with every logConfig()). */
  get config(): Config {
    return { ...(this.runConfig ?? this.cleanConfig(this.options.config ?? {}, "config")) };
  }

  /** "created" before start(), then running, completed, failed or interrupted. */
  get status(): RunStatus | "created" {
    if (this.finalStatus !== null) return this.finalStatus;
    return this.state === "running" ? "running" : "created";
  }

  /** Creates the run in the database (or reopens it with resume). Returns the run. */
  start(): this {
    if (this.state !== "created") return this;
    const location = resolveDbPath(this.dbOption);
    const server = isRemoteUrl(location) ? normalizeServerUrl(location) : null;
    const target = server === null ? location : spoolPathFor(server);
    try {
      if (server !== null) mkdirSync(dirname(target), { recursive: true });
      const config = this.cleanConfig(this.options.config ?? {}, "config");
      const client = writer();
      if (server !== null && this.resumeTarget.target !== null) {
        const failure = client.importFromServer(
          server,
          this.serverToken(),
          target,
          this.resumeTarget.target,
          this.experiment,
        );
        if (failure !== null) {
          logger.warn(
            `could not read the run to resume from ${server} (${failure}); resuming from the local spool ${target} only.`,
          );
        }
      }
      const reply = client.start({
        op: "start",
        dbPath: target,
        experiment: this.experiment,
        name: this.runName,
        config,
        tags: this.runTags,
        group: this.runGroup,
        jobType: this.runJobType,
        notes: this.runNotes,
        resume: this.resumeTarget,
        runId: this.optionalText(this.options.id, "the run id"),
        project: this.runProject,
        provenance: processProvenance(),
      });
      if (!reply.ok) throw replyError(reply.kind, reply.error);
      this.client = client;
      this.runId = reply.id;
      this.runExperimentId = reply.experimentId;
      this.runName = reply.name;
      this.runConfig = reply.config;
      this.runTags = reply.tags;
      this.runGroup = reply.group;
      this.runJobType = reply.jobType;
      this.runNotes = reply.notes;
      this.runProject = reply.project;
      this.seq = reply.seq;
      this.dbPath = target;
      this.nextStep = reply.lastStep === null ? 0 : reply.lastStep + 1;
      this.state = "running";
      if (server !== null) client.shipRun(server, this.serverToken(), target, reply.id);
      client.addParticipant(this);
      // As in the Python SDK: provenance describes the code that created the run; a resume keeps it.
      if (reply.created) this.recordGit(client, target);
      if (this.options.hardware === true) {
        const interval = this.options.hardwareInterval ?? DEFAULT_HARDWARE_INTERVAL_S;
        this.sampler = new HardwareSampler(this.recordSample, interval, this.options.hardwareGpu !== false).start();
      }
    } catch (error) {
      if (this.strict || (error instanceof NotFoundError && this.resumeTarget.must)) throw error;
      this.state = "disabled";
      logger.error(`could not start the run, nothing will be logged: ${(error as Error).message}`);
    }
    return this;
  }

  private serverToken(): string | null {
    const token = this.options.token ?? process.env.STONKS_TOKEN;
    return token === undefined || token === "" ? null : token;
  }

  private recordGit(client: WriterClient, dbPath: string): void {
    const commit = readGitCommit();
    if (commit === null) return;
    const runSeq = this.seq;
    // Spawning git costs milliseconds; do it off the startRun() path (or at finish for short runs).
    // One write of both fields, as the Python SDK does: one revision for the run's row.
    this.pendingGit = async () => {
      this.pendingGit = null;
      clearTimeout(timer);
      const dirty = await gitDirty();
      if (this.gitAtExit === null) return;
      this.gitAtExit = null;
      client.send({ op: "git", runSeq, dbPath, commit, dirty });
    };
    // A process ending before git answered still records the commit.
    this.gitAtExit = () => client.send({ op: "git", runSeq, dbPath, commit, dirty: null });
    const timer = setTimeout(() => void this.pendingGit?.(), 100);
    timer.unref();
  }

  /**
   * Logs metric values at a step. Never waits on disk: the values go to a
   * shared buffer that a writer thread stores.
   */
  log(metrics: Record<string, unknown>, options?: LogOptions): void {
    if (this.state === "created") this.start();
    if (this.state !== "running") {
      this.problem("log-state", `run.log() was called on ${this.describeState()}; the values were not logged.`);
      return;
    }
    if (this.strict) this.raiseWriteError();
    if (!isPlainObject(metrics)) {
      this.problem("metrics-type", `run.log() takes an object of metric values, got ${describe(metrics)}.`);
      return;
    }
    // Strict is all or nothing: every value and new key is checked before the first point is written.
    if (this.strict) this.checkCall(metrics);
    let step: number;
    const requested = options?.step;
    if (requested === undefined) {
      step = this.nextStep;
    } else {
      step = typeof requested === "bigint" ? Number(requested) : requested;
      if (typeof step !== "number" || !Number.isSafeInteger(step) || step < 0) {
        this.problem("step", `step must be a non-negative integer, got ${describe(requested)}; the call was skipped.`);
        return;
      }
    }
    this.nextStep = step + 1;
    const client = this.client!;
    const time = Date.now() / 1000;
    for (const key in metrics) {
      const raw = metrics[key];
      const value = typeof raw === "number" ? raw : toNumber(raw);
      // value - value is 0 only for finite numbers (NaN and ±Infinity give NaN).
      if (value - value !== 0 || key === "") {
        this.invalidValue(key, raw);
        continue;
      }
      let slot = this.slots.get(key);
      if (slot === undefined) slot = this.newSlot(key);
      if (slot < 0) continue;
      client.push(slot, step, value, time);
    }
    client.commit();
  }

  /** A system-metrics sample at the sampler's own step: the user's next step stays as it was. */
  private readonly recordSample = (step: number, values: SampleValues): void => {
    if (this.state !== "running") return;
    const client = this.client!;
    const time = Date.now() / 1000;
    for (const [key, value] of values) {
      let slot = this.storedSlots.get(key);
      if (slot === undefined) {
        slot = client.registerSeries(this.dbPath, this.seq, this.runId!, key);
        this.storedSlots.set(key, slot);
      }
      client.push(slot, step, value, time);
    }
    client.commit();
  };

  /** Throws (strict mode) for the first value or new key of the call that would not be stored as given. */
  private checkCall(metrics: Record<string, unknown>): void {
    for (const key in metrics) {
      const raw = metrics[key];
      const value = typeof raw === "number" ? raw : toNumber(raw);
      if (value - value !== 0 || key === "") this.invalidValue(key, raw);
      if (!this.slots.has(key)) this.storedKey(key);
    }
  }

  /** The key as stored: well-formed text; null when it is too long and dropped. Only for keys seen the first time. */
  private storedKey(key: string): string | null {
    const stored = wellFormed(this.prefix + key, "metric key", (repair) =>
      this.keyProblem(repair.kind, repair.message),
    );
    if (stored.length > MAX_KEY_LENGTH && codePointLength(stored) > MAX_KEY_LENGTH) {
      this.keyProblem(
        `key-length:${key}`,
        `metric key ${JSON.stringify(`${stored.slice(0, 40)}...`)} is ${codePointLength(stored)} characters long, more than the ${MAX_KEY_LENGTH} allowed; its values are dropped (warned once per key).`,
      );
      return null;
    }
    return stored;
  }

  /** The slow path of log(): a key seen for the first time. */
  private newSlot(key: string): number {
    const stored = this.storedKey(key);
    let slot = -1;
    if (stored !== null) {
      slot = this.storedSlots.get(stored) ?? this.client!.registerSeries(this.dbPath, this.seq, this.runId!, stored);
      this.storedSlots.set(stored, slot);
    }
    this.slots.set(key, slot);
    return slot;
  }

  private keyProblem(kind: string, message: string): void {
    if (this.strict) throw new InvalidMetricError(message);
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    logger.warn(message);
  }

  /** Config keys and values, run options: warn once per problem (strict: throw InvalidConfigError). */
  private readonly configProblem = (repair: Repair): void => {
    if (this.strict) throw new InvalidConfigError(repair.message);
    if (this.warned.has(repair.kind)) return;
    this.warned.add(repair.kind);
    logger.warn(repair.message);
  };

  private text(value: string, what: string): string {
    return wellFormed(value, what, this.configProblem);
  }

  private optionalText(value: string | undefined, what: string): string | null {
    return typeof value === "string" ? this.text(value, what) : (value ?? null);
  }

  /** Merges keys into the stored config (later keys win). */
  logConfig(config: Record<string, unknown>): void {
    if (this.state === "created") this.start();
    if (this.state !== "running") {
      this.problem("config-state", `run.logConfig() was called on ${this.describeState()}; the config was not stored.`);
      return;
    }
    if (!isPlainObject(config)) {
      this.configProblem({ kind: "config-type", message: `run.logConfig() takes an object, got ${describe(config)}.` });
      return;
    }
    const patch = this.cleanConfig(config, "logConfig");
    this.runConfig = { ...this.runConfig, ...patch };
    this.client!.send({ op: "config", runSeq: this.seq, dbPath: this.dbPath, patch });
  }

  /** Replaces the run's tags. Resolves once they are in the database (before start(): start() stores them). */
  async setTags(tags: string[]): Promise<void> {
    if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== "string" || tag === "")) {
      this.problem("tags-type", "run.setTags() takes an array of non-empty strings; the call was ignored.");
      return;
    }
    const cleaned = [...new Set(tags.map((tag) => this.text(tag, "a tag")))];
    if (!this.canUpdate("setTags")) return;
    this.runTags = cleaned;
    if (this.state === "running") {
      this.client!.send({ op: "tags", runSeq: this.seq, dbPath: this.dbPath, tags: cleaned });
      await this.flush();
    }
  }

  /** Replaces the run's notes (null clears them). Resolves once they are in the database. */
  async setNotes(notes: string | null): Promise<void> {
    if (notes !== null && typeof notes !== "string") {
      this.problem(
        "notes-type",
        `run.setNotes() takes a string or null, got ${describe(notes)}; the call was ignored.`,
      );
      return;
    }
    const cleaned = notes === null ? null : this.text(notes, "the notes");
    if (!this.canUpdate("setNotes")) return;
    this.runNotes = cleaned;
    if (this.state === "running") {
      this.client!.send({ op: "notes", runSeq: this.seq, dbPath: this.dbPath, notes: cleaned });
      await this.flush();
    }
  }

  private canUpdate(method: string): boolean {
    if (this.state === "created" || this.state === "running") return true;
    this.problem(`${method}-state`, `run.${method}() was called on ${this.describeState()}; nothing was stored.`);
    return false;
  }

  /** Resolves when everything logged so far is in the database. */
  async flush(): Promise<void> {
    if (this.state !== "running" && this.state !== "finished") return;
    try {
      await this.client!.flush();
    } catch (error) {
      if (this.strict) throw error;
      this.problem("flush", (error as Error).message);
    }
  }

  /** Records the final status and writes every buffered point. */
  async finish(status: FinishStatus = "completed"): Promise<void> {
    if (!FINISH_STATUSES.includes(status)) {
      const message = `finish() takes "completed", "failed" or "interrupted", got ${JSON.stringify(status)}.`;
      if (this.strict) throw new StonksError(message);
      logger.warn(`${message} The run is marked failed.`);
      status = "failed";
    }
    if (this.state === "created") this.start();
    if (this.state !== "running") return;
    await this.pendingGit?.();
    this.markFinished(status);
    await this.flush();
  }

  onProcessExit(status: FinishStatus): void {
    this.gitAtExit?.();
    this.gitAtExit = null;
    if (this.state === "running") this.markFinished(status);
  }

  private markFinished(status: FinishStatus): void {
    this.sampler?.stop();
    this.sampler = null;
    this.state = "finished";
    this.finalStatus = status;
    this.client!.commit();
    this.client!.send({ op: "finish", runSeq: this.seq, dbPath: this.dbPath, status });
    this.client!.removeParticipant(this);
  }

  private describeState(): string {
    return this.state === "disabled" ? "a run that could not start (see the error above)" : `a ${this.status} run`;
  }

  private raiseWriteError(): void {
    const message = this.client!.takeWriteError();
    if (message !== null) throw new WriteError(`${message}.`);
  }

  private invalidValue(key: string, raw: unknown): void {
    const reason =
      key === ""
        ? "metric keys must be non-empty strings"
        : `metric "${key}" must be a finite number, got ${describe(raw)}`;
    if (this.strict) throw new InvalidMetricError(`${reason}.`);
    if (this.warned.has(`key:${key}`)) return;
    this.warned.add(`key:${key}`);
    logger.warn(`${reason}; the value was dropped (warned once per key).`);
  }

  private problem(kind: string, message: string): void {
    if (this.strict) throw new InvalidMetricError(message);
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    logger.warn(message);
  }

  private cleanTags(tags: unknown): string[] {
    if (tags === undefined || tags === null) return [];
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== "string" || t === "")) {
      throw new StonksError("tags must be an array of non-empty strings.");
    }
    return [...new Set((tags as string[]).map((tag) => this.text(tag, "a tag")))];
  }

  private cleanConfig(config: unknown, where: string): Config {
    if (!isPlainObject(config)) throw new InvalidConfigError(`${where} must be an object of hyperparameters.`);
    return toConfigJson(config, this.configProblem);
  }
}
