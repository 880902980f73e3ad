import type uPlot from "uplot";
import { cancelFrame, onFrameAfterThis, onIdle } from "../../lib/frame";
import { HeldTransform } from "../../lib/held-transform";

/** Every plot's crosshair on the page: the pointer over one chart moves all of them (they are synced). */
const crosshairs = new Set<Crosshair>();

/**
 * A plot's crosshair lines (uPlot's cursor elements): moved on the compositor while the pointer
 * moves over the charts, so a move does not relayer the page (HeldTransform says why). Out of
 * the plot uPlot marks them off, and they are transparent rather than undisplayed (styles.css),
 * so showing them changes a composited value, not the page's layers.
 */
export class Crosshair {
  private readonly holds: HeldTransform[];

  constructor(u: uPlot) {
    this.holds = [...u.over.querySelectorAll<HTMLElement>(".u-cursor-x, .u-cursor-y")].map(
      (el) => new HeldTransform(el),
    );
    crosshairs.add(this);
  }

  /** Holds the lines (uPlot's inline transform places them), or keeps them held. */
  readonly hold = (): boolean => {
    for (const hold of this.holds) hold.follow();
    return false;
  };

  /**
   * Called from the plot's setCursor hook: uPlot has just placed the lines (on every synced plot).
   * Lines not held yet (the pointer came straight into a plot) are held from the next frame: the
   * move entering a plot has the fullest frame of a hover, and starting animations relayers the page.
   */
  placed(): void {
    if (this.holds[0]?.following) this.hold();
    else onFrameAfterThis(this.hold);
  }

  dispose(): void {
    cancelFrame(this.hold);
    for (const hold of this.holds) hold.rest();
    crosshairs.delete(this);
  }
}

/**
 * The pointer moves over a chart's card: every crosshair on the page is held from now on (until
 * the pointer rests), so the lines already move on the compositor when it reaches a plot. Holding
 * them relayers the page once: over the card's edge, not in the plot-entering move's frame.
 */
export function holdCrosshairs(): void {
  for (const crosshair of crosshairs) crosshair.hold();
}

/**
 * Plots whose page rectangle is read ahead of the pointer. uPlot forgets every plot's rectangle
 * on any scroll or resize and reads it again (getBoundingClientRect) on the first pointer move
 * that reaches it: the move entering one chart then forced a style and layout pass for each
 * synced chart, one after the other, in that move's frame. Reading them in an idle moment
 * instead costs nothing when the layout is clean.
 */
const plots = new Set<uPlot>();
let queued = false;

function syncAll(): void {
  queued = false;
  for (const u of plots) u.syncRect(false);
}

function queueSync(): void {
  if (queued) return;
  queued = true;
  // Truly idle: a busy stretch (a zoom redrawing every chart) is no time to read the layout.
  onIdle(syncAll);
}

/** Keeps `u`'s rectangle read ahead (after its size changes, and after scrolls and resizes); returns the undo. */
export function keepRectFresh(u: uPlot): () => void {
  if (plots.size === 0) {
    addEventListener("scroll", queueSync, { capture: true, passive: true });
    addEventListener("resize", queueSync);
  }
  plots.add(u);
  // uPlot forgets the rectangle when it resizes the plot (a wider y axis, a new width).
  u.hooks.setSize = [...(u.hooks.setSize ?? []), queueSync];
  queueSync();
  return () => {
    plots.delete(u);
    if (plots.size > 0) return;
    removeEventListener("scroll", queueSync, { capture: true });
    removeEventListener("resize", queueSync);
  };
}
