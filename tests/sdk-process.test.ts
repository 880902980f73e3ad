// Lifecycle in real child processes: buffering rules, exit paths, signals, crashes, concurrency.
import { afterEach, describe, expect, it } from "vitest";
import { open } from "../dist/index.js";
import { openConnection } from "../src/store/driver.js";
import { eventually, killFixtures, runFixture, startFixture, tempDb } from "./support/helpers.js";

const FIXTURE = "sdk-scenarios.mjs";

afterEach(killFixtures);

function pointCount(db: string, runId: string, key = "loss"): number {
  const q = open(db, { readonly: true });
  try {
    return q.getMetrics(runId, key).values.length;
  } catch {
    return 0;
  } finally {
    q.close();
  }
}

function runStatus(db: string, runId: string) {
  const q = open(db, { readonly: true });
  try {
    return q.getRun(runId);
  } finally {
    q.close();
  }
}

describe("background writes", () => {
  it("flushes every 5 seconds even while the main thread is stuck in a synchronous loop", async () => {
    const db = tempDb();
    const child = startFixture(FIXTURE, { SCENARIO: "busy-loop", DB: db, COUNT: "5", BUSY_MS: "15000" });
    const runId = (await child.waitForLine(/^started /)).split(" ")[1];
    const firstHeartbeat = await eventually(() => runStatus(db, runId)?.lastHeartbeat);
    // Fewer than 100 points: only the timer can write them, while the loop still spins.
    await eventually(() => pointCount(db, runId) === 5, 12_000);
    expect(child.process.exitCode).toBeNull();
    // The heartbeat keeps moving too, so the run is not mistaken for a dead one.
    await eventually(() => (runStatus(db, runId)?.lastHeartbeat ?? 0) > firstHeartbeat, 12_000);
    expect(child.process.exitCode).toBeNull();
    child.process.kill("SIGKILL");
    await child.done;
  });

  it("writes as soon as 100 points are buffered, not before (timer disabled)", async () => {
    const db = tempDb();
    const child = startFixture(FIXTURE, {
      SCENARIO: "threshold",
      DB: db,
      STONKS_FLUSH_INTERVAL: "600",
      PAUSE_MS: "1500",
    });
    const runId = (await child.waitForLine(/^logged99 /)).split(" ")[1];
    await new Promise((r) => setTimeout(r, 700));
    expect(pointCount(db, runId)).toBe(0);
    await child.waitForLine(/^logged100/);
    await eventually(() => pointCount(db, runId) === 100, 2500);
    child.process.kill("SIGKILL");
    await child.done;
  });
});

describe("exit paths write every buffered point", () => {
  it("process.exit(0) writes everything and completes the run", async () => {
    const db = tempDb();
    const result = await runFixture(FIXTURE, { SCENARIO: "exit-code", DB: db, CODE: "0", COUNT: "250" });
    expect(result.code).toBe(0);
    const runId = result.stdout.match(/run (\S+)/)![1];
    expect(pointCount(db, runId)).toBe(250);
    expect(pointCount(db, runId, "acc")).toBe(250);
    expect(runStatus(db, runId)?.status).toBe("completed");
  });

  it("process.exit(3) writes everything and marks the run failed", async () => {
    const db = tempDb();
    const result = await runFixture(FIXTURE, { SCENARIO: "exit-code", DB: db, CODE: "3", COUNT: "250" });
    expect(result.code).toBe(3);
    const runId = result.stdout.match(/run (\S+)/)![1];
    expect(pointCount(db, runId)).toBe(250);
    expect(runStatus(db, runId)?.status).toBe("failed");
  });

  it("a script that ends without finish() writes everything and completes the run", async () => {
    const db = tempDb();
    const result = await runFixture(FIXTURE, { SCENARIO: "natural-exit", DB: db, COUNT: "37" });
    expect(result.code).toBe(0);
    const runId = result.stdout.match(/run (\S+)/)![1];
    expect(pointCount(db, runId)).toBe(37);
    expect(runStatus(db, runId)?.status).toBe("completed");
  });

  it("an uncaught exception writes everything and marks the run failed", async () => {
    const db = tempDb();
    const result = await runFixture(FIXTURE, { SCENARIO: "uncaught", DB: db, COUNT: "42" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("training blew up");
    const runId = result.stdout.match(/run (\S+)/)![1];
    expect(pointCount(db, runId)).toBe(42);
    expect(runStatus(db, runId)?.status).toBe("failed");
  });

  it("the callback form marks failed and re-throws when the callback throws", async () => {
    const db = tempDb();
    const result = await runFixture(FIXTURE, { SCENARIO: "callback-throw", DB: db });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("diverged at step 3");
    const runId = result.stdout.match(/run (\S+)/)![1];
    expect(runStatus(db, runId)?.status).toBe("failed");
    expect(pointCount(db, runId)).toBe(1);
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    for (const scenario of ["signal", "callback-signal"]) {
      it(`${signal} (${scenario}) writes everything, marks the run interrupted, then ends the process by the signal`, async () => {
        const db = tempDb();
        const child = startFixture(FIXTURE, { SCENARIO: scenario, DB: db, COUNT: "77" });
        const runId = (await child.waitForLine(/^ready /)).split(" ")[1];
        child.process.kill(signal);
        const result = await child.done;
        expect(result.signal).toBe(signal);
        expect(pointCount(db, runId)).toBe(77);
        expect(runStatus(db, runId)?.status).toBe("interrupted");
      });
    }
  }
});

describe("failed writes keep every point and retry", () => {
  for (const strict of [false, true]) {
    it(`while another process holds the write lock (${strict ? "strict: raises" : "default: warns"})`, async () => {
      const db = tempDb();
      const child = startFixture(FIXTURE, {
        SCENARIO: "locked",
        DB: db,
        STRICT: strict ? "1" : "0",
        STONKS_BUSY_TIMEOUT_MS: "50",
      });
      const runId = (await child.waitForLine(/^started /)).split(" ")[1];
      const blocker = openConnection(db);
      blocker.exec("BEGIN IMMEDIATE");
      try {
        child.process.kill("SIGUSR2");
        if (strict) {
          await child.waitForLine(/^flush-threw WriteError/);
          await child.waitForLine(/^log-threw WriteError/);
        } else {
          await child.waitForLine(/^flush-returned/);
          await child.waitForLine(/^log-returned/);
          await eventually(() => /kept in memory and retried/.test(child.stderr()), 5000);
        }
        const inside = blocker.prepare("SELECT count(*) AS n FROM chunks").get() as { n: number };
        expect(inside.n).toBe(0);
      } finally {
        blocker.exec("COMMIT");
        blocker.close();
      }
      await eventually(() => pointCount(db, runId) >= 500, 15_000);
      const q = open(db, { readonly: true });
      expect([...q.getMetrics(runId, "loss").values.subarray(0, 500)]).toEqual(
        Array.from({ length: 500 }, (_, i) => i),
      );
      q.close();
      child.process.kill("SIGKILL");
      await child.done;
    });
  }

  it("a database from a newer stonks is refused at start and left untouched", async () => {
    const db = tempDb();
    const raw = openConnection(db);
    raw.exec("CREATE TABLE experiments (id TEXT)");
    raw.pragma("user_version = 999");
    raw.close();
    const strict = await runFixture(FIXTURE, { SCENARIO: "start-newer", DB: db, STRICT: "1" });
    expect(strict.stdout).toContain("threw SchemaVersionError");
    const lenient = await runFixture(FIXTURE, { SCENARIO: "start-newer", DB: db, STRICT: "0" });
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toContain("status created");
    expect(lenient.stderr).toMatch(/newer than this stonks understands/);
    const check = openConnection(db, { readonly: true });
    expect(check.pragma("user_version", { simple: true })).toBe(999);
    check.close();
  });
});

describe("crashes", () => {
  it("SIGKILL mid-run leaves a sound file with every flushed point, and the run turns stale", async () => {
    const db = tempDb();
    const child = startFixture(FIXTURE, { SCENARIO: "sigkill", DB: db, COUNT: "3000" });
    const runId = (await child.waitForLine(/^flushed /)).split(" ")[2];
    await new Promise((r) => setTimeout(r, 150));
    child.process.kill("SIGKILL");
    const result = await child.done;
    expect(result.signal).toBe("SIGKILL");
    const raw = openConnection(db, { readonly: true });
    expect(raw.pragma("integrity_check", { simple: true })).toBe("ok");
    raw.close();
    const q = open(db, { readonly: true, staleAfterSeconds: 0.5 });
    const loss = q.getMetrics(runId, "loss");
    expect(loss.values.length).toBeGreaterThanOrEqual(3000);
    expect([...loss.values.subarray(0, 3000)]).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    expect([...q.getMetrics(runId, "acc").values.subarray(0, 3000)]).toEqual(
      Array.from({ length: 3000 }, (_, i) => -i),
    );
    await new Promise((r) => setTimeout(r, 600));
    const run = q.getRun(runId)!;
    expect(run.status).toBe("running");
    expect(run.stale).toBe(true);
    q.close();
  });
});

describe("many processes, one file", () => {
  it("six processes creating one new file at the same moment all succeed", async () => {
    const db = tempDb();
    const results = await Promise.all(
      Array.from({ length: 6 }, () => runFixture(FIXTURE, { SCENARIO: "default-path", STONKS_DB: db })),
    );
    for (const result of results) {
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
    }
    const q = open(db);
    expect(q.listRuns()).toHaveLength(6);
    q.close();
  });

  it("eight processes log into one file at once: every point present, no error", async () => {
    const db = tempDb();
    const perProcess = 20_000;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        runFixture(FIXTURE, { SCENARIO: "concurrent", DB: db, COUNT: String(perProcess), NAME: `worker-${i}` }),
      ),
    );
    for (const result of results) {
      expect(result.code).toBe(0);
      expect(result.stderr).toBe("");
    }
    const q = open(db);
    const runs = q.listRuns();
    expect(runs).toHaveLength(8);
    for (const run of runs) {
      expect(run.status).toBe("completed");
      for (const key of ["train/loss", "train/acc", "val/loss"]) {
        const series = q.getMetrics(run.id, key);
        expect(series.values.length).toBe(perProcess);
        expect(series.steps[perProcess - 1]).toBe(perProcess - 1);
      }
      expect([...q.getMetrics(run.id, "val/loss").values.subarray(0, 8)]).toEqual([0, 1, 2, 3, 4, 5, 6, 0]);
    }
    q.close();
  });
});
