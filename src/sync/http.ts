/**
 * A small JSON client for the stonks server, on node:http and node:https (no
 * extra package on Node 20 to 24): keep-alive, a connect timeout of 5 s, a
 * request timeout of 30 s, and STONKS_CA_FILE as the trusted certificate for
 * https:// servers with a self-signed certificate.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { ErrorJson } from "../contract/wire.js";

export const CONNECT_TIMEOUT_MS = 5_000;
/** 30 s, or STONKS_HTTP_TIMEOUT seconds. */
export const REQUEST_TIMEOUT_MS =
  Number(process.env.STONKS_HTTP_TIMEOUT) > 0 ? Number(process.env.STONKS_HTTP_TIMEOUT) * 1000 : 30_000;

/** The server could not be reached or did not answer in time: the request may be sent again. */
export class ServerUnreachable extends Error {
  override name = "ServerUnreachable";
}

/** The server answered with an error status. */
export class ServerRefused extends Error {
  override name = "ServerRefused";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ServerAnswer<T> {
  status: number;
  body: T | null;
}

export interface ServerClientOptions {
  token?: string | null;
  /** PEM file of the certificate authority to trust (default: STONKS_CA_FILE, else the system store). */
  caFile?: string | null;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export class ServerClient {
  readonly url: string;
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly token: string | null;
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;

  constructor(url: string, options: ServerClientOptions = {}) {
    this.url = url.replace(/\/+$/, "");
    this.base = new URL(`${this.url}/`);
    this.token = options.token ?? null;
    this.connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    const caFile = options.caFile ?? process.env.STONKS_CA_FILE ?? null;
    if (this.base.protocol === "https:") {
      const ca = caFile !== null && caFile !== "" ? readFileSync(caFile) : undefined;
      this.agent = new https.Agent({ keepAlive: true, maxSockets: 4, ca });
    } else {
      this.agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    }
  }

  /** Sends a JSON request; resolves with the status and the parsed answer, rejects with ServerUnreachable or ServerRefused. */
  request<T>(method: string, path: string, body?: unknown): Promise<ServerAnswer<T>> {
    const target = new URL(path.replace(/^\//, ""), this.base);
    const payload = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: "application/json" };
    if (payload !== null) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(payload.length);
    }
    if (this.token !== null) headers.authorization = `Bearer ${this.token}`;
    const send = target.protocol === "https:" ? https.request : http.request;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(overall);
        reject(error);
      };
      const request = send(target, { method, headers, agent: this.agent }, (response) => {
        const parts: Buffer[] = [];
        response.on("data", (part: Buffer) => parts.push(part));
        response.on("error", (error) => fail(new ServerUnreachable(error.message)));
        response.on("end", () => {
          if (settled) return;
          settled = true;
          clearTimeout(overall);
          const status = response.statusCode ?? 0;
          const text = Buffer.concat(parts).toString("utf8");
          let parsed: unknown = null;
          try {
            parsed = text === "" ? null : JSON.parse(text);
          } catch {
            parsed = null;
          }
          if (status >= 200 && status < 300) {
            resolve({ status, body: parsed as T | null });
            return;
          }
          const error = (parsed as ErrorJson | null)?.error;
          const message = error?.message ?? (text.slice(0, 200) || `HTTP ${status}`);
          // A proxy or a server starting up answers 502/503/504: the server is not there yet.
          if (status >= 500) reject(new ServerUnreachable(`HTTP ${status}: ${message}`));
          else reject(new ServerRefused(status, error?.code ?? `http_${status}`, message));
        });
      });
      const overall = setTimeout(
        () => request.destroy(new ServerUnreachable(`no answer within ${this.requestTimeoutMs / 1000} s`)),
        this.requestTimeoutMs,
      );
      request.on("socket", (socket) => {
        if (!socket.connecting) return;
        const connectTimer = setTimeout(
          () => request.destroy(new ServerUnreachable(`could not connect within ${this.connectTimeoutMs / 1000} s`)),
          this.connectTimeoutMs,
        );
        socket.once("connect", () => clearTimeout(connectTimer));
        socket.once("close", () => clearTimeout(connectTimer));
      });
      request.on("error", (error: NodeJS.ErrnoException) => {
        fail(error instanceof ServerUnreachable ? error : new ServerUnreachable(error.code ?? error.message));
      });
      request.end(payload ?? undefined);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
