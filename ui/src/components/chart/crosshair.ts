import type uPlot from "uplot";
import { cancelFrame, onFrameAfterThis, onIdle } from "../../lib/frame";
import { HeldTransform } from "../../lib/held-transform";

/**
 * A plot's crosshair lines (uPlot's cursor elements): moved on the compositor while they are
 * shown, so a pointer move does not relayer the page (HeldTransform says why).
 */
export class Crosshair {
  private readonly holds: HeldTransform[];

  constructor(u: uPlot) {
    this.holds = [...u.over.querySelectorAll<HTMLElement>(".u-cursor-x, .u-cursor-y")].map(
      (el) => new HeldTransform(el),
    );
  }

  /**
   * Holds the lines (uPlot's inline transform places them). Started in the frame after the
   * pointer enters: the entering move's frame relayers the page anyway (the lines appear, the
   * page restyles for the hover), and starting the animations there made it the longest frame.
   */
  private readonly follow = (): boolean => {
    for (const hold of this.holds) hold.follow();
    return false;
  };

  /** Called from the plot's setCursor hook: uPlot has just placed the lines (on every synced plot). */
  placed(u: uPlot): void {
    if ((u.cursor.left ?? -1) < 0) this.rest();
    else if (this.holds[0]?.following) this.follow();
    else onFrameAfterThis(this.follow);
  }

  rest(): void {
    cancelFrame(this.follow);
    for (const hold of this.holds) hold.rest();
  }
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
