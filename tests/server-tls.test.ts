// `stonks serve --tls-cert --tls-key`: HTTPS with a self-signed certificate made here with openssl,
// read and written over TLS by a client that trusts only that certificate.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunUpsertReply } from "../src/contract/ingest.js";
import type { InfoJson } from "../src/contract/wire.js";
import { UNKNOWN_PROVENANCE } from "../src/types.js";
import { selfSignedCert, stonks, tempDb, tempDir } from "./support/helpers.js";
import { type ServeProcess, startServeProcess } from "./support/server-support.js";

interface Reply {
  status: number;
  body: string;
}

function httpsCall(url: string, ca: Buffer | undefined, method = "GET", body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, ca, headers: body === undefined ? {} : { "Content-Type": "application/json" } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("stonks serve over HTTPS", () => {
  let dir: string;
  let server: ServeProcess;
  let ca: Buffer;

  beforeAll(async () => {
    dir = tempDir();
    selfSignedCert(dir);
    ca = readFileSync(join(dir, "cert.pem"));
    server = await startServeProcess([
      "--db",
      tempDb(),
      "--tls-cert",
      join(dir, "cert.pem"),
      "--tls-key",
      join(dir, "key.pem"),
    ]);
  });

  afterAll(async () => {
    await server.stop();
  });

  it("prints an https URL and answers reads and writes to a client that trusts the certificate", async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const info = await httpsCall(`${server.url}/api/info`, ca);
    expect(info.status).toBe(200);
    expect((JSON.parse(info.body) as InfoJson).db).toMatch(/stonks\.db$/);
    const put = await httpsCall(
      `${server.url}/api/runs/tls-run`,
      ca,
      "PUT",
      JSON.stringify({
        experiment: "tls",
        project: null,
        name: null,
        config: {},
        tags: [],
        group: null,
        jobType: null,
        notes: null,
        color: null,
        createdAt: 1_765_000_000,
        provenance: { ...UNKNOWN_PROVENANCE },
        status: "running",
        endedAt: null,
        lastHeartbeat: null,
      }),
    );
    expect([put.status, JSON.parse(put.body) as RunUpsertReply]).toEqual([201, { id: "tls-run", series: {} }]);
  });

  it("is refused by a client that does not trust the certificate", async () => {
    await expect(httpsCall(`${server.url}/api/info`, undefined)).rejects.toThrow(/self[- ]signed/i);
  });

  it("refuses to start with one file of the pair, or with files that are no certificate", async () => {
    const half = await stonks(["serve", "--port", "0", "--db", tempDb(), "--tls-cert", join(dir, "cert.pem")]);
    expect([half.code, half.stderr.trim()]).toEqual([
      1,
      "stonks: HTTPS needs both --tls-cert FILE and --tls-key FILE.",
    ]);
    const swapped = await stonks([
      "serve",
      "--port",
      "0",
      "--db",
      tempDb(),
      "--tls-cert",
      join(dir, "key.pem"),
      "--tls-key",
      join(dir, "key.pem"),
    ]);
    expect(swapped.code).toBe(1);
    expect(swapped.stderr).toMatch(/^stonks: Cannot serve HTTPS with this certificate and key: /);
    const missing = await stonks([
      "serve",
      "--port",
      "0",
      "--db",
      tempDb(),
      "--tls-cert",
      join(dir, "nope.pem"),
      "--tls-key",
      join(dir, "key.pem"),
    ]);
    expect([missing.code, missing.stderr]).toEqual([
      1,
      expect.stringMatching(/Cannot read --tls-cert .*nope\.pem: ENOENT/),
    ]);
  });
});
