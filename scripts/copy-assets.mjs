// Copies the non-TypeScript files the built package needs at run time.
import { chmodSync, cpSync, existsSync, mkdirSync } from "node:fs";

mkdirSync("dist/store/migrations", { recursive: true });
cpSync("src/store/migrations", "dist/store/migrations", { recursive: true });
mkdirSync("dist/store/migrations-pg", { recursive: true });
cpSync("src/store/migrations-pg", "dist/store/migrations-pg", { recursive: true });

// tsc does not keep the executable bit; `stonks` (package.json "bin") and ./dist/cli/main.js need it.
if (existsSync("dist/cli/main.js")) chmodSync("dist/cli/main.js", 0o755);
