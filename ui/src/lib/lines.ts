import uPlot from "uplot";

/**
 * Lines drawn as hairlines (one device pixel wide) where they can be.
 *
 * Without a GPU, Chromium rasterises a canvas' lines on the main thread, and a
 * stroke wider than one device pixel costs an order of magnitude more than a
 * hairline (its outline is built and filled with anti-aliasing): 24 lines of 500
 * points at 1.75 px take about 20 ms, as hairlines about 1.5 ms. A line meant to be
 * up to two device pixels wide is drawn as the same hairline three times, nudged
 * down and right by the extra width, which looks the same at a fraction of the cost.
 */

/**
 * Device-pixel offsets of the hairline copies that make a line `width` device pixels wide,
 * or null to stroke it as it is (a hairline already, or too wide to fake).
 */
export function hairlineOffsets(width: number): [number, number][] | null {
  if (width <= 1 || width > 2) return null;
  const extra = width - 1;
  return [
    [0, 0],
    [0, extra],
    [extra, 0],
  ];
}

/** The same path at each offset, as one path to stroke once. */
export function offsetCopies(path: Path2D, offsets: [number, number][]): Path2D {
  const out = new Path2D();
  for (const [dx, dy] of offsets) out.addPath(path, { a: 1, b: 0, c: 0, d: 1, e: dx, f: dy });
  return out;
}

const linear = uPlot.paths.linear?.();

/** uPlot's straight-line paths, stroked as hairlines where the series is at most two device pixels wide. */
export const hairlinePaths: uPlot.Series.PathBuilder = (u, seriesIdx, idx0, idx1) => {
  const paths = linear?.(u, seriesIdx, idx0, idx1) ?? null;
  const width = (u.series[seriesIdx].width ?? 1) * uPlot.pxRatio;
  const offsets = hairlineOffsets(width);
  if (!paths || !offsets || !(paths.stroke instanceof Path2D)) return paths;
  // uPlot strokes with the paths' own _width when they carry one (in CSS pixels, as series.width).
  return Object.assign(paths, { stroke: offsetCopies(paths.stroke, offsets), _width: 1 / uPlot.pxRatio });
};
