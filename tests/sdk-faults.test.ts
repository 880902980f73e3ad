// Faults under a running TypeScript run, in real child processes and real files (issue 8 parts 3, 10, 11):
// every writer warning reaches stderr, a database file removed or replaced is noticed, a backlog larger
// than the free disk is written in bounded transactions.
import { execFileSync } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { open } from "../dist/index.js";
import { MAX_POINTS_PER_TRANSACTION, nextBatch } from "../dist/sdk/batches.js";
import { openConnection } from "../src/store/driver.js";
import { eventually, killFixtures, ROOT, type RunningChild, startFixture, tempDb, tempDir } from "./support/helpers.js";

afterEach(killFixtures);

/** A training script driven from stdin (tests/fixtures/sdk-commands.mjs). */
function commanded(env: Record<string, string>, cwd = ROOT) {
  const child = startFixture("sdk-commands.mjs", env, cwd, { stdin: true });
  let next = 0;
  return {
    child,
    /** Sends one command and resolves with its answer. */
    async call(command: string, timeoutMs = 20_000): Promise<string> {
      const id = `c${++next}`;
      child.send(`${id} ${command}`);
      const line = await child.waitForLine(new RegExp(`^${id} `), timeoutMs);
      return line.slice(id.length + 1);
    },
  };
}

function pointCount(db: string, runId: string): number {
  const q = open(db, { readonly: true });
  try {
    return q.getMetricKeys(runId).includes("loss") ? q.getMetrics(runId, "loss").values.length : 0;
  } finally {
    q.close();
  }
}

function stderrMatches(child: RunningChild, pattern: RegExp): boolean {
  return pattern.test(child.stderr());
}

describe("every warning of the writer thread reaches stderr (part 3)", () => {
  it("could not write, writes recovered, and the ones held back by the rate limit are counted at finish", async () => {
    const db = tempDb();
    const { child, call } = commanded({ DB: db, STONKS_BUSY_TIMEOUT_MS: "50" });
    const runId = (await call("start")).split(" ")[1];
    await call("flush");
    const blocker = openConnection(db);
    for (let round = 0; round < 2; round++) {
      blocker.exec("BEGIN IMMEDIATE");
      await call("log 10");
      await call("flush");
      if (round === 0) await eventually(() => stderrMatches(child, /could not write 10 buffered points/), 5000);
      blocker.exec("COMMIT");
      expect(await call("flush")).toBe("flushed");
      if (round === 0) await eventually(() => stderrMatches(child, /writes recovered after/), 5000);
    }
    blocker.close();
    expect(await call("finish")).toBe("finished");
    // The second round came within the rate limit's window: held back, then counted at finish.
    await eventually(() => stderrMatches(child, /\d+ more "could not write" warnings were held back/), 5000);
    await eventually(() => stderrMatches(child, /1 more "writes recovered" warnings were held back/), 5000);
    expect(child.stderr().match(/^stonks warn: writes recovered after/gm)).toHaveLength(1);
    expect(pointCount(db, runId)).toBe(20);
  });

  it("run deleted: a run whose row is deleted while it logs says so", async () => {
    const db = tempDb();
    const { child, call } = commanded({ DB: db });
    const runId = (await call("start")).split(" ")[1];
    await call("log 5");
    await call("flush");
    const raw = openConnection(db);
    raw.pragma("foreign_keys = ON");
    raw.prepare("DELETE FROM runs WHERE id = ?").run(runId);
    raw.close();
    await call("log 5");
    expect(await call("flush")).toBe("flushed");
    await eventually(() => stderrMatches(child, new RegExp(`run ${runId} was deleted from .* while logging`)), 5000);
    expect(await call("finish")).toBe("finished");
  });

  it("dropping points: past STONKS_MAX_PENDING_POINTS new points are dropped, warned, and counted at finish", async () => {
    const db = tempDb();
    const { child, call } = commanded({ DB: db, STONKS_BUSY_TIMEOUT_MS: "50", STONKS_MAX_PENDING_POINTS: "1000" });
    const runId = (await call("start")).split(" ")[1];
    await call("flush");
    const blocker = openConnection(db);
    blocker.exec("BEGIN IMMEDIATE");
    await call("log 5000");
    await call("flush");
    await eventually(() => stderrMatches(child, /more than 1000 points are waiting to be written/), 5000);
    blocker.exec("COMMIT");
    blocker.close();
    expect(await call("finish")).toBe("finished");
    await eventually(() => stderrMatches(child, new RegExp(`run ${runId}: 4000 points were dropped`)), 5000);
    expect(pointCount(db, runId)).toBe(1000);
  });
});

describe("the database file removed or replaced under a running run (R10)", () => {
  async function logUntilNoticed(child: RunningChild, call: (command: string) => Promise<string>): Promise<void> {
    const noticed = /the database file .* was removed or replaced while run .* was logging/;
    for (let i = 0; i < 100 && !stderrMatches(child, noticed); i++) {
      await call("log 10");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(child.stderr()).toMatch(noticed);
  }

  it("removed: warns once, discards the later points and counts them at finish; no file is made again", async () => {
    const db = tempDb();
    const { child, call } = commanded({ DB: db });
    const runId = (await call("start")).split(" ")[1];
    await call("log 10");
    await call("flush");
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${db}${suffix}`, { force: true });
    await logUntilNoticed(child, call);
    await call("log 7");
    expect(await call("finish")).toBe("finished");
    // The writer thread prints on its own; its line may reach us after the reply to "finish".
    const counted = new RegExp(`run ${runId}: (\\d+) points logged after its database file`);
    await eventually(() => stderrMatches(child, counted), 5000);
    const discarded = child.stderr().match(counted);
    expect(discarded).not.toBeNull();
    expect(Number(discarded![1])).toBeGreaterThanOrEqual(7);
    expect(child.stderr().match(/was removed or replaced while run/g)).toHaveLength(1);
    expect(() => readFileSync(db)).toThrow(/ENOENT/);
  });

  it("replaced: strict mode raises WriteError at the next call, and the new file is left untouched", async () => {
    const db = tempDb();
    const { child, call } = commanded({ DB: db, STRICT: "1" });
    await call("start");
    await call("log 10");
    await call("flush");
    const replacement = `${db}.other`;
    copyFileSync(db, replacement);
    renameSync(replacement, db);
    const before = readFileSync(db);
    const noticed = /the database file .* was removed or replaced while run .* was logging/;
    let answer = "";
    for (let i = 0; i < 100 && !answer.startsWith("threw"); i++) {
      answer = await call("log 10");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(answer).toMatch(/^threw WriteError: .*was removed or replaced/);
    expect(child.stderr()).toMatch(noticed);
    await call("finish");
    expect(readFileSync(db).equals(before)).toBe(true);
  });
});

describe("the file check does not mistake a moved working directory for a removed file", () => {
  it("a relative db path keeps naming the opened file after process.chdir()", async () => {
    const dir = tempDir();
    const { child, call } = commanded({ DB: "relative.db" }, dir);
    const runId = (await call("start")).split(" ")[1];
    await call("chdir /");
    // Past one heartbeat, when the writer checks the file.
    for (let i = 0; i < 7; i++) {
      await call("log 10");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(await call("finish")).toBe("finished");
    expect(child.stderr()).toBe("");
    expect(pointCount(join(dir, "relative.db"), runId)).toBe(70);
  });
});

describe("a backlog larger than the free disk (part 11)", () => {
  it("nextBatch splits a backlog into transactions of at most MAX_POINTS_PER_TRANSACTION, oldest first", () => {
    const backlog = [60_000, 30_000, 25_000].map((n, i) => ({ name: i, values: { length: n } }));
    const batches: { name: number; count: number }[][] = [];
    for (;;) {
      const batch = nextBatch(backlog);
      batches.push(batch.parts.map((p) => ({ name: p.series.name, count: p.count })));
      for (const part of batch.parts) part.series.values.length -= part.count;
      if (batch.complete) break;
    }
    expect(MAX_POINTS_PER_TRANSACTION).toBe(50_000);
    expect(batches).toEqual([
      [{ name: 0, count: 50_000 }],
      [
        { name: 0, count: 10_000 },
        { name: 1, count: 30_000 },
        { name: 2, count: 10_000 },
      ],
      [{ name: 2, count: 15_000 }],
    ]);
  });

  it("on a full filesystem, each freed megabyte takes a committed batch, and exit says how many points of the run were not written", async () => {
    const dir = tempDir("stonks-full-");
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", dir]);
    try {
      const db = join(dir, "stonks.db");
      const { child, call } = commanded({ DB: db, STONKS_EXIT_TIMEOUT: "2" });
      const runId = (await call("start")).split(" ")[1];
      await call("flush");
      const filler = join(dir, "filler");
      const fd = openSync(filler, "w");
      for (const size of [1 << 20, 1 << 12]) {
        const block = Buffer.alloc(size, 1);
        try {
          for (;;) writeSync(fd, block);
        } catch (error) {
          expect((error as { code?: string }).code).toBe("ENOSPC");
        }
      }
      const total = 200_000;
      await call(`log ${total}`);
      await call("flush");
      const before = pointCount(db, runId);
      expect(before).toBeLessThan(total);
      // About 3 MB: room for a batch or two, far from the whole backlog.
      ftruncateSync(fd, fstatSync(fd).size - 3 * (1 << 20));
      closeSync(fd);
      const progressed = await eventually(() => {
        const now = pointCount(db, runId);
        return now > before ? now : undefined;
      }, 20_000);
      // Each commit holds exactly one batch of the oldest points.
      expect((progressed - before) % MAX_POINTS_PER_TRANSACTION).toBe(0);
      await call("exit");
      const result = await child.done;
      expect(result.code).toBe(0);
      const report = result.stderr.match(new RegExp(`not written: (\\d+) points of run ${runId} \\(${db}\\)`));
      expect(report).not.toBeNull();
      rmSync(filler);
      const stored = pointCount(db, runId);
      expect(stored).toBeGreaterThan(before);
      expect(stored).toBeLessThan(total);
      expect(stored + Number(report![1])).toBe(total);
    } finally {
      killFixtures();
      execFileSync("umount", ["-l", dir]);
    }
  });
});
