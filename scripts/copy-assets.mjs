// Copies the non-TypeScript files the built package needs at run time.
import { cpSync, mkdirSync } from "node:fs";

mkdirSync("dist/store/migrations", { recursive: true });
cpSync("src/store/migrations", "dist/store/migrations", { recursive: true });
