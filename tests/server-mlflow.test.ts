// The MLflow tracking routes of a real `stonks serve` process: MLflow's error answers
// ({error_code, message} with MLflow's statuses) for bad input, missing runs and experiments,
// changed params, tokens and origins; run ids; points logged out of step order. The real MLflow
// client's run against these routes is python/tests/test_mlflow_client.py.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MLFLOW_ROUTES } from "../src/server/mlflow/routes.js";
import { compareBy, type Lookup, matches, parseFilter, parseOrderBy } from "../src/server/mlflow/search.js";
import { backends } from "./support/backends.js";
import { stonks } from "./support/helpers.js";
import { type ServeProcess, startServeProcess } from "./support/server-support.js";

const API = "/api/2.0/mlflow";

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(
  url: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] ??= "application/json";
  }
  const response = await fetch(`${url}${API}/${path}`, init);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function mlflowError(status: number, code: string, message?: RegExp) {
  return {
    status,
    body: { error_code: code, message: message === undefined ? expect.any(String) : expect.stringMatching(message) },
  };
}

describe.each(backends())("MLflow routes on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("MLflow routes: answers and errors", () => {
    let server: ServeProcess;
    let dbPath: string;
    const get = (path: string) => call(server.url, "GET", path);
    const post = (path: string, body: unknown, headers?: Record<string, string>) =>
      call(server.url, "POST", path, body, headers);

    beforeAll(async () => {
      dbPath = backend.newTarget();
      server = await startServeProcess(["--db", dbPath]);
    });

    afterAll(async () => {
      await server.stop();
    });

    async function newRun(experiment: string, name: string): Promise<string> {
      const found = await get(`experiments/get-by-name?experiment_name=${encodeURIComponent(experiment)}`);
      const experimentId =
        found.status === 200
          ? (found.body.experiment as { experiment_id: string }).experiment_id
          : ((await post("experiments/create", { name: experiment })).body.experiment_id as string);
      const created = await post("runs/create", {
        experiment_id: experimentId,
        start_time: 1_700_000_000_000,
        run_name: name,
        tags: [{ key: "mlflow.user", value: "alice" }],
      });
      expect(created.status).toBe(200);
      return (created.body.run as { info: { run_id: string } }).info.run_id;
    }

    it("gives runs MLflow's 32-hex-digit ids, each the stonks run id without its dashes", async () => {
      const runId = await newRun("ids", "r");
      expect(runId).toMatch(/^[0-9a-f]{32}$/);
      const dashed = `${runId.slice(0, 8)}-${runId.slice(8, 12)}-${runId.slice(12, 16)}-${runId.slice(16, 20)}-${runId.slice(20)}`;
      const stonksRun = await fetch(`${server.url}/api/runs/${dashed}`);
      expect(stonksRun.status).toBe(200);
      expect(await stonksRun.json()).toMatchObject({ id: dashed, name: "r", status: "running" });
      const got = await get(`runs/get?run_id=${runId}`);
      expect(got.body.run).toMatchObject({
        info: { run_id: runId, run_name: "r", status: "RUNNING", start_time: 1_700_000_000_000 },
      });
    });

    it("stores every point in the order logged, an earlier step after later ones too, and skips NaN", async () => {
      const runId = await newRun("points", "p");
      for (const [step, value] of [
        [0, 3],
        [1, 2],
        [2, 1],
        [1, 9],
      ]) {
        expect(
          await post("runs/log-metric", {
            run_id: runId,
            key: "loss",
            value,
            step,
            timestamp: 1_700_000_000_000 + step,
          }),
        ).toEqual({
          status: 200,
          body: {},
        });
      }
      expect((await post("runs/log-metric", { run_id: runId, key: "loss", value: "NaN", step: 5 })).status).toBe(200);
      const history = await get(`metrics/get-history?run_id=${runId}&metric_key=loss`);
      expect((history.body.metrics as { step: number; value: number }[]).map((m) => [m.step, m.value]).sort()).toEqual([
        [0, 3],
        [1, 2],
        [1, 9],
        [2, 1],
      ]);
      const page = await get(`metrics/get-history?run_id=${runId}&metric_key=loss&max_results=3`);
      expect(page.body.metrics).toHaveLength(3);
      const rest = await get(
        `metrics/get-history?run_id=${runId}&metric_key=loss&page_token=${page.body.next_page_token}`,
      );
      expect(rest.body.metrics).toHaveLength(1);
      const ended = await post("runs/update", { run_id: runId, status: "KILLED", end_time: 1_700_000_005_000 });
      expect(ended.body.run_info).toMatchObject({ status: "KILLED", end_time: 1_700_000_005_000 });
      const stonksRun = (await (
        await fetch(
          `${server.url}/api/runs/${(ended.body.run_info as { run_id: string }).run_id.replace(/^(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-")}`,
        )
      ).json()) as {
        status: string;
        ended_at: number;
      };
      expect(stonksRun).toMatchObject({ status: "interrupted", ended_at: 1_700_000_005 });
    });

    it("answers MLflow's error codes and statuses for what does not exist or cannot be", async () => {
      expect(await get("experiments/get-by-name?experiment_name=nope")).toEqual(
        mlflowError(404, "RESOURCE_DOES_NOT_EXIST", /Could not find experiment with name 'nope'/),
      );
      expect(await get("experiments/get-by-name")).toEqual(
        mlflowError(400, "INVALID_PARAMETER_VALUE", /Missing value for required parameter 'experiment_name'/),
      );
      expect(await get("experiments/get?experiment_id=123")).toEqual(mlflowError(404, "RESOURCE_DOES_NOT_EXIST"));
      expect(await get("experiments/get?experiment_id=0")).toMatchObject({
        status: 200,
        body: { experiment: { experiment_id: "0", name: "Default" } },
      });
      expect((await post("experiments/create", { name: "twice" })).status).toBe(200);
      expect(await post("experiments/create", { name: "twice" })).toEqual(
        mlflowError(400, "RESOURCE_ALREADY_EXISTS", /'twice' already exists/),
      );
      const missing = randomUUID().replace(/-/g, "");
      expect(await get(`runs/get?run_id=${missing}`)).toEqual(
        mlflowError(404, "RESOURCE_DOES_NOT_EXIST", new RegExp(`Run '${missing}' not found`)),
      );
      expect(await post("runs/log-metric", { run_id: missing, key: "loss", value: 1 })).toEqual(
        mlflowError(404, "RESOURCE_DOES_NOT_EXIST"),
      );

      const runId = await newRun("errors", "e");
      expect(await post("runs/log-parameter", { run_id: runId, key: "lr", value: "0.001" })).toEqual({
        status: 200,
        body: {},
      });
      expect(await post("runs/log-parameter", { run_id: runId, key: "lr", value: "1e-3" })).toEqual({
        status: 200,
        body: {},
      });
      expect(await post("runs/log-parameter", { run_id: runId, key: "lr", value: "0.1" })).toEqual(
        mlflowError(400, "INVALID_PARAMETER_VALUE", /Changing param values is not allowed\. Param with key='lr'/),
      );
      expect(await post("runs/log-batch", { run_id: runId, metrics: [{ value: 1 }] })).toEqual(
        mlflowError(400, "INVALID_PARAMETER_VALUE", /metrics\[0\]\.key/),
      );
      expect(await post("runs/log-metric", "{not json")).toEqual(mlflowError(400, "MALFORMED_REQUEST"));
      expect(await post("runs/log-metric", "{}", { "Content-Type": "text/plain" })).toEqual(
        mlflowError(415, "BAD_REQUEST", /Content-Type: application\/json/),
      );
      expect(await post("runs/delete-tag", { run_id: runId, key: "absent" })).toEqual(
        mlflowError(404, "RESOURCE_DOES_NOT_EXIST", /No tag with name: absent/),
      );
      expect(await post("runs/search", { experiment_ids: ["0"], filter: "metrics.loss ~ 1" })).toEqual(
        mlflowError(400, "INVALID_PARAMETER_VALUE"),
      );
      expect(await post("runs/search", { experiment_ids: ["0"], filter: "attributes.artifact_uri = 'x'" })).toEqual(
        mlflowError(400, "INVALID_PARAMETER_VALUE", /run_id, run_name, status, start_time and end_time/),
      );
      expect(await get("artifacts/list?run_id=x")).toEqual(mlflowError(404, "ENDPOINT_NOT_FOUND", /No such API route/));
      expect(await get("runs/get?run_id=x").then((a) => a.status)).toBe(404);
    });

    it("sets and removes tags, and finds runs by params, metrics, tags and attributes", async () => {
      const a = await newRun("search", "a");
      const b = await newRun("search", "b");
      await post("runs/log-batch", {
        run_id: a,
        params: [{ key: "optimizer", value: "adam" }],
        tags: [
          { key: "team", value: "nlp" },
          { key: "mlflow.note.content", value: "notes" },
        ],
        metrics: [{ key: "loss", value: 0.5, step: 1, timestamp: 1 }],
      });
      await post("runs/log-batch", {
        run_id: b,
        params: [{ key: "optimizer", value: "sgd" }],
        metrics: [{ key: "loss", value: 2, step: 1 }],
      });
      await post("runs/set-tag", { run_id: b, key: "team", value: "vision" });
      const experimentId = (
        (await get("experiments/get-by-name?experiment_name=search")).body.experiment as { experiment_id: string }
      ).experiment_id;
      const names = async (filter: string, orderBy?: string[]) =>
        (
          (await post("runs/search", { experiment_ids: [experimentId], filter, order_by: orderBy })).body.runs as {
            info: { run_name: string };
          }[]
        ).map((r) => r.info.run_name);
      expect(await names("params.optimizer = 'adam'")).toEqual(["a"]);
      expect(await names("metrics.loss > 1")).toEqual(["b"]);
      expect(await names("tags.team LIKE 'vis%' AND attributes.status = 'RUNNING'")).toEqual(["b"]);
      expect(await names("", ["metrics.loss DESC"])).toEqual(["b", "a"]);
      expect(await names("attributes.run_name ILIKE 'A'")).toEqual(["a"]);
      const run = (await get(`runs/get?run_id=${a}`)).body.run as {
        data: { tags: { key: string; value: string }[]; params: unknown[] };
      };
      expect(run.data.params).toEqual([{ key: "optimizer", value: "adam" }]);
      expect(run.data.tags).toEqual(
        expect.arrayContaining([
          { key: "team", value: "nlp" },
          { key: "mlflow.note.content", value: "notes" },
          { key: "mlflow.runName", value: "a" },
        ]),
      );
      expect(await post("runs/delete-tag", { run_id: a, key: "team" })).toEqual({ status: 200, body: {} });
      expect(await names("tags.team = 'nlp'")).toEqual([]);
    });

    it("refuses pages of other origins in MLflow's shape", async () => {
      const answer = await call(server.url, "GET", "experiments/get?experiment_id=0", undefined, {
        Origin: "http://evil.example",
      });
      expect(answer).toEqual(mlflowError(403, "PERMISSION_DENIED", /--allow-origin http:\/\/evil\.example/));
    });
  });

  describe("MLflow routes: tokens", () => {
    let server: ServeProcess;
    const secrets: Record<string, string> = {};

    beforeAll(async () => {
      const dbPath = backend.newTarget();
      for (const role of ["read", "write"]) {
        const made = await stonks(["token", "create", "--role", role, "--name", `${role}-mlflow`, "--db", dbPath]);
        expect(made.code, made.stderr).toBe(0);
        secrets[role] = made.stdout.trim();
      }
      server = await startServeProcess(["--db", dbPath]);
    });

    afterAll(async () => {
      await server.stop();
    });

    it("needs a token (sent as MLFLOW_TRACKING_TOKEN is: Bearer) with the role each route's table entry names", async () => {
      expect(MLFLOW_ROUTES.map((r) => [r.method, r.path.replace(API, ""), r.access])).toEqual(
        MLFLOW_ROUTES.map((r) => [
          r.method,
          r.path.replace(API, ""),
          r.method === "get" || r.path.endsWith("/search") ? "read" : "write",
        ]),
      );
      for (const route of MLFLOW_ROUTES) {
        const method = route.method.toUpperCase() as "GET" | "POST";
        const path = route.path.slice(API.length + 1);
        const body = method === "POST" ? {} : undefined;
        const label = `${method} ${route.path}`;
        expect(await call(server.url, method, path, body), label).toEqual(
          mlflowError(401, "UNAUTHENTICATED", /needs a token: send Authorization: Bearer/),
        );
        const asRead = await call(server.url, method, path, body, { Authorization: `Bearer ${secrets.read}` });
        if (route.access === "write") {
          expect(asRead, label).toEqual({
            status: 403,
            body: { error_code: "PERMISSION_DENIED", message: `this token has role read; ${label} needs role write` },
          });
        } else {
          expect([200, 400, 404], label).toContain(asRead.status);
        }
        const asWrite = await call(server.url, method, path, body, { Authorization: `Bearer ${secrets.write}` });
        expect([200, 400, 404], label).toContain(asWrite.status);
      }
    });
  });
});

describe("MLflow search syntax", () => {
  it("reads AND-joined clauses with quoted keys, numbers and text", () => {
    expect(
      parseFilter(
        "metrics.`val loss` <= 0.5 and params.optimizer = 'adam' AND tags.\"a b\" LIKE '%x' AND status != \"FAILED\"",
      ),
    ).toEqual([
      { entity: "metrics", key: "val loss", op: "<=", value: 0.5 },
      { entity: "params", key: "optimizer", op: "=", value: "adam" },
      { entity: "tags", key: "a b", op: "LIKE", value: "%x" },
      { entity: "attributes", key: "status", op: "!=", value: "FAILED" },
    ]);
    expect(parseFilter("  ")).toEqual([]);
    expect(parseOrderBy(["metrics.loss DESC", "attributes.start_time", "params.`lr` asc"])).toEqual([
      { entity: "metrics", key: "loss", descending: true },
      { entity: "attributes", key: "start_time", descending: false },
      { entity: "params", key: "lr", descending: false },
    ]);
  });

  it("refuses OR, bare words as values and unknown operators with MLflow's error", () => {
    for (const filter of [
      "metrics.loss < 1 OR metrics.loss > 2",
      "status = RUNNING",
      "metrics.loss ~ 1",
      "params.lr =",
    ]) {
      expect(() => parseFilter(filter), filter).toThrow(
        expect.objectContaining({ status: 400, code: "INVALID_PARAMETER_VALUE" }),
      );
    }
  });

  it("compares numbers as numbers, text as text, LIKE with % and _, and puts missing values last", () => {
    const run =
      (values: Record<string, string | number>): Lookup =>
      (_entity, key) =>
        values[key] ?? null;
    const a = run({ loss: 0.5, name: "resnet-50" });
    const b = run({ loss: 2 });
    expect(matches(parseFilter("metrics.loss < 1"), a)).toBe(true);
    expect(matches(parseFilter("metrics.loss < 1"), b)).toBe(false);
    expect(matches(parseFilter("params.name LIKE 'resnet-__'"), a)).toBe(true);
    expect(matches(parseFilter("params.name ILIKE 'RESNET%'"), a)).toBe(true);
    expect(matches(parseFilter("params.name LIKE 'resnet'"), a)).toBe(false);
    expect(matches(parseFilter("params.name = 'x'"), b)).toBe(false);
    const byName = parseOrderBy(["params.name DESC"]);
    expect(compareBy(byName, a, b)).toBeLessThan(0);
    expect(compareBy(byName, b, a)).toBeGreaterThan(0);
    expect(compareBy(parseOrderBy(["metrics.loss DESC"]), a, b)).toBeGreaterThan(0);
  });
});
