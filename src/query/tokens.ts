/**
 * API tokens as the server and `stonks token` use them: a secret is shown once
 * when made and only its SHA-256 is stored; a secret is checked against every
 * active hash in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { TokenRole } from "../contract/auth.js";
import { StonksError } from "../errors.js";
import type { Db } from "../store/connection.js";
import {
  activeTokens,
  anyToken,
  findToken,
  insertToken,
  listTokens,
  revokeToken,
  type TokenRow,
  tokenNameTaken,
  touchToken,
} from "../store/tokens.js";

export interface TokenInfo {
  id: number;
  name: string;
  role: TokenRole;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** Longest token name. */
export const MAX_TOKEN_NAME = 100;
/** A token's last use is written at most this often, so a busy sender does not write on every request. */
const TOUCH_EVERY_S = 60;

function toInfo(row: TokenRow): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

function now(): number {
  return Date.now() / 1000;
}

export class Tokens {
  private readonly touched = new Map<number, number>();

  constructor(private readonly db: Db) {}

  /** Makes a token; the secret is returned here and never again. */
  create(role: TokenRole, name: string | null): { token: TokenInfo; secret: string } {
    if (name !== null) {
      if (name.trim() !== name || name.length === 0 || name.length > MAX_TOKEN_NAME || /^\d+$/.test(name)) {
        throw new StonksError(
          `A token name is 1 to ${MAX_TOKEN_NAME} characters, not only digits (those are ids), without spaces around it.`,
        );
      }
      if (tokenNameTaken(this.db, name)) {
        throw new StonksError(`A token named "${name}" exists already; choose another --name.`);
      }
    }
    const secret = `stk_${randomBytes(24).toString("base64url")}`;
    return { token: toInfo(insertToken(this.db, role, name, hashSecret(secret), now())), secret };
  }

  list(): TokenInfo[] {
    return listTokens(this.db).map(toInfo);
  }

  /** Revokes the token with this id or name; null when there is none. Revoking twice keeps the first time. */
  revoke(idOrName: string): TokenInfo | null {
    const row = findToken(this.db, idOrName);
    if (row === null) return null;
    revokeToken(this.db, row.id, now());
    return toInfo(findToken(this.db, String(row.id)) as TokenRow);
  }

  /** Whether the file holds any token (revoked ones count): then every request needs one. */
  required(): boolean {
    return anyToken(this.db);
  }

  /** The active token whose secret this is, or null. */
  authenticate(secret: string): TokenInfo | null {
    const given = Buffer.from(hashSecret(secret), "hex");
    let found: TokenRow | null = null;
    // Every hash is compared, the match or not, so the time says nothing about which one matched.
    for (const row of activeTokens(this.db)) {
      if (timingSafeEqual(given, Buffer.from(row.hash, "hex")) && found === null) found = row;
    }
    if (found === null) return null;
    const at = now();
    if (at - (this.touched.get(found.id) ?? 0) >= TOUCH_EVERY_S) {
      this.touched.set(found.id, at);
      touchToken(this.db, found.id, at);
    }
    return toInfo(found);
  }
}
