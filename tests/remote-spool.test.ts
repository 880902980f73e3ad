// Where the spool of a server URL lives (the rule the Python SDK shares), and that the spool keeps only what
// the server lacks: a finished run the server acknowledged is deleted from it, an unsent one stays.
import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { open } from "../src/query/database.js";
import { spoolPathFor } from "../src/util/db-path.js";
import { killFixtures, startFixture, tempDir } from "./support/helpers.js";
import { freePort, killStarted, serverRun, startServerProcess } from "./support/remote.js";

afterEach(() => {
  killFixtures();
  killStarted();
});

function withEnv<T>(env: Record<string, string | undefined>, body: () => T): T {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  try {
    return body();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

const hex = (url: string) => createHash("sha256").update(url).digest("hex").slice(0, 16);

describe("the spool", () => {
  it("is <16 hex of sha256(url)>.db in STONKS_SPOOL_DIR, else XDG_CACHE_HOME/stonks/spool, else ~/.cache/stonks/spool", () => {
    const url = "http://stonks.lab:8000";
    expect(withEnv({ STONKS_SPOOL_DIR: "/tmp/sp" }, () => spoolPathFor(url))).toBe(`/tmp/sp/${hex(url)}.db`);
    expect(withEnv({ STONKS_SPOOL_DIR: undefined, XDG_CACHE_HOME: "/tmp/xdg" }, () => spoolPathFor(url))).toBe(
      `/tmp/xdg/stonks/spool/${hex(url)}.db`,
    );
    expect(withEnv({ STONKS_SPOOL_DIR: "", XDG_CACHE_HOME: "" }, () => spoolPathFor(`${url}/`))).toBe(
      join(homedir(), ".cache", "stonks", "spool", `${hex(url)}.db`),
    );
  });

  it("loses a finished run once the server holds all of it, and keeps one the server never got", async () => {
    const dir = tempDir();
    const spool = join(dir, "spool");
    const server = await startServerProcess(join(dir, "server.db"), await freePort());
    const sent = await startFixture("remote-logger.mjs", { DB: server.url, STONKS_SPOOL_DIR: spool, STEPS: "300" })
      .done;
    const sentId = sent.stdout.match(/done (\S+)/)![1];
    expect((await serverRun(server.url, sentId))?.summary.loss?.count).toBe(300);
    const sentSpool = withEnv({ STONKS_SPOOL_DIR: spool }, () => spoolPathFor(server.url));
    const afterSent = open(sentSpool, { readonly: true });
    expect(afterSent.listRuns()).toEqual([]);
    afterSent.close();

    const downUrl = `http://127.0.0.1:${await freePort()}`;
    const kept = await startFixture("remote-logger.mjs", { DB: downUrl, STONKS_SPOOL_DIR: spool, STEPS: "300" }).done;
    const keptId = kept.stdout.match(/done (\S+)/)![1];
    const keptSpool = open(
      withEnv({ STONKS_SPOOL_DIR: spool }, () => spoolPathFor(downUrl)),
      { readonly: true },
    );
    expect(keptSpool.listRuns().map((run) => [run.id, run.status])).toEqual([[keptId, "completed"]]);
    expect(keptSpool.getMetrics(keptId, "loss").values).toHaveLength(300);
    keptSpool.close();
  });
});
