import { execFile } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { ProvenanceFields } from "./protocol.js";

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

export const SDK_VERSION = packageVersion();

export function processProvenance(): ProvenanceFields {
  return {
    host: hostname(),
    pid: process.pid,
    command: [process.argv0, ...process.argv.slice(1)].join(" "),
    cwd: process.cwd(),
    sdkVersion: SDK_VERSION,
  };
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}

/** The .git directory of the repository containing cwd (worktrees and submodules included), or null. */
function findGitDir(cwd: string): string | null {
  let dir = resolve(cwd);
  for (;;) {
    const candidate = join(dir, ".git");
    if (existsSync(candidate)) {
      if (statSync(candidate).isDirectory()) return candidate;
      const pointer = readText(candidate);
      const match = pointer?.match(/^gitdir:\s*(.+)$/m);
      return match ? resolve(dir, match[1]) : null;
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * The checked-out commit, read from the repository's files: no git process,
 * so starting a run stays fast.
 */
export function readGitCommit(cwd: string = process.cwd()): string | null {
  const gitDir = findGitDir(cwd);
  if (gitDir === null) return null;
  const head = readText(join(gitDir, "HEAD"));
  if (head === null) return null;
  const ref = head.match(/^ref:\s*(.+)$/);
  if (!ref) return /^[0-9a-f]{40,64}$/.test(head) ? head : null;
  const commonDir = resolve(gitDir, readText(join(gitDir, "commondir")) ?? ".");
  for (const base of [gitDir, commonDir]) {
    const loose = readText(join(base, ref[1]));
    if (loose !== null) return loose;
  }
  const packed = readText(join(commonDir, "packed-refs"));
  const line = packed?.split("\n").find((l) => l.endsWith(` ${ref[1]}`));
  return line ? line.split(" ")[0] : null;
}

/** Whether tracked files differ from the commit; null outside a repository or without git. */
export function gitDirty(): Promise<boolean | null> {
  return new Promise((done) => {
    const child = execFile(
      "git",
      ["status", "--porcelain", "--untracked-files=no"],
      { timeout: 3000, windowsHide: true },
      (error, stdout) => done(error ? null : stdout.trim().length > 0),
    );
    child.unref();
    child.on("error", () => done(null));
  });
}
