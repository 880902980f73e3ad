import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Vitest's global setup: one folder for the temporary files of a whole test run (helpers.ts
 * tempDir makes each test's inside it), removed when the run's main process exits. The suites
 * make hundreds of databases, virtual environments and spools, over a gigabyte a run; left in the
 * system's temporary folder, some dozens of runs filled this machine's disk (and then the suites
 * failed). Vitest calls this once per project, in one process: the first call makes the folder.
 */
export default function setup(): void {
  if (process.env.STONKS_TEST_TMP) return;
  const dir = mkdtempSync(join(tmpdir(), "stonks-tests-"));
  // Set before the test workers start: they inherit it.
  process.env.STONKS_TEST_TMP = dir;
  // At exit rather than in a teardown: one project's teardown may come before another's tests end.
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
}
