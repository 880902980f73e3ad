// Cross-origin pages get nothing: a real server refuses requests whose Origin
// is not its own (or on the opt-in list) on every route, and the dashboard
// runs under a strict Content-Security-Policy in real Chromium.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorJson, ExperimentJson, RunJson } from "../src/contract/wire.js";
import { type RunningServer, startServer } from "../src/server/index.js";
import { backends } from "./support/backends.js";
import { ROOT } from "./support/helpers.js";
import { populateRuns } from "./support/server-support.js";
import { launchBrowser, newPage } from "./support/ui-support.js";

const FOREIGN = "http://127.0.0.1:9";
const ALLOWED = "http://localhost:5173";

describe.each(backends())("Origin and CSP on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("Origin", () => {
    let server: RunningServer;
    let runId: string;

    beforeAll(async () => {
      const dbPath = backend.newTarget();
      [runId] = populateRuns(dbPath, [{ name: "a", metrics: { loss: [1, 2] } }]);
      server = await startServer({ dbPath, host: "127.0.0.1", port: 0, allowOrigins: [`${ALLOWED}/`] });
    });
    afterAll(() => server.close());

    const routes = () => [
      { method: "GET", path: "/api/experiments" },
      { method: "GET", path: `/api/runs/${runId}/metrics?key=loss` },
      { method: "GET", path: "/api/events" },
      { method: "POST", path: "/api/series", body: { series: [{ run_id: runId, key: "loss" }] } },
      { method: "PATCH", path: `/api/runs/${runId}`, body: { notes: "from another page" } },
      { method: "DELETE", path: `/api/runs/${runId}` },
      { method: "DELETE", path: "/api/experiments/exp" },
      { method: "GET", path: "/" },
    ];

    async function send(route: { method: string; path: string; body?: unknown }, origin?: string): Promise<Response> {
      const headers: Record<string, string> = { "Content-Type": "application/json" };
      if (origin !== undefined) headers.Origin = origin;
      const controller = new AbortController();
      const response = await fetch(server.url + route.path, {
        method: route.method,
        headers,
        body: route.body === undefined ? undefined : JSON.stringify(route.body),
        signal: controller.signal,
      });
      // The event stream never ends by itself; the status and headers are all these tests need.
      if (route.path === "/api/events" && response.status === 200) controller.abort();
      return response;
    }

    it("refuses a foreign Origin on every route with a JSON 403 and changes nothing", async () => {
      for (const route of routes()) {
        const reply = await send(route, FOREIGN);
        expect(reply.status, `${route.method} ${route.path}`).toBe(403);
        const body = (await reply.json()) as ErrorJson;
        expect(body.error.code).toBe("forbidden_origin");
        expect(body.error.message).toContain("--allow-origin");
      }
      const runs = (await (await fetch(`${server.url}/api/experiments`)).json()) as ExperimentJson[];
      expect(runs[0].run_count).toBe(1);
      const run = (await (await fetch(`${server.url}/api/runs/${runId}`)).json()) as RunJson;
      expect(run.notes).toBeNull();
    });

    it("refuses the opaque origin of sandboxed and file pages", async () => {
      expect((await send({ method: "GET", path: "/api/experiments" }, "null")).status).toBe(403);
    });

    it("answers its own origin, allow-listed origins and requests without Origin", async () => {
      const reads = routes().filter((r) => r.method === "GET");
      for (const origin of [server.url, ALLOWED, undefined]) {
        for (const route of reads) {
          const reply = await send(route, origin);
          expect(reply.status, `${route.path} from ${origin}`).toBe(200);
        }
      }
      const patched = await send({ method: "PATCH", path: `/api/runs/${runId}`, body: { notes: "mine" } }, server.url);
      expect(patched.status).toBe(200);
    });

    it("sends nosniff on API answers and errors", async () => {
      for (const path of ["/api/experiments", "/api/nothing"]) {
        expect((await fetch(server.url + path)).headers.get("x-content-type-options")).toBe("nosniff");
      }
      const refused = await send({ method: "GET", path: "/api/experiments" }, FOREIGN);
      expect(refused.headers.get("x-content-type-options")).toBe("nosniff");
    });

    it("refuses an allow-list entry that is not an origin", async () => {
      await expect(
        startServer({ dbPath: backend.newTarget(), port: 0, allowOrigins: ["localhost:5173"] }),
      ).rejects.toThrow(/not an origin/);
    });
  });

  describe("Content-Security-Policy", () => {
    const built = existsSync(join(ROOT, "ui", "dist", "index.html"));

    it("is strict and lets the built dashboard run with no violation in Chromium", async () => {
      expect(built, "run npm run build first").toBe(true);
      const dbPath = backend.newTarget();
      populateRuns(dbPath, [{ name: "alpha", metrics: { loss: [3, 2, 1] } }]);
      const server = await startServer({ dbPath, host: "127.0.0.1", port: 0 });
      const browser = await launchBrowser();
      try {
        const policy = (await fetch(`${server.url}/`)).headers.get("content-security-policy") ?? "";
        expect(policy).toContain("default-src 'self'");
        // Two inline scripts: the theme, and the first reads started while the bundle downloads.
        expect(policy).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+' 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
        expect(policy).not.toContain("unsafe-inline");
        expect(policy).not.toContain("unsafe-eval");
        expect(policy).toContain("frame-ancestors 'none'");

        const { context, page, errors } = await newPage(browser);
        const violations: string[] = [];
        page.on("console", (message) => {
          if (/Content.Security.Policy/i.test(message.text())) violations.push(message.text());
        });
        await page.addInitScript(`document.addEventListener("securitypolicyviolation", (event) =>
        console.error("Content Security Policy violation: " + event.violatedDirective + " " + event.blockedURI));`);
        await page.goto(`${server.url}/`);
        await page.getByText("alpha").first().waitFor();
        // The inline theme script ran: its hash is in the policy.
        expect(await page.evaluate("document.documentElement.dataset.theme")).toMatch(/^(light|dark)$/);
        // So did the early reads' script: with no experiment in the link, the two lists only.
        expect(await page.evaluate("Object.keys(window.__stonksEarly).sort()")).toEqual([
          "/api/experiments",
          "/api/projects",
        ]);
        expect(violations).toEqual([]);
        expect(errors).toEqual([]);
        await context.close();
      } finally {
        await browser.close();
        await server.close();
      }
    });
  });
});
