/** What the CLI commands share: opening the database, finding runs, asking before deleting, writing output. */
import { existsSync, statSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import type { Writable } from "node:stream";
import { StonksError } from "../errors.js";
import type { RunView } from "../query/run-filter.js";
import type { StonksService } from "../query/service.js";

/** A mistake in what the user asked for: printed as one line, exit status 1. */
export class CliError extends StonksError {}

/** --db: the database file (open() applies --db > STONKS_DB > ./stonks.db). */
export interface DbOption {
  db?: string;
}

/** Size of a file in bytes; 0 when it does not exist (a write-ahead log after a checkpoint). */
export function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

/** A run by full id or by an unambiguous id prefix (at least 4 characters). */
export function findRun(db: StonksService, text: string): RunView | null {
  const exact = db.runView(text);
  if (exact !== null || text.length < 4) return exact;
  const matches = db.runIdsWithPrefix(text, 6);
  if (matches.length > 1) {
    throw new CliError(`"${text}" matches several runs (${matches.slice(0, 5).join(", ")}…); type more of the id.`);
  }
  return matches.length === 1 ? db.runView(matches[0]) : null;
}

/**
 * Asks a yes/no question on the terminal. Without a terminal (a script, a
 * pipe) nobody can answer, so the command refuses instead of guessing.
 */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new CliError("Refusing to delete without confirmation: no terminal to ask on. Pass -f to delete anyway.");
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}

/** Writes text pieces to a stream, waiting whenever its buffer is full. */
export async function writeAll(stream: Writable, pieces: Iterable<string>): Promise<void> {
  for (const piece of pieces) {
    if (!stream.write(piece)) {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        stream.once("error", onError);
        stream.once("drain", () => {
          stream.off("error", onError);
          resolve();
        });
      });
    }
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function parseIntegerOption(name: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new CliError(`${name} must be a whole number from ${min} to ${max}; got "${text}".`);
  }
  return Number(text);
}
