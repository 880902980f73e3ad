/** `stonks token create|list|revoke`: the API tokens a server checks (docs/rest-api.md, "Tokens and roles"). */
import type { TokenRole } from "../contract/auth.js";
import { openService } from "../query/service.js";
import type { TokenInfo } from "../query/tokens.js";
import { resolveDbPath } from "../util/db-path.js";
import { CliError, type DbOption, printJson } from "./common.js";
import { formatTable, formatTime } from "./format.js";

function tokenJson(token: TokenInfo) {
  return {
    id: token.id,
    name: token.name,
    role: token.role,
    created_at: token.createdAt,
    last_used_at: token.lastUsedAt,
    revoked_at: token.revokedAt,
  };
}

/**
 * Prints the secret alone on stdout (so `TOKEN=$(stonks token create …)`
 * works) and what it is on stderr: the file keeps only its hash.
 */
export function createTokenCommand(options: DbOption & { role: TokenRole; name?: string }): void {
  const db = openService(resolveDbPath(options.db), { create: true });
  try {
    const { token, secret } = db.tokens().create(options.role, options.name ?? null);
    process.stdout.write(`${secret}\n`);
    process.stderr.write(
      `Created token ${token.id} "${token.name}" with role ${token.role} in ${db.path}. The secret above is shown only now; a server on this file now needs a token on every request.\n`,
    );
  } finally {
    db.close();
  }
}

export function listTokensCommand(options: DbOption & { json?: boolean }): void {
  const db = openService(resolveDbPath(options.db));
  try {
    const tokens = db.tokens().list();
    if (options.json) {
      printJson(tokens.map(tokenJson));
      return;
    }
    if (tokens.length === 0) {
      process.stdout.write(`No tokens in ${db.path}. Make one with \`stonks token create --role read|write|admin\`.\n`);
      return;
    }
    process.stdout.write(
      `${formatTable(tokens, [
        { header: "ID", value: (t) => String(t.id), right: true },
        { header: "NAME", value: (t) => t.name, max: 40 },
        { header: "ROLE", value: (t) => t.role },
        { header: "CREATED", value: (t) => formatTime(t.createdAt) },
        { header: "LAST USED", value: (t) => formatTime(t.lastUsedAt) },
        { header: "REVOKED", value: (t) => formatTime(t.revokedAt) },
      ])}\n`,
    );
  } finally {
    db.close();
  }
}

export function revokeTokenCommand(idOrName: string, options: DbOption): void {
  const db = openService(resolveDbPath(options.db));
  try {
    const token = db.tokens().revoke(idOrName);
    if (token === null) {
      throw new CliError(`No token with id or name "${idOrName}" in ${db.path}; see them with \`stonks token list\`.`);
    }
    process.stdout.write(`Revoked token ${token.id} "${token.name}" (role ${token.role}).\n`);
  } finally {
    db.close();
  }
}
