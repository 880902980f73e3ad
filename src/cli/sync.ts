/**
 * `stonks sync FILE URL`: sends every run of a local stonks file to a server,
 * only what the server lacks, and never changes the file. With --watch it
 * keeps sending as the file grows (a run still logging on an offline node,
 * the file copied or mounted where the network is), until Ctrl-C.
 */
import { existsSync } from "node:fs";
import { ServerClient, ServerRefused, ServerUnreachable } from "../sync/http.js";
import { Shipper, type ShipReport } from "../sync/shipper.js";
import { isRemoteUrl } from "../util/db-path.js";
import { CliError } from "./common.js";

export interface SyncOptions {
  token?: string;
  watch?: boolean;
}

const WATCH_POLL_MS = 1_000;
const MAX_RETRY_MS = 30_000;

function summary(report: ShipReport): string {
  return `${report.runs} runs, ${report.pointsSent} points sent, ${report.pointsAlreadyThere} already there`;
}

function failureLine(url: string, error: unknown): string {
  if (error instanceof ServerUnreachable) return `cannot reach ${url} (${error.message}); is the server running?`;
  if (error instanceof ServerRefused) {
    const hint = error.status === 401 || error.status === 403 ? " Pass a token with write access: --token T." : "";
    return `${url} refused the upload (${error.status} ${error.code}: ${error.message}).${hint}`;
  }
  return (error as Error).message;
}

export async function syncCommand(file: string, url: string, options: SyncOptions): Promise<void> {
  if (!isRemoteUrl(url)) throw new CliError(`URL must start with http:// or https://; got "${url}".`);
  if (!existsSync(file)) throw new CliError(`No stonks database at ${file}.`);
  const token = options.token ?? process.env.STONKS_TOKEN ?? null;
  const server = new ServerClient(url, { token: token === "" ? null : token });
  const shipper = new Shipper(file, server, { deleteAcknowledged: false, readonly: true });
  try {
    if (!options.watch) {
      const report = await shipper.ship();
      if (report.failure !== null) throw new CliError(failureLine(server.url, report.failure));
      process.stdout.write(`${summary(report)}\n`);
      return;
    }
    await watch(shipper);
  } finally {
    shipper.close();
  }
}

/** Ships, then ships again whenever the file changed, until SIGINT or SIGTERM. */
async function watch(shipper: Shipper): Promise<void> {
  let stopping = false;
  let wake: (() => void) | null = null;
  const stop = () => {
    // A second Ctrl-C does not wait for the request under way.
    if (stopping) process.exit(130);
    stopping = true;
    wake?.();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const total: ShipReport = {
    runs: 0,
    pointsSent: 0,
    pointsAlreadyThere: 0,
    unsent: 0,
    deleted: 0,
    failure: null,
  };
  let firstPass = true;
  let seenVersion = Number.NaN;
  let retryMs = WATCH_POLL_MS;
  let failing = false;
  try {
    while (!stopping) {
      const version = shipper.fileVersion();
      if (version !== seenVersion || failing) {
        const report = await shipper.ship();
        total.pointsSent += report.pointsSent;
        total.pointsAlreadyThere += report.pointsAlreadyThere;
        total.runs = report.runs;
        if (report.failure !== null) {
          if (!failing) process.stderr.write(`stonks: ${failureLine(shipper.server.url, report.failure)} Retrying.\n`);
          failing = true;
          await sleep(retryMs);
          retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
          continue;
        }
        seenVersion = version;
        if (firstPass || report.pointsSent > 0 || failing) process.stdout.write(`${summary(report)}\n`);
        firstPass = false;
        failing = false;
        retryMs = WATCH_POLL_MS;
      }
      await sleep(WATCH_POLL_MS);
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
  process.stdout.write(`stopped: ${summary(total)}\n`);
}
