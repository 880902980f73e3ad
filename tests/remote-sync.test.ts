// `stonks sync FILE URL` against a real server process, on a SQLite file and on PostgreSQL: idempotent, never
// changes the file, --watch follows a run that is still logging, and mistakes end in one line.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { backends } from "./support/backends.js";
import { killFixtures, startFixture, tempDir } from "./support/helpers.js";
import {
  eventuallyAsync,
  expectedSeries,
  freePort,
  killStarted,
  runCli,
  serverRun,
  serverSeries,
  startServerProcess,
} from "./support/remote.js";

afterEach(() => {
  killFixtures();
  killStarted();
});

function fingerprint(file: string): string {
  const hash = createHash("sha256");
  for (const path of [file, `${file}-wal`]) if (existsSync(path)) hash.update(readFileSync(path));
  return hash.digest("hex");
}

describe.each(backends())("stonks sync FILE URL against a server on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  it("sends every run once: a second sync sends nothing new, and the file is left as it was", async () => {
    const dir = tempDir();
    const file = join(dir, "offline.db");
    const logged = await startFixture("remote-logger.mjs", { DB: file, STEPS: "700" }).done;
    const runId = logged.stdout.match(/done (\S+)/)![1];
    const server = await startServerProcess(backend.newTarget(), await freePort());
    const before = fingerprint(file);

    const first = await runCli(["sync", file, server.url]).done;
    expect(first).toMatchObject({ code: 0, stderr: "" });
    expect(first.stdout).toBe("1 runs, 1400 points sent, 0 already there\n");
    const second = await runCli(["sync", file, server.url]).done;
    expect(second.stdout).toBe("1 runs, 0 points sent, 1400 already there\n");
    expect(fingerprint(file)).toBe(before);

    const run = await serverRun(server.url, runId);
    expect(run?.status).toBe("completed");
    expect(run?.config).toEqual({ steps: 700 });
    expect((await serverSeries(server.url, runId, "acc")).values).toEqual(expectedSeries(700, 1).values);
  });

  it("--watch continues a run that is still logging, and stops cleanly on Ctrl-C", async () => {
    const dir = tempDir();
    const file = join(dir, "growing.db");
    const server = await startServerProcess(backend.newTarget(), await freePort());
    const logger = startFixture("remote-logger.mjs", { DB: file, STEPS: "600", WAIT_AT: "299" }, undefined, {
      stdin: true,
    });
    const runId = (await logger.waitForLine(/^started /)).split(" ")[1];
    await logger.waitForLine(/^waiting$/);
    const watch = runCli(["sync", "--watch", file, server.url]);
    const halfway = await eventuallyAsync(async () => {
      const run = await serverRun(server.url, runId);
      return run?.summary.loss?.count === 300 ? run : null;
    });
    expect(halfway.status).toBe("running");
    logger.send("go on");
    await logger.done;
    const done = await eventuallyAsync(async () => {
      const run = await serverRun(server.url, runId);
      return run?.status === "completed" && run.summary.loss?.count === 600 ? run : null;
    });
    expect(done.summary.acc?.count).toBe(600);
    expect((await serverSeries(server.url, runId, "loss")).steps).toEqual(expectedSeries(600, 0).steps);
    watch.child.kill("SIGINT");
    const stopped = await watch.done;
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toMatch(/^stopped: 1 runs, 1200 points sent, 0 already there$/m);
  });
});

describe("stonks sync mistakes", () => {
  it("says in one line what is wrong: a URL that is not one, a server that is not there, a missing file", async () => {
    const dir = tempDir();
    const file = join(dir, "local.db");
    await startFixture("remote-logger.mjs", { DB: file, STEPS: "5" }).done;
    const notUrl = await runCli(["sync", file, "localhost:8000"]).done;
    expect(notUrl.code).toBe(1);
    expect(notUrl.stderr).toBe('stonks: URL must start with http:// or https://; got "localhost:8000".\n');
    const down = await runCli(["sync", file, `http://127.0.0.1:${await freePort()}`]).done;
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(
      /^stonks: cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); is the server running\?\n$/,
    );
    const missing = await runCli(["sync", join(dir, "nope.db"), "http://127.0.0.1:1"]).done;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("No stonks database at");
  });
});
