/**
 * A progress bar on stderr for long CLI operations (import, migrate), drawn
 * only when stderr is a terminal and at most ten times a second; elsewhere
 * (pipes, CI logs) nothing is drawn and only the final summary line is printed.
 */
const WIDTH = 30;
const REDRAW_MS = 100;

export interface Progress {
  /** `done` of `total` units (total null when unknown); `detail` is shown after the bar. */
  update(done: number, total: number | null, detail?: string): void;
  /** Clears the bar so the summary line starts on a clean line. */
  finish(): void;
}

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY !== true) return { update() {}, finish() {} };
  let lastDraw = 0;
  let drawn = false;
  return {
    update(done, total, detail = "") {
      const now = Date.now();
      if (now - lastDraw < REDRAW_MS && !(total !== null && done >= total)) return;
      lastDraw = now;
      let bar: string;
      if (total === null || total <= 0) bar = `${done}`;
      else {
        const filled = Math.min(WIDTH, Math.round((done / total) * WIDTH));
        bar = `[${"#".repeat(filled)}${" ".repeat(WIDTH - filled)}] ${done}/${total}`;
      }
      const line = `${label} ${bar}${detail === "" ? "" : ` ${detail}`}`;
      const columns = stream.columns ?? 80;
      stream.write(`\r\x1b[2K${line.slice(0, Math.max(0, columns - 1))}`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write("\r\x1b[2K");
    },
  };
}
