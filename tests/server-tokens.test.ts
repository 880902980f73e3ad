// Tokens with roles on every route: the list of routes comes from the served OpenAPI document
// itself (and the document is checked against the routes the application has), so a new route
// cannot escape the role check. Tokens are made with the real `stonks token` command.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorJson } from "../src/contract/wire.js";
import { openService } from "../src/query/service.js";
import { createApp } from "../src/server/app.js";
import { EventHub } from "../src/server/events.js";
import { MLFLOW_ROUTES } from "../src/server/mlflow/routes.js";
import { StaticFiles } from "../src/server/static.js";
import { backends } from "./support/backends.js";
import { stonks, tempDir } from "./support/helpers.js";
import { populateRuns, type ServeProcess, startServeProcess } from "./support/server-support.js";

type Role = "read" | "write" | "admin";
type Access = Role | "none";

interface Operation {
  method: string;
  path: string;
  access: Access;
  body: unknown;
  streaming: boolean;
}

interface OpenApiOperation {
  "x-stonks-role": Access;
  "x-stonks-streaming"?: boolean;
  requestBody?: { content: { "application/json": { schema: { examples?: unknown[] } } } };
}

const RANK: Record<Access, number> = { none: 0, read: 1, write: 2, admin: 3 };
const FIXED_TOKEN = "fixed-admin-token-0123456789";

/** Every (method, path) of the document with the role it says it needs. */
async function operations(url: string): Promise<Operation[]> {
  const response = await fetch(`${url}/api/openapi.json`);
  expect(response.status).toBe(200);
  const document = (await response.json()) as {
    openapi: string;
    paths: Record<string, Record<string, OpenApiOperation>>;
  };
  expect(document.openapi).toBe("3.1.0");
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      access: op["x-stonks-role"],
      body: op.requestBody?.content["application/json"].schema.examples?.[0] ?? {},
      streaming: op["x-stonks-streaming"] === true,
    })),
  );
}

async function createToken(dbPath: string, role: Role, name: string): Promise<string> {
  const result = await stonks(["token", "create", "--role", role, "--name", name, "--db", dbPath]);
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).toContain(`with role ${role}`);
  const secret = result.stdout.trim();
  expect(secret).toMatch(/^stk_[A-Za-z0-9_-]{32}$/);
  return secret;
}

describe.each(backends())("tokens on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("tokens and roles", () => {
    let dbPath: string;
    let server: ServeProcess;
    let runId: string;
    const secrets = {} as Record<Role, string>;

    beforeAll(async () => {
      dbPath = backend.newTarget();
      [runId] = populateRuns(dbPath, [{ experiment: "roles", name: "r", metrics: { loss: [1, 2, 3] } }]);
      const service = openService(dbPath);
      service.saveWorkspace(service.getExperiment("roles")?.id ?? "", "layout", { charts: [] });
      service.close();
      for (const role of ["read", "write", "admin"] as const)
        secrets[role] = await createToken(dbPath, role, `${role}-ci`);
      server = await startServeProcess(["--db", dbPath]);
    });

    afterAll(async () => {
      await server.stop();
    });

    /** A request to one operation with real ids (a missing one for deletions, so nothing is lost). */
    async function call(op: Operation, token: string | null): Promise<{ status: number; body: ErrorJson | null }> {
      const deleting = op.method === "DELETE";
      const path = op.path
        .replace("/api/runs/{id}", `/api/runs/${deleting ? randomUUID() : runId}`)
        .replace("/api/experiments/{id}", `/api/experiments/${deleting ? randomUUID() : "roles"}`)
        .replace("{name}", "layout");
      const query = op.path === "/api/runs/{id}/metrics" ? "?key=loss" : "";
      const controller = new AbortController();
      const headers: Record<string, string> = token === null ? {} : { Authorization: `Bearer ${token}` };
      let body: string | undefined;
      if (op.method !== "GET" && op.method !== "DELETE") {
        headers["Content-Type"] = "application/json";
        const example =
          op.path === "/api/runs/{id}" && op.method === "PUT"
            ? { ...(op.body as object), experiment: "roles" }
            : op.body;
        body = JSON.stringify(op.path.includes("workspaces") ? { state: { charts: [] } } : example);
      }
      const response = await fetch(server.url + path + query, {
        method: op.method,
        headers,
        body,
        signal: controller.signal,
      });
      // An event stream never ends: its status is all this test needs.
      if (op.streaming && response.status === 200) {
        controller.abort();
        return { status: response.status, body: null };
      }
      const text = await response.text();
      return { status: response.status, body: text === "" ? null : (JSON.parse(text) as ErrorJson) };
    }

    it("describes every route the application serves, each with the role the docs give it", async () => {
      const described = await operations(server.url);
      const service = openService(dbPath);
      try {
        const app = createApp({
          db: service,
          events: new EventHub({ dbPath }),
          dashboard: new StaticFiles(tempDir()),
          token: null,
          allowedHosts: null,
        });
        const served = app.routes
          .filter((r) => r.method !== "ALL" && r.path.startsWith("/api/"))
          .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
        // The MLflow routes speak MLflow's JSON and are described by their own table (tests/server-mlflow.test.ts).
        const mlflow = MLFLOW_ROUTES.map((r) => `${r.method.toUpperCase()} ${r.path}`);
        expect(new Set(served)).toEqual(new Set([...described.map((op) => `${op.method} ${op.path}`), ...mlflow]));
      } finally {
        service.close();
      }
      // The rule of docs/rest-api.md: reading needs read, the write API write, edits and deletions admin.
      const expected = (op: Operation): Access => {
        if (op.path === "/api/openapi.json") return "none";
        if (op.method === "GET" || op.path === "/api/series" || op.path === "/api/groups/series") return "read";
        if (op.path === "/api/runs/{id}" && op.method === "PUT") return "write";
        if (op.path === "/api/runs/{id}/points" || op.path === "/api/runs/{id}/heartbeat") return "write";
        return "admin";
      };
      expect(described.map((op) => [op.method, op.path, op.access])).toEqual(
        described.map((op) => [op.method, op.path, expected(op)]),
      );
    });

    it("answers 401 without a token, 403 naming the role below the one needed, and serves every role at or above it", async () => {
      const described = await operations(server.url);
      expect(described.length).toBeGreaterThanOrEqual(23);
      for (const op of described) {
        for (const role of [null, "read", "write", "admin"] as const) {
          const { status, body } = await call(op, role === null ? null : secrets[role]);
          const label = `${op.method} ${op.path} as ${role ?? "no token"}: ${status} ${JSON.stringify(body)}`;
          if (op.access === "none") {
            expect(status, label).toBe(200);
          } else if (role === null) {
            expect(status, label).toBe(401);
            expect(body?.error.code, label).toBe("unauthorized");
          } else if (RANK[role] < RANK[op.access]) {
            expect(status, label).toBe(403);
            expect(body?.error, label).toEqual({
              code: "forbidden",
              message: `this token has role ${role}; ${op.method} ${op.path} needs role ${op.access}`,
            });
          } else {
            expect(status, label).not.toBe(401);
            expect(status, label).not.toBe(403);
            expect(status, label).toBeLessThan(500);
            // Reads of the run and experiment that exist succeed; the rest may be a 404 of a missing id.
            if (op.method === "GET") expect(status, label).toBe(200);
          }
        }
      }
    }, 60_000);

    it("refuses unknown and revoked tokens with 401, and records when a token was last used", async () => {
      const info = { method: "GET", path: "/api/info", access: "read", body: {}, streaming: false } as const;
      const unknown = await call(info, "stk_not-a-token");
      expect(unknown.status).toBe(401);
      expect(unknown.body?.error.message).toMatch(/unknown or revoked/);

      const secret = await createToken(dbPath, "admin", "to-revoke");
      expect((await call(info, secret)).status).toBe(200);
      const revoked = await stonks(["token", "revoke", "to-revoke", "--db", dbPath]);
      expect([revoked.code, revoked.stdout]).toEqual([0, expect.stringContaining("Revoked token") as unknown]);
      // The running server sees the revocation at the next request.
      expect((await call(info, secret)).status).toBe(401);

      const listed = await stonks(["token", "list", "--json", "--db", dbPath]);
      const tokens = JSON.parse(listed.stdout) as {
        name: string;
        role: string;
        last_used_at: number | null;
        revoked_at: number | null;
      }[];
      expect(tokens.find((t) => t.name === "read-ci")).toMatchObject({
        role: "read",
        last_used_at: expect.any(Number),
        revoked_at: null,
      });
      expect(tokens.find((t) => t.name === "to-revoke")?.revoked_at).toEqual(expect.any(Number));
      // Only hashes are stored: no secret appears in the listing.
      expect(listed.stdout).not.toContain(secrets.read);
    });

    it("says in one line what is wrong with a token command", async () => {
      const cases: [string[], number, RegExp][] = [
        [["create", "--role", "owner"], 2, /argument 'owner' is invalid. Allowed choices are read, write, admin/],
        [["create"], 2, /required option '--role <role>' not specified/],
        [["create", "--role", "read", "--name", "read-ci"], 1, /A token named "read-ci" exists already/],
        [["create", "--role", "read", "--name", "42"], 1, /not only digits/],
        [["revoke", "nobody"], 1, /No token with id or name "nobody"/],
      ];
      for (const [args, code, message] of cases) {
        const result = await stonks(["token", ...args, "--db", dbPath]);
        expect([result.code, result.stderr.trim().split("\n").length], args.join(" ")).toEqual([code, 1]);
        expect(result.stderr).toMatch(message);
      }
    });

    it("says at start that the stored tokens are required (the file's on SQLite, the database's on PostgreSQL), and how to open the dashboard with one", () => {
      const holder = backend.name === "postgres" ? "this database's" : "this file's";
      expect(server.stdout()).toContain(
        `  tokens:    ${holder} tokens are required; open the dashboard as ${server.url}/?token=<secret>\n`,
      );
    });

    it("takes ?token= for EventSource, which cannot send headers", async () => {
      const response = await fetch(`${server.url}/api/info?token=${secrets.read}`);
      expect(response.status).toBe(200);
    });
  });

  describe("the server's own --token", () => {
    it("is an admin token beside the file's tokens, and without either the API stays open", async () => {
      const open = backend.newTarget();
      const openServer = await startServeProcess(["--db", open]);
      try {
        const put = await fetch(`${openServer.url}/api/runs/${randomUUID()}/sync`);
        // No token anywhere: open as before tokens existed (a 404 for the missing run, not a 401).
        expect(put.status).toBe(404);
        expect(openServer.stdout()).not.toContain("tokens:");
      } finally {
        await openServer.stop();
      }

      const dbPath = backend.newTarget();
      populateRuns(dbPath, [{ experiment: "fixed", name: "r" }]);
      const readSecret = await createToken(dbPath, "read", "reader");
      const server = await startServeProcess(["--db", dbPath, "--token", FIXED_TOKEN]);
      try {
        const del = (token: string) =>
          fetch(`${server.url}/api/runs/${randomUUID()}`, {
            method: "DELETE",
            headers: { Authorization: `Bearer ${token}` },
          });
        expect((await del(FIXED_TOKEN)).status).toBe(404);
        expect((await del(readSecret)).status).toBe(403);
        const none = await fetch(`${server.url}/api/info`);
        expect([none.status, none.headers.get("www-authenticate")]).toEqual([401, "Bearer"]);
      } finally {
        await server.stop();
      }
    });

    it("a token made while a server without tokens runs closes it at once", async () => {
      const dbPath = backend.newTarget();
      const server = await startServeProcess(["--db", dbPath]);
      try {
        expect((await fetch(`${server.url}/api/info`)).status).toBe(200);
        const secret = await createToken(dbPath, "read", "late");
        expect((await fetch(`${server.url}/api/info`)).status).toBe(401);
        expect((await fetch(`${server.url}/api/info`, { headers: { Authorization: `Bearer ${secret}` } })).status).toBe(
          200,
        );
      } finally {
        await server.stop();
      }
    });
  });
});
