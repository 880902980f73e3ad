/** Requests from PgDb (driver.ts) to its thread (worker.ts), and the answers. */
export type PgRequest =
  | { op: "open"; session: number; url: string; poolSize: number; readonly: boolean; connectTimeoutMs: number }
  | { op: "query"; session: number; sql: string; params: unknown[] | undefined; arrays: boolean; prepare: boolean }
  | { op: "begin"; session: number; sql: string }
  | { op: "end"; session: number; commit: boolean }
  | { op: "close"; session: number };

export type PgReply =
  | { ok: true; rows?: unknown[]; rowCount?: number }
  | {
      ok: false;
      message: string;
      code: string | null;
      detail: string | null;
      /** No connection could be had: PostgreSQL refused, did not answer, or is starting up or shutting down. */
      unreachable: boolean;
    };
