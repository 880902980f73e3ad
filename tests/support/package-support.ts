/**
 * Shared by the package tests: the README's tested code blocks, a PATH with no
 * Node.js on it, and child processes run to completion.
 */
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { delimiter, join } from "node:path";
import { ROOT, tempDir } from "./helpers.js";

/** The README's fenced blocks marked "test:<name>" (```sh test:wheel-install), by name. */
export function readmeBlocks(): Map<string, { lang: string; code: string }> {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const blocks = new Map<string, { lang: string; code: string }>();
  for (const match of readme.matchAll(/^```(\w+) test:([\w-]+)\n([\s\S]*?)^```$/gm)) {
    blocks.set(match[2], { lang: match[1], code: match[3] });
  }
  return blocks;
}

export function readmeBlock(name: string): string {
  const block = readmeBlocks().get(name);
  if (block === undefined) throw new Error(`README.md has no block marked test:${name}`);
  return block.code;
}

/** The command lines of a shell block, without comments or blank lines. */
export function commandLines(name: string): string[] {
  return readmeBlock(name)
    .split("\n")
    .map((line) => line.replace(/\s+#.*$/, "").trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** Commands that come with Node.js; none of them may be on a "no Node.js" PATH. */
const NODE_COMMANDS = new Set(["node", "nodejs", "npm", "npx", "corepack"]);

function hasNode(dir: string): boolean {
  try {
    accessSync(join(dir, "node"), constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

let nodeFreeMirror: string | null = null;

/**
 * PATH with `first` in front and no Node.js on it. Where node shares a folder
 * with everything else (/usr/bin), that folder is replaced by one of links to
 * its other commands.
 */
export function pathWithoutNode(first: string[] = []): string {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter((dir) => dir !== "" && existsSync(dir));
  if (nodeFreeMirror === null) {
    nodeFreeMirror = tempDir("stonks-no-node-path-");
    for (const dir of dirs.filter(hasNode)) {
      for (const name of readdirSync(dir)) {
        if (NODE_COMMANDS.has(name) || existsSync(join(nodeFreeMirror, name))) continue;
        symlinkSync(join(dir, name), join(nodeFreeMirror, name));
      }
    }
  }
  return [...first, ...dirs.filter((dir) => !hasNode(dir)), nodeFreeMirror].join(delimiter);
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; never throws for a non-zero exit (the caller asserts on it). */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; input?: string; timeoutMs?: number },
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 300_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** A shell command line as a user types it. */
export function shell(line: string, options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }) {
  return run("/bin/sh", ["-c", line], options);
}
