// POST /api/groups/series on a real server over a real file: per group and key the aggregate of
// StonksDatabase.getGroupSeries (the rule of docs/grouping.md), bucket-sized whatever the runs' lengths,
// and JSON 4xx for bad input.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GroupSeriesReplyJson } from "../src/contract/groups.js";
import { MAX_GROUP_BUCKETS, MAX_GROUPS_PER_REQUEST } from "../src/contract/limits.js";
import { open } from "../src/query/database.js";
import { type RunningServer, startServer } from "../src/server/index.js";
import { backends } from "./support/backends.js";
import { tempDir } from "./support/helpers.js";
import { appendToRun, populateRuns } from "./support/server-support.js";

let server: RunningServer;
let dbPath: string;
let ids: string[];

async function post(body: unknown): Promise<{ status: number; json: unknown; bytes: number }> {
  const response = await fetch(`${server.url}/api/groups/series`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: JSON.parse(text) as unknown, bytes: text.length };
}

describe.each(backends())("group series on $name", (backend) => {
  beforeAll(async () => {
    await backend.start();
    dbPath = backend.newTarget();
    // Two groups of three seeds: values v-1, v, v+1 around v = step / 100 (group a) and 5 + step / 100 (group b).
    ids = populateRuns(
      dbPath,
      ["a", "b"].flatMap((group, g) =>
        [-1, 0, 1].map((offset) => ({
          experiment: "sweep",
          name: `${group}${offset}`,
          group,
          status: "completed" as const,
          metrics: {
            loss: { count: 20_000, value: (step: number) => g * 5 + step / 100 + offset },
            ...(offset === 0 ? { acc: [1, 2, 3] } : {}),
          },
        })),
      ),
    );
    server = await startServer({ dbPath, port: 0, uiDir: tempDir() });
  });

  afterAll(async () => {
    await server?.close();
    await backend.stop();
  });

  describe("POST /api/groups/series", () => {
    it("answers per group and key the mean, std, stderr, min, max and count per bucket", async () => {
      const body = {
        groups: [
          { label: "group=a", run_ids: ids.slice(0, 3) },
          { label: "group=b", run_ids: ids.slice(3) },
        ],
        keys: ["loss", "acc"],
        buckets: 50,
      };
      const { status, json, bytes } = await post(body);
      expect(status).toBe(200);
      const reply = json as GroupSeriesReplyJson;
      expect(reply.series.map((s) => [s.label, s.key, s.runs_with_key])).toEqual([
        ["group=a", "loss", 3],
        ["group=a", "acc", 1],
        ["group=b", "loss", 3],
        ["group=b", "acc", 1],
      ]);
      const [aLoss, aAcc, bLoss] = reply.series;
      // 3 runs × 20,000 points come back as 50 buckets.
      expect(aLoss.steps).toHaveLength(50);
      expect(bytes).toBeLessThan(50 * 7 * 30 * 4 + 1000);
      for (const [i, step] of aLoss.steps.entries()) {
        expect(aLoss.mean[i]).toBeCloseTo(step / 100, 9);
        expect(aLoss.std[i]).toBeCloseTo(1, 12);
        expect(aLoss.stderr[i]).toBeCloseTo(1 / Math.sqrt(3), 12);
        expect(aLoss.min[i]).toBeCloseTo(aLoss.mean[i] - 1, 9);
        expect(aLoss.max[i]).toBeCloseTo(aLoss.mean[i] + 1, 9);
        expect(aLoss.count[i]).toBe(3);
        expect(bLoss.mean[i]).toBeCloseTo(5 + bLoss.steps[i] / 100, 9);
      }
      expect(aAcc).toMatchObject({
        steps: [0, 1, 2],
        mean: [1, 2, 3],
        std: [0, 0, 0],
        count: [1, 1, 1],
        first_step: 0,
        last_step: 2,
      });
      // The same numbers as the query API's read.
      const db = open(dbPath, { readonly: true });
      try {
        const direct = db.getGroupSeries(ids.slice(0, 3), "loss", { buckets: 50 });
        expect(aLoss.mean).toEqual(direct.mean);
        expect(aLoss.std).toEqual(direct.std);
      } finally {
        db.close();
      }
    });

    it("a step window cuts the runs to it and buckets over it", async () => {
      const { json } = await post({
        groups: [{ label: "a", run_ids: ids.slice(0, 3) }],
        keys: ["loss"],
        buckets: 10,
        min_step: 1000,
        max_step: 1999,
      });
      const [series] = (json as GroupSeriesReplyJson).series;
      expect(series.steps).toHaveLength(10);
      expect(series.steps[0]).toBeCloseTo(1049.5, 9);
      expect(series.mean[0]).toBeCloseTo(10.495, 9);
    });

    it("answers again with the points logged since (a repeated request is remembered until then)", async () => {
      const body = { groups: [{ label: "b", run_ids: ids.slice(3) }], keys: ["acc"], buckets: 4 };
      const before = (await post(body)).json as GroupSeriesReplyJson;
      expect(before.series[0]).toMatchObject({ steps: [0, 1, 2], mean: [1, 2, 3], count: [1, 1, 1] });
      expect(((await post(body)).json as GroupSeriesReplyJson).series[0].mean).toEqual([1, 2, 3]);
      appendToRun(dbPath, ids[4], "acc", [3], [7]);
      const after = (await post(body)).json as GroupSeriesReplyJson;
      expect(after.series[0]).toMatchObject({
        steps: [0, 1, 2, 3],
        mean: [1, 2, 3, 7],
        count: [1, 1, 1, 1],
        first_step: 0,
        last_step: 3,
      });
    });

    it("answers bad input with a JSON 4xx", async () => {
      const good = { groups: [{ label: "a", run_ids: [ids[0]] }], keys: ["loss"] };
      const cases: [unknown, number, string][] = [
        ["{not json", 400, "bad_request"],
        [{ ...good, groups: [] }, 400, "bad_request"],
        [{ ...good, keys: [] }, 400, "bad_request"],
        [{ ...good, buckets: 0 }, 400, "bad_request"],
        [{ ...good, buckets: MAX_GROUP_BUCKETS + 1 }, 400, "bad_request"],
        [{ ...good, buckets: 2.5 }, 400, "bad_request"],
        [{ ...good, min_step: 10, max_step: 5 }, 400, "bad_request"],
        [{ ...good, extra: 1 }, 400, "bad_request"],
        [{ ...good, groups: [{ label: "a", run_ids: [] }] }, 400, "bad_request"],
        [
          { ...good, groups: Array.from({ length: MAX_GROUPS_PER_REQUEST + 1 }, () => good.groups[0]) },
          400,
          "bad_request",
        ],
        [{ ...good, groups: [{ label: "a", run_ids: [ids[0], "no-such-run"] }] }, 404, "not_found"],
      ];
      for (const [body, status, code] of cases) {
        const answer = await post(body);
        expect([JSON.stringify(body).slice(0, 80), answer.status]).toEqual([JSON.stringify(body).slice(0, 80), status]);
        expect(answer.json).toMatchObject({ error: { code, message: expect.any(String) } });
      }
    });
  });
});
