import type uPlot from "uplot";
import { hairlineOffsets } from "./lines";

/* Strokes in the browser: Path2D copies of a line (lines.ts says why hairlines). */

/** The same path at each offset, as one path to stroke once. */
function offsetCopies(path: Path2D, offsets: [number, number][]): Path2D {
  const out = new Path2D();
  for (const [dx, dy] of offsets) out.addPath(path, { a: 1, b: 0, c: 0, d: 1, e: dx, f: dy });
  return out;
}

/**
 * A series' paths for uPlot, stroked `width` CSS pixels wide: as hairline copies where that is
 * at most two device pixels.
 */
export function strokePaths(path: Path2D, width: number, pxRatio: number): uPlot.Series.Paths {
  const offsets = hairlineOffsets(width * pxRatio);
  // uPlot strokes with the paths' own _width when they carry one (in CSS pixels, as series.width).
  const stroke = offsets ? offsetCopies(path, offsets) : path;
  return Object.assign(
    { stroke, fill: null, clip: null, band: null, flags: 0 },
    { _width: offsets ? 1 / pxRatio : width },
  );
}
