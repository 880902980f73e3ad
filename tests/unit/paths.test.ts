/** Path rules: where the database is, and which URL paths the static file server may read. */
import { afterEach, describe, expect, it } from "vitest";
import { safeSegments } from "../../src/server/static.js";
import { isRemoteUrl, resolveDbPath } from "../../src/util/db-path.js";

describe("database location", () => {
  const saved = process.env.STONKS_DB;
  afterEach(() => {
    if (saved === undefined) delete process.env.STONKS_DB;
    else process.env.STONKS_DB = saved;
  });

  it("takes the explicit path, then STONKS_DB, then ./stonks.db", () => {
    process.env.STONKS_DB = "/env.db";
    expect(resolveDbPath("/given.db")).toBe("/given.db");
    expect(resolveDbPath(null)).toBe("/env.db");
    expect(resolveDbPath("")).toBe("/env.db");
    delete process.env.STONKS_DB;
    expect(resolveDbPath()).toBe("./stonks.db");
  });

  it("tells a server URL from a file path", () => {
    expect(isRemoteUrl("http://host:8000")).toBe(true);
    expect(isRemoteUrl("HTTPS://host")).toBe(true);
    expect(isRemoteUrl("./http.db")).toBe(false);
    expect(isRemoteUrl("/data/https://x")).toBe(false);
  });
});

describe("static file paths", () => {
  it.each([
    ["/assets/index-abc.js", ["assets", "index-abc.js"]],
    ["/./a//b/", ["a", "b"]],
    ["/runs/r%20one", ["runs", "r one"]],
  ])("%s is read as %j", (path, segments) => {
    expect(safeSegments(path)).toEqual(segments);
  });

  it.each(["/../etc/passwd", "/a/%2e%2e/b", "/a%5cb", "/a%00b", "/c:/x", "/%E0%A4%A"])("%s is refused", (path) => {
    expect(safeSegments(path)).toBeNull();
  });
});
