import { type Db, stmt } from "./connection.js";

/** Records the git commit and dirty flag, found after the run started. */
export function updateGitProvenance(db: Db, runSeq: number, commit: string | null, dirty: boolean | null): void {
  stmt(db, "UPDATE runs SET git_commit = ?, git_dirty = ? WHERE seq = ?").run(
    commit,
    dirty === null ? null : dirty ? 1 : 0,
    runSeq,
  );
}
