/** Shared by the server tests: a populated database, a running server and an SSE reader. */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { openDatabase, runImmediate } from "../src/store/connection.js";
import { getRunRow } from "../src/store/reads.js";
import { appendPoints, ensureSeries } from "../src/store/writes.js";
import { CLI, ROOT } from "./helpers.js";
import { populateWith, type TestRun } from "./populate.js";

export const PROVENANCE = {
  host: "test-host",
  pid: 4242,
  command: "python train.py",
  cwd: "/work",
  gitCommit: "abc123",
  gitDirty: false,
  sdkLanguage: "python",
  sdkVersion: "0.1.0",
};

export type { TestRun } from "./populate.js";

/** Writes runs through the store layer; returns their ids in order. */
export function populateRuns(dbPath: string, runs: TestRun[]): string[] {
  return populateWith(dbPath, runs, {
    experiment: "exp",
    createdAt: () => 1_700_000_000,
    jobType: null,
    provenance: PROVENANCE,
  }).map((run) => run.id);
}

/** Appends points to an existing series of a run from this process (a second connection). */
export function appendToRun(dbPath: string, runId: string, key: string, steps: number[], values: number[]): void {
  const db = openDatabase(dbPath);
  try {
    runImmediate(db, () => {
      const row = getRunRow(db, runId);
      if (row === null) throw new Error(`no run ${runId}`);
      const seq = row.seq;
      appendPoints(
        db,
        ensureSeries(db, seq, key),
        Float64Array.from(steps),
        Float64Array.from(values),
        Float64Array.from(steps, () => Date.now() / 1000),
      );
    });
  } finally {
    db.close();
  }
}

export interface SseEvent {
  event: string;
  id: string;
  data: string;
}

export interface EventReader {
  status: number;
  events: SseEvent[];
  /** Raw text received, comments included. */
  raw(): string;
  /** The first event (after `after` events) that matches; rejects after timeoutMs. */
  next(match: (e: SseEvent) => boolean, timeoutMs?: number, after?: number): Promise<SseEvent>;
  close(): void;
}

/** Opens an SSE stream with fetch and parses its events as they arrive. */
export async function readEvents(url: string, headers: Record<string, string> = {}): Promise<EventReader> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const events: SseEvent[] = [];
  let raw = "";
  let buffer = "";
  let lastId = "";
  const waiters: (() => void)[] = [];
  const pump = async () => {
    if (response.body === null) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) {
        const text = decoder.decode(chunk as Uint8Array, { stream: true });
        raw += text;
        buffer += text;
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = "message";
          let data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("id: ")) lastId = line.slice(4);
            else if (line.startsWith("data: ")) data = line.slice(6);
          }
          if (data !== "") events.push({ event, id: lastId, data });
          end = buffer.indexOf("\n\n");
        }
        for (const wake of waiters.splice(0)) wake();
      }
    } catch {
      // Aborted by close().
    }
  };
  void pump();
  return {
    status: response.status,
    events,
    raw: () => raw,
    async next(match, timeoutMs = 5000, after = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.slice(after).find(match);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    close: () => controller.abort(),
  };
}

export interface ServeProcess {
  child: ChildProcess;
  /** Base URL, http:// or https://. */
  url: string;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

/** Starts the built `stonks serve --port 0 …` as a process and waits for the URL it prints. */
export async function startServeProcess(args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, "serve", "--port", "0", ...args], {
    cwd: ROOT,
    env: { ...process.env, STONKS_DB: "", STONKS_TOKEN: "", STONKS_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no URL; stderr: ${stderr}`)), 30_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      stdout += `${line}\n`;
      const match = /api: +(https?:\/\/\S+?)\/api$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exit.then(() => reject(new Error(`serve exited early; stderr: ${stderr}`)));
  });
  return {
    child,
    url,
    stdout: () => stdout,
    stderr: () => stderr,
    stop: async () => {
      child.kill("SIGTERM");
      await exit;
    },
  };
}
