// A schema-driven fuzz of the whole API: schemathesis (from PyPI, installed by .ci/run) reads
// /api/openapi.json of a real `stonks serve` process with a token and sends what the document
// allows and what it does not; no answer may be a 5xx.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDb, tempDir } from "./helpers.js";
import { populateRuns, type ServeProcess, startServeProcess } from "./server-support.js";

const TOKEN = "fuzz-token-0123456789";

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
    child.on("close", (code) => resolve({ code, output }));
  });
}

describe("schemathesis over /api/openapi.json", () => {
  let server: ServeProcess;

  beforeAll(async () => {
    const dbPath = tempDb();
    populateRuns(dbPath, [
      { experiment: "fuzz", name: "a", status: "completed", metrics: { loss: [3, 2, 1] }, tags: ["t"] },
      { experiment: "fuzz", name: "b", metrics: { loss: [1, 2], acc: [0.5] } },
    ]);
    server = await startServeProcess(["--db", dbPath, "--token", TOKEN]);
  });

  afterAll(async () => {
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
        "25",
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
    expect(result.output).toMatch(/Tested: 22\b/);
    expect(result.output).toMatch(/\d+ generated, \d+ passed/);
    expect(result.output).not.toMatch(/Server error|not_a_server_error.*failed/i);
    // The server logs every 5xx it answers ("… failed: <stack>"); there must be none.
    expect(server.stderr()).not.toMatch(/ failed: /);
  }, 120_000);
});
