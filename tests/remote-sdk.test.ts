// The TypeScript SDK logging to a real server process: the server killed and restarted mid-run, down when
// the run starts, a network that cuts and stalls connections, the warnings, strict mode's spool limit.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFlakyProxy } from "./support/flaky-proxy.js";
import { killFixtures, startFixture, tempDir } from "./support/helpers.js";
import {
  eventuallyAsync,
  expectedSeries,
  freePort,
  killServer,
  killStarted,
  serverRun,
  serverSeries,
  startServerProcess,
} from "./support/remote.js";

afterEach(() => {
  killFixtures();
  killStarted();
});

const KEYS = ["loss", "acc"];

/** Every point the fixture logged is on the server exactly once, in order, and the run is completed. */
async function expectComplete(base: string, runId: string, steps: number): Promise<void> {
  const run = await eventuallyAsync(async () => {
    const found = await serverRun(base, runId);
    return found?.status === "completed" && KEYS.every((k) => found.summary[k]?.count === steps) ? found : null;
  });
  expect(run.status).toBe("completed");
  for (const [i, key] of KEYS.entries()) {
    const series = await serverSeries(base, runId, key);
    const expected = expectedSeries(steps, i);
    expect(series.steps).toEqual(expected.steps);
    expect(series.values).toEqual(expected.values);
  }
}

function warningLines(stderr: string, pattern: RegExp): string[] {
  return stderr.split("\n").filter((line) => pattern.test(line));
}

describe("remote logging from the TypeScript SDK", () => {
  it("keeps every point exactly once when the server is SIGKILLed and restarted mid-run, warning once each way", async () => {
    const dir = tempDir();
    const port = await freePort();
    let server = await startServerProcess(join(dir, "server.db"), port);
    const steps = 6000;
    const sdk = startFixture(
      "remote-logger.mjs",
      {
        DB: server.url,
        STONKS_SPOOL_DIR: join(dir, "spool"),
        STEPS: String(steps),
        PAUSE_MS: "25",
        WAIT_AT: "3999",
      },
      undefined,
      { stdin: true },
    );
    const runId = (await sdk.waitForLine(/^started /)).split(" ")[1];
    await sdk.waitForLine(/^progress 1000$/);
    await killServer(server);
    // The run logs on while the server is away, and goes on once it is back.
    await sdk.waitForLine(/^waiting$/);
    server = await startServerProcess(join(dir, "server.db"), port);
    sdk.send("go on");
    const result = await sdk.done;
    expect(result.stdout).toContain(`done ${runId}`);
    await expectComplete(server.url, runId, steps);
    expect(warningLines(result.stderr, /unreachable/)).toHaveLength(1);
    expect(warningLines(result.stderr, /unreachable/)[0]).toContain(`server ${server.url} unreachable (`);
    expect(warningLines(result.stderr, / is back; \d+ points sent/)).toHaveLength(1);
    expect(result.stderr).not.toMatch(/exiting before/);
  });

  it("sends a run logged while the server was down once it is up, through the next SDK process", async () => {
    const dir = tempDir();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const spool = join(dir, "spool");
    const first = startFixture("remote-logger.mjs", { DB: url, STONKS_SPOOL_DIR: spool, STEPS: "2500" });
    const offline = await first.done;
    const offlineId = offline.stdout.match(/done (\S+)/)![1];
    // It exits first, leaving its points in the spool and saying so.
    expect(offline.stderr).toMatch(/unreachable/);
    expect(offline.stderr).toMatch(/kept in .*spool/);
    expect(existsSync(spool)).toBe(true);
    const server = await startServerProcess(join(dir, "server.db"), port);
    const second = await startFixture("remote-logger.mjs", { DB: url, STONKS_SPOOL_DIR: spool, STEPS: "10" }).done;
    const onlineId = second.stdout.match(/done (\S+)/)![1];
    await expectComplete(server.url, onlineId, 10);
    await expectComplete(server.url, offlineId, 2500);
    expect(second.stderr).toBe("");
  });

  it("stores every point exactly once through a proxy that cuts requests, cuts answers and stalls", async () => {
    const dir = tempDir();
    const server = await startServerProcess(join(dir, "server.db"), await freePort());
    const proxy = await startFlakyProxy(server.port, ["pass", "cut-request", "pass", "cut-answer", "stall", "pass"]);
    try {
      const steps = 4000;
      const result = await startFixture("remote-logger.mjs", {
        DB: proxy.url,
        STONKS_SPOOL_DIR: join(dir, "spool"),
        STEPS: String(steps),
        PAUSE_MS: "50",
        STONKS_HTTP_TIMEOUT: "1",
      }).done;
      const runId = result.stdout.match(/done (\S+)/)![1];
      await expectComplete(server.url, runId, steps);
      expect(proxy.counts["cut-request"]).toBeGreaterThan(0);
      expect(proxy.counts["cut-answer"]).toBeGreaterThan(0);
      expect(proxy.counts.stall).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
  });

  it("strict mode raises at the next call once the unsent points pass STONKS_SPOOL_MAX_POINTS", async () => {
    const dir = tempDir();
    const url = `http://127.0.0.1:${await freePort()}`;
    const result = await startFixture("remote-logger.mjs", {
      DB: url,
      STONKS_SPOOL_DIR: join(dir, "spool"),
      STEPS: "3000",
      PAUSE_MS: "20",
      STRICT: "1",
      STONKS_SPOOL_MAX_POINTS: "500",
    }).done;
    expect(result.stdout).toMatch(/raised .*more than the spool limit of 500/);
    expect(result.stdout).not.toMatch(/^done/m);
  });
});

describe("heartbeats of a remote run", () => {
  it("flush() returns with the points on the server; heartbeats reach it while the run logs nothing", async () => {
    const dir = tempDir();
    const server = await startServerProcess(join(dir, "server.db"), await freePort());
    const sdk = startFixture(
      "remote-logger.mjs",
      { DB: server.url, STONKS_SPOOL_DIR: join(dir, "spool"), STEPS: "200", WAIT_AT: "99" },
      undefined,
      { stdin: true },
    );
    const runId = (await sdk.waitForLine(/^started /)).split(" ")[1];
    await sdk.waitForLine(/^waiting$/);
    // flush() resolved: the points are on the server now, not eventually.
    const first = (await serverRun(server.url, runId))!;
    expect(first.summary.loss?.count).toBe(100);
    // The writer refreshes the spool's heartbeat every 5 s; the shipper forwards it.
    const later = await eventuallyAsync(async () => {
      const run = await serverRun(server.url, runId);
      return run !== null && (run.last_heartbeat ?? 0) > (first.last_heartbeat ?? 0) ? run : null;
    }, 20_000);
    expect(later.status).toBe("running");
    expect(later.summary.loss?.count).toBe(100);
    sdk.send("go on");
    expect((await sdk.done).stdout).toContain(`done ${runId}`);
    await expectComplete(server.url, runId, 200);
  });
});

describe("resuming a remote run", () => {
  it("reads a run the spool no longer holds back from the server: steps and series continue, config merges", async () => {
    const dir = tempDir();
    const server = await startServerProcess(join(dir, "server.db"), await freePort());
    const spool = join(dir, "spool");
    const first = await startFixture("remote-logger.mjs", { DB: server.url, STONKS_SPOOL_DIR: spool, STEPS: "300" })
      .done;
    const runId = first.stdout.match(/done (\S+)/)![1];
    await expectComplete(server.url, runId, 300);
    // A second machine: its own empty spool.
    const resumed = await startFixture("remote-resume.mjs", {
      DB: server.url,
      STONKS_SPOOL_DIR: join(dir, "other-spool"),
      RESUME: runId,
      STEPS: "50",
    }).done;
    expect(resumed.stderr).toBe("");
    expect(resumed.stdout).toContain(`resumed ${runId} {"steps":300,"extra":1}`);
    const run = await eventuallyAsync(async () => {
      const found = await serverRun(server.url, runId);
      return found?.status === "completed" && found.summary.loss?.count === 350 ? found : null;
    });
    expect(run.config).toEqual({ steps: 300, extra: 1 });
    const loss = await serverSeries(server.url, runId, "loss");
    expect(loss.steps).toEqual(Array.from({ length: 350 }, (_, s) => s));
    expect(loss.values.slice(300)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(run.summary.acc?.count).toBe(300);
  });
});
