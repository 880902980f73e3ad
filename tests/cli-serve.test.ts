// `stonks serve` as a subprocess: it prints where it listens, serves, warns
// about open binds without a token, and stops cleanly on SIGINT and SIGTERM.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExperimentJson } from "../src/contract/wire.js";
import { backends } from "./support/backends.js";
import { ROOT, tempDir } from "./support/helpers.js";
import { populateRuns } from "./support/server-support.js";

const CLI = join(ROOT, "dist", "cli", "main.js");

interface Served {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `stonks serve …` and waits for the line with the dashboard URL. */
async function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
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
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no URL; stderr: ${stderr}`)), 30_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      stdout += `${line}\n`;
      const match = /dashboard: (http:\/\/\S+?)\/(\?token=\S+)?$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exit.then(() => reject(new Error(`serve exited early; stderr: ${stderr}`)));
  });
  return { child, url, stdout: () => stdout, stderr: () => stderr, exit };
}

describe.each(backends())("stonks serve on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("stonks serve", () => {
    it("serves the API on the database given, and stops cleanly on SIGTERM and SIGINT", async () => {
      const dbPath = backend.newTarget();
      populateRuns(dbPath, [{ experiment: "served", name: "r", status: "completed" }]);
      for (const signal of ["SIGTERM", "SIGINT"] as const) {
        const server = await serve(["--db", dbPath]);
        expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(server.stdout()).toContain(`serving ${dbPath}`);
        const experiments = (await (await fetch(`${server.url}/api/experiments`)).json()) as ExperimentJson[];
        expect(experiments.map((e) => e.name)).toEqual(["served"]);
        // An open event stream must not keep the server from stopping.
        const events = await fetch(`${server.url}/api/events`);
        expect(events.status).toBe(200);
        server.child.kill(signal);
        expect(await server.exit).toEqual({ code: 0, signal: null });
      }
    });

    it("warns when listening beyond loopback without a token, and requires the token when one is set", async () => {
      const open = await serve(["--db", backend.newTarget(), "--host", "0.0.0.0"]);
      try {
        expect(open.stderr()).toMatch(/without a token/);
      } finally {
        open.child.kill("SIGTERM");
        await open.exit;
      }
      const guarded = await serve(["--db", backend.newTarget(), "--host", "0.0.0.0"], { STONKS_TOKEN: "tok" });
      try {
        expect(guarded.stderr()).not.toMatch(/without a token/);
        expect(guarded.stdout()).toContain("?token=tok");
        const local = guarded.url.replace("0.0.0.0", "127.0.0.1");
        expect((await fetch(`${local}/api/experiments`)).status).toBe(401);
        expect((await fetch(`${local}/api/experiments?token=tok`)).status).toBe(200);
      } finally {
        guarded.child.kill("SIGTERM");
        await guarded.exit;
      }
    });

    it("--demo adds the demo experiments once to the database it serves, next to the user's runs, and names the database", async () => {
      const dbPath = backend.newTarget();
      populateRuns(dbPath, [{ experiment: "my-first-experiment", name: "mine", status: "completed" }]);
      for (const round of [1, 2]) {
        const server = await serve(["--demo"], { STONKS_DB: dbPath });
        try {
          const experiments = (await (await fetch(`${server.url}/api/experiments`)).json()) as ExperimentJson[];
          expect(experiments).toHaveLength(4);
          expect(experiments.map((e) => e.name)).toContain("my-first-experiment");
          expect(experiments.reduce((n, e) => n + e.run_count, 0)).toBe(37);
          expect(server.stdout()).toMatch(round === 1 ? /Wrote 3 experiments, 36 runs/ : /nothing added/);
          expect(await (await fetch(`${server.url}/api/info`)).json()).toEqual({ db: dbPath });
        } finally {
          server.child.kill("SIGTERM");
          await server.exit;
        }
      }
    });

    it("names the default port when it is in use, and refuses an allow-list entry that is not an origin", async () => {
      // Whoever holds 8000 (this test, or another server on the machine), it is in use for the child.
      const holder = createServer();
      await new Promise<void>((resolve) => {
        holder.once("error", () => resolve());
        holder.listen(8000, "127.0.0.1", () => resolve());
      });
      try {
        const result = spawnSync(process.execPath, [CLI, "serve", "--db", backend.newTarget()], {
          cwd: ROOT,
          encoding: "utf8",
        });
        expect(result.status).toBe(1);
        expect(result.stderr).toBe("stonks: Port 8000 on 127.0.0.1 is in use; choose another with --port.\n");
      } finally {
        holder.close();
      }
      const bad = spawnSync(
        process.execPath,
        [CLI, "serve", "--db", backend.newTarget(), "--port", "0", "--allow-origin", "nope"],
        {
          cwd: ROOT,
          encoding: "utf8",
        },
      );
      expect(bad.status).toBe(1);
      expect(bad.stderr).toMatch(/^stonks: "nope" is not an origin; [^\n]*\n$/);
    });

    it("answers pages from origins given with --allow-origin or STONKS_ALLOW_ORIGINS, and refuses others", async () => {
      for (const [args, env] of [
        [["--allow-origin", "http://localhost:5173", "--allow-origin", "http://example.test"], {}],
        [[], { STONKS_ALLOW_ORIGINS: "http://example.test, http://localhost:5173" }],
      ] as const) {
        const served = await serve(["--db", backend.newTarget(), ...args], env);
        try {
          const from = (origin: string) => fetch(`${served.url}/api/experiments`, { headers: { Origin: origin } });
          expect((await from("http://localhost:5173")).status).toBe(200);
          expect((await from("http://example.test")).status).toBe(200);
          expect((await from("http://localhost:5174")).status).toBe(403);
        } finally {
          served.child.kill("SIGTERM");
          await served.exit;
        }
      }
    });

    it("reports a port in use in one line", async () => {
      const first = await serve(["--db", backend.newTarget()]);
      try {
        const port = new URL(first.url).port;
        const second = spawn(process.execPath, [CLI, "serve", "--db", backend.newTarget(), "--port", port], {
          cwd: ROOT,
        });
        let stderr = "";
        second.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        const code = await new Promise<number | null>((resolve) => second.on("close", resolve));
        expect(code).toBe(1);
        expect(stderr).toMatch(new RegExp(`^stonks: Port ${port} on 127\\.0\\.0\\.1 is in use[^\\n]*\\n$`));
      } finally {
        first.child.kill("SIGTERM");
        await first.exit;
      }
    });
  });
});

describe("stonks serve on a SQLite file", () => {
  it("creates the database when the file does not exist, from STONKS_DB too", async () => {
    const dbPath = join(tempDir(), "new.db");
    const server = await serve([], { STONKS_DB: dbPath });
    try {
      expect(existsSync(dbPath)).toBe(true);
      expect(await (await fetch(`${server.url}/api/experiments`)).json()).toEqual([]);
    } finally {
      server.child.kill("SIGTERM");
      await server.exit;
    }
  });
});
