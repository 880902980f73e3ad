/** Real server processes and real SDK processes for the remote-logging tests. */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import type { MetricPointsJson, RunJson } from "../../src/contract/wire.js";
import { CLI } from "./helpers.js";

export { CLI };

export interface ServerProcess {
  url: string;
  port: number;
  child: ChildProcess;
  exited: Promise<void>;
}

const started = new Set<ChildProcess>();

/** Kills every server or CLI process a test started and left running. */
export function killStarted(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  started.clear();
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `stonks serve --db DB --port PORT [args]` as its own process; resolves once it listens. */
export async function startServerProcess(db: string, port: number, args: string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, [CLI, "serve", "--db", db, "--port", String(port), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, STONKS_LOG_LEVEL: "warn", STONKS_TOKEN: "" },
  });
  started.add(child);
  let output = "";
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/api:\s+http/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    void exited.then(() => reject(new Error(`serve exited: ${output}`)));
  });
  const scheme = args.includes("--tls-cert") ? "https" : "http";
  return { url: `${scheme}://127.0.0.1:${port}`, port, child, exited };
}

export async function killServer(server: ServerProcess): Promise<void> {
  server.child.kill("SIGKILL");
  await server.exited;
}

/** A `stonks` command as a process: its output and exit status. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, STONKS_LOG_LEVEL: "warn", ...env },
  });
  started.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as T };
}

/** The run as the server holds it, or null when it does not (yet). */
export async function serverRun(base: string, runId: string): Promise<RunJson | null> {
  try {
    const { status, body } = await getJson<RunJson>(`${base}/api/runs/${runId}`);
    return status === 200 ? body : null;
  } catch {
    return null;
  }
}

export async function serverSeries(base: string, runId: string, key: string): Promise<MetricPointsJson> {
  return (await getJson<MetricPointsJson>(`${base}/api/runs/${runId}/metrics?key=${encodeURIComponent(key)}`)).body;
}

/** What the remote-logger fixture logs: steps 0..n-1, value of key i at step s = s * 10 + i. */
export function expectedSeries(steps: number, keyIndex: number): { steps: number[]; values: number[] } {
  return {
    steps: Array.from({ length: steps }, (_, s) => s),
    values: Array.from({ length: steps }, (_, s) => s * 10 + keyIndex),
  };
}

/** Polls an async check until it returns a truthy value. */
export async function eventuallyAsync<T>(
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
