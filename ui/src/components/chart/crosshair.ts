import uPlot from "uplot";
import { cancelFrame, onFrameAfterThis, onIdle } from "../../lib/frame";
import { HeldTransform } from "../../lib/held-transform";

/** Every plot's crosshair on the page: the pointer over one chart moves all of them (they are synced). */
const crosshairs = new Set<Crosshair>();

/**
 * A plot's crosshair lines and its zoom drag's band: moved on the compositor while the pointer
 * moves over the charts, so a move does not relayer the page (HeldTransform says why). The lines
 * are this class's own elements with uPlot's classes (uPlot's own are turned off, chart/options.ts:
 * uPlot writes their inline transform on every move, which an element held by seeking must not
 * have). Out of the plot they are marked off as uPlot marks its own, and are transparent rather
 * than undisplayed (styles.css), so showing them changes a composited value, not the page's layers.
 */
export class Crosshair {
  private readonly vertical: CursorLine;
  private readonly horizontal: CursorLine;
  private readonly band: SelectBand;

  /** `card`: the chart's card, whose pointer moves hold every crosshair (holdCrosshairs). */
  constructor(
    private readonly u: uPlot,
    readonly card: HTMLElement | null,
  ) {
    // A native listener: React's would make an event object per move.
    card?.addEventListener("pointermove", holdCrosshairs, { passive: true });
    this.vertical = new CursorLine(u.over, "u-cursor-x", "x");
    this.horizontal = new CursorLine(u.over, "u-cursor-y", "y");
    this.band = new SelectBand(u);
    crosshairs.add(this);
  }

  get held(): boolean {
    return this.vertical.hold.following;
  }

  /**
   * Holds the vertical line, or keeps it held; the horizontal one only while it is held already
   * (holdBoth): on a synced chart it stays off, and a held element is a composited layer that
   * every frame's commit walks.
   */
  readonly hold = (): boolean => {
    this.vertical.hold.follow();
    if (this.horizontal.hold.following) this.horizontal.hold.follow();
    return false;
  };

  /** Holds both lines: the pointer is over this chart's card, and only the hovered chart moves its horizontal line. */
  readonly holdBoth = (): boolean => {
    this.vertical.hold.follow();
    this.horizontal.hold.follow();
    return false;
  };

  /**
   * Called from the plot's setCursor hook (on every synced plot): places the lines where uPlot's
   * cursor is, and the drag's selection. Lines not held yet (the pointer came straight into a
   * plot) are held from the next frame: the move entering a plot has the fullest frame of a hover,
   * and starting animations relayers the page.
   */
  placed(): void {
    this.band.place();
    const { left, top } = this.u.cursor;
    const { width, height } = this.u.bbox;
    this.vertical.place(left ?? -10, width / uPlot.pxRatio);
    this.horizontal.place(top ?? -10, height / uPlot.pxRatio);
    if (this.held) this.hold();
    else onFrameAfterThis(this.hold);
  }

  dispose(): void {
    this.card?.removeEventListener("pointermove", holdCrosshairs);
    cancelFrame(this.hold);
    cancelFrame(this.holdBoth);
    this.vertical.dispose();
    this.horizontal.dispose();
    this.band.dispose();
    crosshairs.delete(this);
  }
}

/** One crosshair line: a vertical one placed along x, a horizontal one along y. */
class CursorLine {
  readonly hold: HeldTransform;
  private readonly el: HTMLDivElement;
  private at = Number.NaN;
  private off = true;

  constructor(
    over: HTMLElement,
    className: string,
    private readonly axis: "x" | "y",
  ) {
    this.el = document.createElement("div");
    this.el.className = `${className} u-off`;
    over.append(this.el);
    this.hold = new HeldTransform(this.el, [axis]);
  }

  /** At `pos` CSS pixels into the plot (whole pixels, as uPlot placed its own), off outside `max`. */
  place(pos: number, max: number): void {
    const at = Math.round(pos);
    const off = at < 0 || at > max;
    if (off !== this.off) {
      this.off = off;
      this.el.classList.toggle("u-off", off);
    }
    if (at === this.at) return;
    this.at = at;
    if (this.axis === "x") this.hold.place(at, 0);
    else this.hold.place(0, at);
  }

  dispose(): void {
    this.hold.rest();
    this.el.remove();
  }
}

/**
 * The band a zoom drag selects, drawn in place of uPlot's own (hidden in styles.css): uPlot sizes
 * its band by its left and width on every move of a drag, on every synced plot, and each change of
 * size made Chromium relayer the whole page (2–3 ms a move). This band is a one-pixel-wide fill
 * scaled to the selection and two edges, all placed by their transforms (held while a drag moves
 * them; not composited layers otherwise, which every frame's commit would walk), shown by their
 * opacity.
 */
class SelectBand {
  private readonly fill: HTMLDivElement;
  private readonly edges: [HTMLDivElement, HTMLDivElement];
  private readonly holds: HeldTransform[];
  private left = -1;
  private width = -1;

  constructor(private readonly u: uPlot) {
    this.fill = document.createElement("div");
    this.fill.className = "chart-select";
    this.edges = [document.createElement("div"), document.createElement("div")];
    for (const edge of this.edges) edge.className = "chart-select-edge";
    u.over.append(this.fill, ...this.edges);
    this.holds = [
      new HeldTransform(this.fill, ["x", "scaleX"]),
      new HeldTransform(this.edges[0], ["x"]),
      new HeldTransform(this.edges[1], ["x"]),
    ];
    // After the chart's own setSelect hook, which takes a finished drag's selection and clears it.
    u.hooks.setSelect = [...(u.hooks.setSelect ?? []), this.place];
  }

  /** Follows uPlot's selection (its left and width, in CSS pixels of the plot). */
  readonly place = (): void => {
    const { left, width } = this.u.select;
    if (left === this.left && width === this.width) return;
    const shown = width > 0;
    if (shown !== this.width > 0) {
      const opacity = shown ? "1" : "0";
      this.fill.style.opacity = opacity;
      for (const edge of this.edges) edge.style.opacity = opacity;
    }
    this.left = left;
    this.width = width;
    if (!shown) return;
    for (const hold of this.holds) hold.follow();
    this.holds[0].place(left, 0, width);
    this.holds[1].place(left, 0);
    this.holds[2].place(left + width - 1, 0);
  };

  dispose(): void {
    for (const hold of this.holds) hold.rest();
  }
}

/**
 * The pointer moves over a chart's card: every crosshair's vertical line on the page is held from
 * now on (until the pointer rests), and this card's horizontal line, so the lines already move on
 * the compositor when it reaches a plot. Holding
 * them relayers the page once: over the card's edge, not in the plot-entering move's frame. A
 * pointer that came straight into a plot (its first move over the card is already over the plot)
 * has them held from the next frame instead.
 */
function holdCrosshairs(e: Event): void {
  const inPlot = e.target instanceof Element && e.target.closest(".u-over") !== null;
  for (const crosshair of crosshairs) {
    const hold = crosshair.card === e.currentTarget ? crosshair.holdBoth : crosshair.hold;
    if (crosshair.held || !inPlot) hold();
    else onFrameAfterThis(hold);
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
