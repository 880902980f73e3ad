/** API tokens (schema version 5): rows of the tokens table; secrets never reach the file, only their hashes. */
import { type Db, runImmediate, stmt } from "./connection.js";

export type TokenRole = "read" | "write" | "admin";

export interface TokenRow {
  id: number;
  name: string;
  role: TokenRole;
  hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

const COLUMNS = "id, name, role, hash, created_at, last_used_at, revoked_at";

/** Adds a token; its name defaults to `<role>-<id>`. Returns the stored row. */
export function insertToken(db: Db, role: TokenRole, name: string | null, hash: string, now: number): TokenRow {
  return runImmediate(db, () => {
    const id = stmt(
      db,
      "INSERT INTO tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?) RETURNING id",
      "values",
    ).get(
      // A placeholder no one can type (names never hold a newline), replaced by <role>-<id> below.
      name ?? `\n${hash}`,
      role,
      hash,
      now,
    ) as number;
    if (name === null) stmt(db, "UPDATE tokens SET name = ? WHERE id = ?").run(`${role}-${id}`, id);
    return stmt(db, `SELECT ${COLUMNS} FROM tokens WHERE id = ?`).get(id) as TokenRow;
  });
}

export function tokenNameTaken(db: Db, name: string): boolean {
  return stmt(db, "SELECT 1 AS found FROM tokens WHERE name = ?").get(name) !== undefined;
}

/** Every token, revoked ones included, oldest first. */
export function listTokens(db: Db): TokenRow[] {
  return stmt(db, `SELECT ${COLUMNS} FROM tokens ORDER BY id`).all() as TokenRow[];
}

/** Tokens that still open the server. */
export function activeTokens(db: Db): TokenRow[] {
  return stmt(db, `SELECT ${COLUMNS} FROM tokens WHERE revoked_at IS NULL ORDER BY id`).all() as TokenRow[];
}

/** Whether the file holds any token at all (revoking the last one does not open the server). */
export function anyToken(db: Db): boolean {
  return stmt(db, "SELECT 1 AS found FROM tokens LIMIT 1").get() !== undefined;
}

/** The token with this id (digits) or else this name. */
export function findToken(db: Db, idOrName: string): TokenRow | null {
  const byId = /^\d{1,15}$/.test(idOrName)
    ? (stmt(db, `SELECT ${COLUMNS} FROM tokens WHERE id = ?`).get(Number(idOrName)) as TokenRow | undefined)
    : undefined;
  return (
    byId ?? (stmt(db, `SELECT ${COLUMNS} FROM tokens WHERE name = ?`).get(idOrName) as TokenRow | undefined) ?? null
  );
}

export function revokeToken(db: Db, id: number, now: number): void {
  runImmediate(db, () => {
    stmt(db, "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(now, id);
  });
}

export function touchToken(db: Db, id: number, now: number): void {
  runImmediate(db, () => {
    stmt(db, "UPDATE tokens SET last_used_at = ? WHERE id = ?").run(now, id);
  });
}
