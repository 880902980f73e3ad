import uPlot from "uplot";
import { withAlpha } from "../../lib/colors";
import { hairlineOffsets, linePath, PathCache, plotSignature, xToPixels, yToPixels } from "../../lib/lines";
import { strokePaths } from "../../lib/strokes";
import type { BitmapLayer } from "./bitmap-layer";
import { type ColoredLine, type Drawn, type Mark, SERIES_PER_RUN } from "./types";

/**
 * Draws the highlighted run's line, wider, and the points marked under the pointer, on a layer
 * of its own over the plot (the chart gives the line and the marks one each): the highlight
 * follows the pointer, and redrawing every line of the chart for each move would cost more than
 * a frame.
 */
export function drawHighlight(u: uPlot, layer: BitmapLayer, d: Drawn | undefined, marks: Mark[]): void {
  const dpr = uPlot.pxRatio;
  if ((!d || d.length === 0) && marks.length === 0) {
    // A layer already clear stays as it is: clearing it again still costs a rasterised frame per chart.
    layer.erase();
    return;
  }
  // The plot box uPlot computed, not the layer's CSS size: reading that forces a layout mid-frame.
  const ctx = layer.begin(Math.round(u.bbox.width), Math.round(u.bbox.height));
  if (!ctx) return;
  for (const m of marks) {
    if (!Number.isFinite(m.y) || (u.scales.y.distr === 3 && m.y <= 0)) continue;
    ctx.beginPath();
    ctx.arc(u.valToPos(m.x, "x") * dpr, u.valToPos(m.y, "y") * dpr, 3 * dpr, 0, 2 * Math.PI);
    ctx.fillStyle = m.color;
    ctx.fill();
  }
  if (d && d.length > 0) {
    const ys = d.smooth ?? d.values;
    const log = u.scales.y.distr === 3;
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < d.length; i++) {
      const v = ys[i];
      if (!Number.isFinite(v) || (log && v <= 0)) continue;
      const px = u.valToPos(d.xs[i], "x") * dpr;
      const py = u.valToPos(v, "y") * dpr;
      if (pen) ctx.lineTo(px, py);
      else ctx.moveTo(px, py);
      pen = true;
    }
    ctx.strokeStyle = d.color;
    ctx.lineWidth = 3 * dpr;
    ctx.lineJoin = "round";
    ctx.stroke();
  }
  layer.show();
}

/** Each run's min/max envelope as drawn, kept while its points and the plot's scales stay the same. */
const envelopeCache = new PathCache<Path2D | null>();
/** Each raw line's stroke, kept the same way (a smoothing change redraws only the smoothed lines' paths). */
const linePathCache = new PathCache<uPlot.Series.Paths>();
/** Each smoothed line's path (drawSmoothLayer strokes it as hairlines itself). */
const smoothPathCache = new PathCache<Path2D>();
/** The smoothed lines' width in CSS pixels. */
const SMOOTH_WIDTH = 1.75;

/** A raw line's stroke, `width` CSS pixels wide, for uPlot's series (the smoothed ones are on drawSmoothLayer's layer). */
export function rawLinePaths(u: uPlot, line: ColoredLine, width: number): uPlot.Series.Paths {
  return linePathCache.get(line, plotSignature(u, width * uPlot.pxRatio), () =>
    strokePaths(linePath(u, line, new Path2D()), width, uPlot.pxRatio),
  );
}

/**
 * Draws the smoothed lines on a canvas of their own over the plot, and says whether it painted:
 * dragging the smoothing slider then repaints this layer only, while the faint raw lines,
 * envelopes and axes under it stay as they were (redrawing them each move cost more than a frame
 * without a GPU).
 */
export function drawSmoothLayer(u: uPlot, layer: BitmapLayer, lines: (ColoredLine | null)[]): boolean {
  const smoothed: ColoredLine[] = [];
  for (let si = SERIES_PER_RUN; si < lines.length; si += SERIES_PER_RUN) {
    const line = lines[si];
    if (line && u.series[si]?.show !== false) smoothed.push(line);
  }
  if (smoothed.length === 0) {
    if (layer.isClear) return false;
    layer.erase();
    return true;
  }
  const ctx = layer.begin(Math.round(u.bbox.width), Math.round(u.bbox.height));
  if (!ctx) return false;
  ctx.save();
  // uPlot's paths are in the whole canvas's pixels; this layer covers the plot area only.
  ctx.translate(-u.bbox.left, -u.bbox.top);
  ctx.beginPath();
  ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
  ctx.clip();
  // A 1.75 px line is three hairlines a fraction of a pixel apart (see strokePaths): here the one
  // path stroked three times, moved, rather than a path of three copies. A smoothing drag makes
  // new paths on every move, and each path's points count against the page's memory until a
  // garbage collection: a quarter of them is fewer, later collections (one landed in a hover).
  const offsets = hairlineOffsets(SMOOTH_WIDTH * uPlot.pxRatio);
  const signature = plotSignature(u, SMOOTH_WIDTH * uPlot.pxRatio);
  ctx.lineWidth = offsets ? 1 : SMOOTH_WIDTH * uPlot.pxRatio;
  ctx.lineJoin = "round";
  for (const line of smoothed) {
    const path = smoothPathCache.get(line, signature, () => linePath(u, line, new Path2D()));
    ctx.strokeStyle = line.color;
    for (const [dx, dy] of offsets ?? [[0, 0]]) {
      ctx.setTransform(1, 0, 0, 1, dx - u.bbox.left, dy - u.bbox.top);
      ctx.stroke(path);
    }
  }
  ctx.restore();
  layer.show();
  return true;
}

/**
 * Widens each pixel column's range to the values `reach` columns either side. About one point per
 * pixel column is fetched, so a bucket's lowest and highest value mostly land in neighbouring
 * columns: on its own each column would hold one value and no band, and where the band showed
 * would depend on how the buckets fell on the pixel grid.
 */
function spreadToNeighbours(high: Float64Array, low: Float64Array, first: number, last: number, reach: number): void {
  const ownHigh = high.slice(first, last + 1);
  const ownLow = low.slice(first, last + 1);
  for (let c = first; c <= last; c++) {
    if (!Number.isFinite(ownHigh[c - first])) continue;
    for (let n = Math.max(first, c - reach); n <= Math.min(last, c + reach); n++) {
      const h = ownHigh[n - first];
      if (!Number.isFinite(h)) continue;
      if (h < high[c]) high[c] = h;
      if (ownLow[n - first] > low[c]) low[c] = ownLow[n - first];
    }
  }
}

/**
 * The shaded band between each pixel column's lowest and highest value: one pixel-wide hairline per
 * column rather than a filled outline, the same shading at a fraction of the cost without a GPU.
 */
export function envelopePath(u: uPlot, d: Drawn): Path2D | null {
  const { left, width } = u.bbox;
  const xMin = u.scales.x.min ?? Number.NEGATIVE_INFINITY;
  const xMax = u.scales.x.max ?? Number.POSITIVE_INFINITY;
  const log = u.scales.y.distr === 3;
  const toX = xToPixels(u);
  const toY = yToPixels(u);
  const columns = Math.ceil(width) + 1;
  const lowY = new Float64Array(columns).fill(Number.NEGATIVE_INFINITY);
  const highY = new Float64Array(columns).fill(Number.POSITIVE_INFINITY);
  let first = columns;
  let last = -1;
  let points = 0;
  for (let i = 0; i < d.length; i++) {
    const xv = d.xs[i];
    if (xv < xMin || xv > xMax) continue;
    const v = d.values[i];
    if (!Number.isFinite(v) || (log && v <= 0)) continue;
    const c = Math.round(toX(xv) - left);
    if (c < 0 || c >= columns) continue;
    const py = toY(v);
    if (py > lowY[c]) lowY[c] = py;
    if (py < highY[c]) highY[c] = py;
    if (c < first) first = c;
    if (c > last) last = c;
    points++;
  }
  if (last < first) return null;
  spreadToNeighbours(highY, lowY, first, last, Math.max(1, Math.ceil((last - first) / Math.max(1, points - 1))));
  const path = new Path2D();
  let prev = -1;
  for (let c = first; c <= last; c++) {
    if (!Number.isFinite(highY[c])) continue;
    // Columns between two with points are shaded as the outline joining them would be.
    const from = prev < 0 ? c : prev;
    for (let g = prev < 0 ? c : prev + 1; g <= c; g++) {
      const t = g === from ? 1 : (g - from) / (c - from);
      const hi = highY[from] + (highY[c] - highY[from]) * t;
      const lo = lowY[from] + (lowY[c] - lowY[from]) * t;
      if (lo - hi < 0.5) continue;
      const x = Math.round(left + g) + 0.5;
      path.moveTo(x, hi);
      path.lineTo(x, lo);
    }
    prev = c;
  }
  return path;
}

/** What an envelope layer shows: the plot's scales and box, and each envelope's arrays and color. */
interface ShownEnvelopes {
  signature: string;
  lines: { xs: Float64Array; ys: Float64Array; length: number; color: string }[];
}

const shownEnvelopes = new WeakMap<BitmapLayer, ShownEnvelopes>();

function envelopesOf(drawn: Drawn[]): Drawn[] {
  return drawn.filter((d) => d.downsampled && d.length > 0);
}

function showsEnvelopes(layer: BitmapLayer, signature: string, list: Drawn[]): boolean {
  const shown = shownEnvelopes.get(layer);
  if (!shown || shown.signature !== signature || shown.lines.length !== list.length) return false;
  return list.every((d, i) => {
    const line = shown.lines[i];
    return line.xs === d.xs && line.ys === d.values && line.length === d.length && line.color === d.color;
  });
}

/**
 * Clears an envelope layer that no longer matches the plot (new scales or box, new points) and says
 * whether it has envelopes to paint: the plot's redraw calls this, and the painting waits for a
 * frame of its own (see drawEnvelopeLayer).
 */
export function clearStaleEnvelopes(u: uPlot, layer: BitmapLayer, drawn: Drawn[]): boolean {
  const list = envelopesOf(drawn);
  if (showsEnvelopes(layer, plotSignature(u, 0), list)) return false;
  shownEnvelopes.delete(layer);
  layer.erase();
  return list.length > 0;
}

/**
 * Paints the min/max envelopes on a layer of their own under the plot's lines, and says whether
 * it painted. Without a GPU a whole chart's raster (axes, 24 lines, 24 envelopes) took 10–16 ms,
 * a frame on its own: the envelopes (a third of it) follow a frame later instead.
 */
export function drawEnvelopeLayer(u: uPlot, layer: BitmapLayer, drawn: Drawn[]): boolean {
  const list = envelopesOf(drawn);
  const signature = plotSignature(u, 0);
  if (showsEnvelopes(layer, signature, list)) return false;
  shownEnvelopes.set(layer, {
    signature,
    lines: list.map((d) => ({ xs: d.xs, ys: d.values, length: d.length, color: d.color })),
  });
  if (list.length === 0) {
    layer.erase();
    return false;
  }
  const { left, top, width, height } = u.bbox;
  const ctx = layer.begin(Math.round(width), Math.round(height));
  if (!ctx) return false;
  ctx.save();
  // The envelopes' paths are in the whole canvas's pixels; this layer covers the plot area only.
  ctx.translate(-left, -top);
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  ctx.lineWidth = 1;
  for (const d of list) {
    const path = envelopeCache.get({ xs: d.xs, ys: d.values, length: d.length }, signature, () => envelopePath(u, d));
    if (!path) continue;
    ctx.strokeStyle = withAlpha(d.color, 0.16);
    ctx.stroke(path);
  }
  ctx.restore();
  layer.show();
  return true;
}
