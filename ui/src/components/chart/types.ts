import type { Run } from "../../api/types";
import type { Line } from "../../lib/lines";
import { smoothingDraft } from "../../state/smoothing";
import type { Theme } from "../../state/theme";
import type { XAxis, YRange } from "../../state/view";

export interface ChartProps {
  metricKey: string;
  runs: Run[];
  xAxis: XAxis;
  smoothing: number;
  logY: boolean;
  zoom: [number, number] | null;
  onZoom(zoom: [number, number] | null): void;
  theme: Theme;
  /** Plot height in pixels (default HEIGHT). */
  height?: number;
  /** The y range; uPlot's own fit when left out. */
  yRange?: YRange;
  /** The y axis' title (a unit such as "%" or "GB"); none when left out. */
  yLabel?: string;
  /** Whether the chart follows the toolbar's smoothing slider while it moves (it has no smoothing of its own). */
  toolbarSmoothing?: boolean;
}

/** The smoothing to draw: the toolbar slider's while it moves, for the charts that follow it. */
export function smoothingOf(p: ChartProps): number {
  return (p.toolbarSmoothing ? smoothingDraft() : null) ?? p.smoothing;
}

/** A run's point marked under the pointer. */
export interface Mark {
  x: number;
  y: number;
  color: string;
}

/** A line of the plot and its run's color (for the dot a single point gets). */
export interface ColoredLine extends Line {
  color: string;
}

/** A run's series in the plot: its values, and their smoothing (drawn only while smoothing is on). */
export const SERIES_PER_RUN = 2;

/** One run's series as drawn: its own x and y arrays before alignment (tooltips and envelopes read these). */
export interface Drawn {
  run: Run;
  color: string;
  xs: Float64Array;
  steps: Float64Array;
  values: Float64Array;
  smooth: Float64Array | null;
  length: number;
  downsampled: boolean;
  /** On a metric x axis that is not monotonic in step: the points are in x order, not step order. */
  sortedByX?: boolean;
}

export interface Status {
  loading: boolean;
  error: string | null;
  downsampled: boolean;
  points: number;
}
