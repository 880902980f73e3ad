// Remote logging over HTTPS with a self-signed certificate (STONKS_CA_FILE) and with tokens of the server:
// a write token logs, a read token is refused with one warning (SDK) or one line (stonks sync).
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunJson } from "../src/contract/wire.js";
import { killFixtures, selfSignedCert, startFixture, tempDir } from "./support/helpers.js";
import { CLI, freePort, killStarted, runCli, startServerProcess } from "./support/remote.js";

afterEach(() => {
  killFixtures();
  killStarted();
});

let dir: string;
let serverDb: string;
let writeToken: string;
let readToken: string;

function createToken(role: string): string {
  return execFileSync(process.execPath, [CLI, "token", "create", "--role", role, "--db", serverDb], {
    encoding: "utf8",
  }).trim();
}

beforeAll(() => {
  dir = tempDir();
  serverDb = join(dir, "server.db");
  selfSignedCert(dir);
  writeToken = createToken("write");
  readToken = createToken("read");
});

const tls = () => ["--tls-cert", join(dir, "cert.pem"), "--tls-key", join(dir, "key.pem")];

/** GET over HTTPS trusting the test's certificate, with the read token. */
function readOverTls(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      url,
      { ca: readFileSync(join(dir, "cert.pem")), headers: { authorization: `Bearer ${readToken}` } },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          body += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on("error", reject);
  });
}

describe("remote logging over HTTPS with tokens", () => {
  it("logs to an https server whose certificate STONKS_CA_FILE trusts, with a write token", async () => {
    const server = await startServerProcess(serverDb, await freePort(), tls());
    expect(server.url).toMatch(/^https:/);
    const result = await startFixture("remote-logger.mjs", {
      DB: server.url,
      STONKS_TOKEN: writeToken,
      STONKS_CA_FILE: join(dir, "cert.pem"),
      STONKS_SPOOL_DIR: join(dir, "spool-ok"),
      STEPS: "500",
    }).done;
    expect(result.stderr).toBe("");
    const runId = result.stdout.match(/done (\S+)/)![1];
    const answer = await readOverTls(`${server.url}/api/runs/${runId}`);
    expect(answer.status).toBe(200);
    const run = JSON.parse(answer.body) as RunJson;
    expect(run.status).toBe("completed");
    expect(run.summary.loss?.count).toBe(500);
  });

  it("without the certificate trusted, or with a read token, keeps the points and says why once", async () => {
    const server = await startServerProcess(serverDb, await freePort(), tls());
    const untrusted = await startFixture("remote-logger.mjs", {
      DB: server.url,
      STONKS_TOKEN: writeToken,
      STONKS_SPOOL_DIR: join(dir, "spool-untrusted"),
      STEPS: "50",
    }).done;
    expect(untrusted.stderr.match(/unreachable \(DEPTH_ZERO_SELF_SIGNED_CERT\)/g)).toHaveLength(1);
    expect(untrusted.stderr).toMatch(/kept in .*spool-untrusted/);

    const reader = await startFixture("remote-logger.mjs", {
      DB: server.url,
      STONKS_TOKEN: readToken,
      STONKS_CA_FILE: join(dir, "cert.pem"),
      STONKS_SPOOL_DIR: join(dir, "spool-read"),
      STEPS: "50",
    }).done;
    expect(reader.stderr.match(/refused the points \(403 forbidden: .*needs role write\)/g)).toHaveLength(1);
    const readerId = reader.stdout.match(/done (\S+)/)![1];
    expect((await readOverTls(`${server.url}/api/runs/${readerId}`)).status).toBe(404);

    // The spool the read token could not send goes up with a write token.
    const spoolFile = join(dir, "spool-read", readdirSync(join(dir, "spool-read")).find((f) => f.endsWith(".db"))!);
    const refused = await runCli(["sync", spoolFile, server.url, "--token", readToken], {
      STONKS_CA_FILE: join(dir, "cert.pem"),
    }).done;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^stonks: .* refused the upload \(403 forbidden: .*\)\. Pass a token with write access: --token T\.\n$/,
    );
    const synced = await runCli(["sync", spoolFile, server.url, "--token", writeToken], {
      STONKS_CA_FILE: join(dir, "cert.pem"),
    }).done;
    expect(synced.stdout).toBe("1 runs, 100 points sent, 0 already there\n");
    const run = JSON.parse((await readOverTls(`${server.url}/api/runs/${readerId}`)).body) as RunJson;
    expect(run.summary.acc?.count).toBe(50);
  });
});
