// A schema-driven fuzz of the whole API: schemathesis (from PyPI, installed by .ci/run) reads
// /api/openapi.json of a real `stonks serve` process with a token and sends what the document
// allows and what it does not; no answer may be a 5xx.
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends } from "./support/backends.js";
import { tempDir } from "./support/helpers.js";
import { populateRuns, type ServeProcess, startServeProcess } from "./support/server-support.js";

const TOKEN = "fuzz-token-0123456789";

let fuzzer: ChildProcess | null = null;

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    fuzzer = child;
    child.on("close", (code) => resolve({ code, output }));
  });
}

describe.each(backends())("schemathesis on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("schemathesis over /api/openapi.json", () => {
    let server: ServeProcess;

    beforeAll(async () => {
      const dbPath = backend.newTarget();
      populateRuns(dbPath, [
        { experiment: "fuzz", name: "a", status: "completed", metrics: { loss: [3, 2, 1] }, tags: ["t"] },
        { experiment: "fuzz", name: "b", metrics: { loss: [1, 2], acc: [0.5] } },
      ]);
      server = await startServeProcess(["--db", dbPath, "--token", TOKEN]);
    });

    afterAll(async () => {
      // A run cut off by the test's timeout must not go on fuzzing a stopped server.
      if (fuzzer !== null && fuzzer.exitCode === null) fuzzer.kill("SIGKILL");
      await server.stop();
    });

    it("finds no server error on any route", async () => {
      const reports = tempDir();
      const result = await run(
        "python3",
        [
          "-m",
          "schemathesis.cli",
          "run",
          `${server.url}/api/openapi.json`,
          "-H",
          `Authorization: Bearer ${TOKEN}`,
          "--checks",
          "not_a_server_error",
          "--max-examples",
          "15",
          "--seed",
          "13",
          "--exclude-path",
          "/api/events",
          "--generation-database",
          "none",
          "--no-color",
          "--workers",
          "1",
          "--request-timeout",
          "20",
        ],
        reports,
      );
      // Exit 0: every check passed; the summary names what ran.
      expect(result.code, result.output.slice(-4000)).toBe(0);
      expect(result.output).toMatch(/Tested: 23\b/);
      expect(result.output).toMatch(/\d+ generated, \d+ passed/);
      expect(result.output).not.toMatch(/Server error|not_a_server_error.*failed/i);
      // The server logs every 5xx it answers ("… failed: <stack>"); there must be none.
      expect(server.stderr()).not.toMatch(/ failed: /);
      // About 20 s on an idle 2-core machine; the bound leaves room for a machine busy with other tests.
    }, 300_000);
  });
});
