/** Starts the stonks HTTP server; shared by `stonks serve`, the tests and the benchmarks. */
import type { Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { StonksError } from "../errors.js";
import { openService } from "../query/service.js";
import { logger } from "../util/logger.js";
import { createApp } from "./app.js";
import { EventHub } from "./events.js";
import { DEFAULT_HEAVY_READ_LIMITS, type HeavyReadLimits } from "./heavy-reads.js";
import { StaticFiles } from "./static.js";

export interface ServerOptions {
  dbPath: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
  /** An admin token; when set (or the file holds tokens), every /api route needs a token. */
  token?: string | null;
  /** The built dashboard; default ui/dist of the package. */
  uiDir?: string;
  /** How often the live-event poller checks the file for changes. Default 150 ms. */
  pollIntervalMs?: number;
  /** Most event streams open at once. Default 64. */
  maxEventStreams?: number;
  /** How often an idle event stream gets a keep-alive comment. Default 15 s. */
  eventKeepAliveMs?: number;
  /** Seconds without a heartbeat after which a running run is stale. Default 60. */
  staleAfterSeconds?: number;
  /** Origins (e.g. http://localhost:5173) whose pages may call the server besides its own. */
  allowOrigins?: readonly string[];
  /** Limits on point reads; see HeavyReadLimits. */
  heavyReads?: Partial<HeavyReadLimits>;
  /** Serve HTTPS with this certificate (PEM, chain included) and key instead of HTTP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** With a PostgreSQL dbPath: connections this process opens at most (default STONKS_PG_POOL, else 4). */
  pgPoolSize?: number;
}

/** An origin as browsers send it in the Origin header: scheme://host[:port], lower case. */
export function normalizeOrigin(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new StonksError(`"${text}" is not an origin; write it as scheme://host:port, e.g. http://localhost:5173.`);
  }
  if (url.origin === "null") {
    throw new StonksError(`"${text}" is not an origin; write it as scheme://host:port, e.g. http://localhost:5173.`);
  }
  return url.origin.toLowerCase();
}

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8000 (https:// with tls) */
  url: string;
  host: string;
  port: number;
  dbPath: string;
  /** Whether the file held tokens when the server started (then every request needs one). */
  fileHasTokens: boolean;
  /** Ends event streams, stops listening and closes the database. */
  close(): Promise<void>;
}

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1", "[::1]"];

function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.includes(host.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(host);
}

function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const token = options.token === undefined || options.token === "" ? null : options.token;
  const port = options.port ?? 8000;
  const allowedOrigins = new Set((options.allowOrigins ?? []).map(normalizeOrigin));
  // A fresh user serving a file that does not exist yet sees the empty dashboard.
  const db = openService(options.dbPath, {
    create: true,
    staleAfterSeconds: options.staleAfterSeconds,
    pgPoolSize: options.pgPoolSize,
  });
  db.enlargePageCache(64);
  const events = new EventHub({
    dbPath: options.dbPath,
    pollIntervalMs: options.pollIntervalMs,
    maxClients: options.maxEventStreams,
    keepAliveMs: options.eventKeepAliveMs,
    staleAfterSeconds: options.staleAfterSeconds,
  });
  const loopback = isLoopback(host);
  if (!loopback && token === null && !db.tokens().required()) {
    logger.warn(
      `serving on ${host} without a token: anyone who can reach this machine can read and delete your runs. Make tokens with \`stonks token create\`, or set --token or STONKS_TOKEN.`,
    );
  }
  const app = createApp({
    db,
    events,
    dashboard: new StaticFiles(options.uiDir),
    token,
    allowedHosts: loopback ? new Set([...LOOPBACK_NAMES, host.toLowerCase(), urlHost(host).toLowerCase()]) : null,
    allowedOrigins,
    heavyReads: { ...DEFAULT_HEAVY_READ_LIMITS, ...options.heavyReads },
  });

  let server: ReturnType<typeof serve>;
  try {
    server =
      options.tls === undefined
        ? serve({ fetch: app.fetch, hostname: host, port })
        : serve({
            fetch: app.fetch,
            hostname: host,
            port,
            createServer: createHttpsServer,
            serverOptions: { cert: options.tls.cert, key: options.tls.key },
          });
  } catch (error) {
    // node:https checks the certificate and key when the server is made.
    db.close();
    throw new StonksError(`Cannot serve HTTPS with this certificate and key: ${(error as Error).message}`);
  }
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
  } catch (error) {
    db.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") {
      throw new StonksError(`Port ${port} on ${host} is in use; choose another with --port.`);
    }
    throw new StonksError(`Cannot listen on ${host}:${port}: ${(error as Error).message}`);
  }
  const listeningPort = (server.address() as AddressInfo).port;

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      events.close();
      // Keep-alive sockets (event streams end just now) would hold close() open: close each once idle,
      // and after a grace period close whatever is still busy.
      const http = server as Server;
      const sweep = setInterval(() => http.closeIdleConnections(), 25);
      const deadline = setTimeout(() => http.closeAllConnections(), 2000);
      server.close(() => {
        clearInterval(sweep);
        clearTimeout(deadline);
        db.close();
        resolve();
      });
      http.closeIdleConnections();
    });
    return closing;
  };
  const scheme = options.tls === undefined ? "http" : "https";
  return {
    fileHasTokens: db.tokens().required(),
    url: `${scheme}://${urlHost(host)}:${listeningPort}`,
    host,
    port: listeningPort,
    dbPath: options.dbPath,
    close,
  };
}
