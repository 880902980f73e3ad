import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const FIXTURES = join(ROOT, "tests", "fixtures");

/** A fresh directory for one test's database files, in the run's own folder (global-tmp.ts removes it). */
export function tempDir(prefix = "stonks-test-"): string {
  return mkdtempSync(join(process.env.STONKS_TEST_TMP ?? tmpdir(), prefix));
}

export function tempDb(name = "stonks.db"): string {
  return join(tempDir(), name);
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningChild {
  process: ChildProcess;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the first stdout line matching the pattern. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Writes one line to the child's stdin (started with stdin: true). */
  send(line: string): void;
  done: Promise<ChildResult>;
}

const children = new Set<ChildProcess>();

/** Kills every fixture process still running, so a failed test leaves nothing behind. */
export function killFixtures(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  children.clear();
}

/** Starts a fixture script (tests/fixtures/NAME) with node (python3 for a .py, importing stonks from python/), collecting its output. */
export function startFixture(
  name: string,
  env: Record<string, string> = {},
  cwd = ROOT,
  options: { stdin?: boolean } = {},
): RunningChild {
  const python = name.endsWith(".py");
  const child = spawn(python ? "python3" : process.execPath, [join(FIXTURES, name)], {
    cwd,
    env: { ...process.env, STONKS_LOG_LEVEL: "warn", ...(python ? { PYTHONPATH: join(ROOT, "python") } : {}), ...env },
    stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"],
  });
  children.add(child);
  let stdout = "";
  let stderr = "";
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    stdout += chunk;
    for (const waiter of [...waiters]) {
      const line = stdout.split("\n").find((l) => waiter.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  child.stderr!.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<ChildResult>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    process: child,
    stderr: () => stderr,
    send: (line) => child.stdin!.write(`${line}\n`),
    done,
    waitForLine(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const existing = stdout.split("\n").find((l) => pattern.test(l));
        if (existing !== undefined) return resolve(existing);
        const timer = setTimeout(
          () =>
            reject(
              new Error(`no line matching ${pattern} within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`),
            ),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
  };
}

export function runFixture(name: string, env: Record<string, string> = {}, cwd = ROOT): Promise<ChildResult> {
  return startFixture(name, env, cwd).done;
}

/** Polls until check returns a truthy value or the timeout passes. */
export async function eventually<T>(check: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The built command line (npm run build first). */
export const CLI = join(ROOT, "dist", "cli", "main.js");

/** Runs the built `stonks` command with no terminal (stdin a closed pipe, as in a script). */
export function stonks(args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      {
        cwd,
        env: { ...process.env, STONKS_DB: "", STONKS_LOG_LEVEL: "warn", ...env },
        maxBuffer: 256 * 1024 * 1024,
        timeout: 120_000,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end();
  });
}

/** A self-signed certificate for 127.0.0.1 (openssl): writes DIR/cert.pem and DIR/key.pem. */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"].concat([
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert,
    ]),
    { stdio: "ignore" },
  );
  return { cert, key };
}
