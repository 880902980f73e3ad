import type { Run } from "../../api/types";
import { cancelFrame, onFrameAfterThis } from "../../lib/frame";
import type { Drawn } from "./types";

/** One line of the tooltip: a run's (or a group's) name, its value, and a muted detail (the run's step). */
export interface TooltipRow {
  /** What the line is about (a run id, a group label), as its data-row attribute. */
  key: string;
  name: string;
  color: string;
  value: string;
  detail: string;
  active: boolean;
}

interface RowElements {
  line: HTMLDivElement;
  dot: HTMLSpanElement;
  name: HTMLSpanElement;
  value: HTMLSpanElement;
  step: HTMLSpanElement;
  /** The dot's color as set (the style reads it back normalised). */
  color: string;
}

function span(className: string): HTMLSpanElement {
  const el = document.createElement("span");
  el.className = className;
  return el;
}

/** The text last written to each element: reading textContent back makes a new string per read. */
const written = new WeakMap<HTMLElement, string>();

/**
 * Sets a text only when it changed, in the element's own text node: setting textContent instead
 * replaces the node, and each new node is styled and given a layout object of its own (garbage
 * and style work on every move of a hover).
 */
function setText(el: HTMLElement, text: string): void {
  if (written.get(el) === text) return;
  written.set(el, text);
  const node = el.firstChild;
  if (node instanceof Text && node === el.lastChild) node.data = text;
  else el.textContent = text;
}

/** Every tooltip's width in CSS pixels (styles.css, .chart-tooltip), and what its texts have of it (9 of padding and 1 of border a side). */
export const TOOLTIP_WIDTH = 270;
const CONTENT_WIDTH = TOOLTIP_WIDTH - 2 * 10;

/** What a row spends besides its texts (the 8-pixel dot, two 6-pixel gaps, and about 6 between value and step). */
const ROW_FIXED = 8 + 3 * 6;

/**
 * Text widths in the tooltip's fonts, measured on a canvas. The tooltip's texts are cut to fit by
 * script rather than clipped by CSS: clipped text is painted apart from the tooltip's box, and
 * Chromium layerizes the whole page again whenever such a part changes size. Names and metric
 * keys (a small set) are measured once and kept, with their cuts; values, which change with
 * every move, are summed from their characters' widths (kept whole, they grew the heap until
 * the collector stalled a frame).
 */
class TextMeasure {
  private readonly widths = new Map<string, number>();
  private readonly cuts = new Map<string, string>();
  private readonly chars = new Map<number, number>();
  private readonly ctx: CanvasRenderingContext2D | null;

  constructor(font: string) {
    this.ctx = document.createElement("canvas").getContext("2d");
    if (this.ctx) this.ctx.font = font;
  }

  /**
   * The width of a text that changes with every move (a value, a step), as the sum of its
   * characters' widths, each measured once: measuring whole texts made a TextMetrics object per
   * text per move for Blink's collector to sweep (in 5 ms tasks, in the middle of a hover).
   */
  measure(text: string): number {
    let w = 0;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      let c = this.chars.get(code);
      if (c === undefined) {
        c = this.ctx?.measureText(String.fromCharCode(code)).width ?? 0;
        this.chars.set(code, c);
      }
      w += c;
    }
    return w;
  }

  /** The width of a name or key, kept. */
  private width(text: string): number {
    let w = this.widths.get(text);
    if (w === undefined) {
      w = this.ctx?.measureText(text).width ?? 0;
      if (this.widths.size > 5000) this.widths.clear();
      this.widths.set(text, w);
    }
    return w;
  }

  /**
   * `text` itself if it fits `max` pixels, else its longest start that fits with "…" after it
   * (kept per 8 pixels of room, so a row whose value widens by a digit cuts the name once).
   */
  fit(text: string, max: number): string {
    if (this.width(text) <= max) return text;
    const room = Math.floor(max / 8) * 8;
    const key = `${room}\u0000${text}`;
    let cut = this.cuts.get(key);
    if (cut === undefined) {
      const chars = [...text];
      let lo = 0;
      let hi = chars.length;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if ((this.ctx?.measureText(`${chars.slice(0, mid).join("")}…`).width ?? 0) <= room) lo = mid;
        else hi = mid - 1;
      }
      cut = `${chars.slice(0, lo).join("")}…`;
      if (this.cuts.size > 5000) this.cuts.clear();
      this.cuts.set(key, cut);
    }
    return cut;
  }
}

interface Fonts {
  name: TextMeasure;
  value: TextMeasure;
  step: TextMeasure;
  head: TextMeasure;
}

/**
 * The hovered chart's tooltip: its elements are made once and updated in place as the pointer
 * moves (rebuilding them on every move made garbage and relayout in each frame of a hover). It
 * has a fixed width and its texts are cut to fit (TextMeasure), so its painted bounds change only
 * when the number of rows does.
 */
export class TooltipView {
  private readonly head: HTMLDivElement;
  private readonly rows: RowElements[] = [];
  private readonly more: HTMLDivElement;
  private fonts: Fonts | null = null;
  /** The number of lines below the head, as last set (--lines, which sizes the tooltip in styles.css). */
  private lines = -1;

  /** `rowTestId`: its rows' data-testid. */
  constructor(
    private readonly el: HTMLDivElement,
    maxRows: number,
    rowTestId = "tooltip-row",
  ) {
    this.head = document.createElement("div");
    this.head.className = "tip-head";
    this.more = document.createElement("div");
    this.more.className = "tip-more";
    el.replaceChildren(this.head);
    for (let i = 0; i < maxRows; i++) {
      const row: RowElements = {
        line: document.createElement("div"),
        dot: span("tip-dot"),
        name: span("tip-name"),
        value: span("tip-value"),
        step: span("tip-step"),
        color: "",
      };
      row.line.dataset.testid = rowTestId;
      // The value and the step share one box of text: each box is laid out again when a text in it
      // changes, both change on every move, and each layout leaves Blink's collector a line's
      // buffers (about 1.8 KB; in two boxes they were 40% of a hover's garbage, bench/RESULTS.md).
      const figures = span("tip-figures");
      // A space between them, for the page's text (a copy, a screen reader); the margin makes the gap.
      figures.append(row.value, " ", row.step);
      row.line.append(row.dot, row.name, figures);
      this.rows.push(row);
    }
  }

  /**
   * Does what the first show would, ahead of the first hover, in an idle moment: reads the fonts,
   * makes every row's texts and runs show's code once (its first run, in the frame after the
   * pointer entered a plot, took 3–6 ms). The tooltip stays hidden.
   */
  prepare(): void {
    this.measures();
    if (this.visible) return;
    const rows = this.rows.map(
      (_, i): TooltipRow => ({ key: "", name: "", color: "", value: "0", detail: "", active: i === 0 }),
    );
    this.show("", "", rows, 1);
    this.hide();
    // Out again until shown: a hidden tooltip holds no rows (tests and people inspecting the page count them).
    this.show("", "", [], 0);
    this.hide();
  }

  /** The tooltip's fonts, read once (prepare, or the first show). */
  private measures(): Fonts {
    if (!this.fonts) {
      const font = (el: HTMLElement, weight?: string) => {
        const style = getComputedStyle(el);
        return `${style.fontStyle} ${weight ?? style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      };
      // A row's elements have styles only while in the page.
      const row = this.rows[0];
      const attached = row.line.parentNode === this.el;
      if (!attached) this.el.append(row.line);
      this.fonts = {
        // Measured in bold: the nearest run's row is bold.
        name: new TextMeasure(font(row.name, "600")),
        value: new TextMeasure(font(row.value)),
        step: new TextMeasure(font(row.step)),
        head: new TextMeasure(font(this.head)),
      };
      if (!attached) row.line.remove();
    }
    return this.fonts;
  }

  /**
   * Shows `rows` (at most the pool's size) under a head of `title` (a metric key, cut to fit) and
   * `detail`, and how many more runs are not listed. A run's name is cut to what its row leaves.
   */
  show(title: string, detail: string, rows: readonly TooltipRow[], unlisted: number): void {
    const fonts = this.measures();
    const tail = ` · ${detail}`;
    setText(this.head, `${fonts.head.fit(title, CONTENT_WIDTH - fonts.head.measure(tail))}${tail}`);
    const children = this.el.children;
    for (let i = 0; i < this.rows.length; i++) {
      const el = this.rows[i];
      const row = rows[i];
      // Rows are always a prefix, in order: a row past the listed ones comes out wherever it is.
      const attached = el.line.parentNode === this.el;
      if (!row) {
        if (attached) el.line.remove();
        continue;
      }
      const className = row.active ? "tip-row active" : "tip-row";
      if (el.line.className !== className) el.line.className = className;
      if (el.line.dataset.row !== row.key) el.line.dataset.row = row.key;
      if (el.color !== row.color) {
        el.color = row.color;
        el.dot.style.background = row.color;
      }
      const room = CONTENT_WIDTH - ROW_FIXED - fonts.value.measure(row.value) - fonts.step.measure(row.detail);
      setText(el.name, fonts.name.fit(row.name, room));
      setText(el.value, row.value);
      setText(el.step, row.detail);
      if (!attached) this.el.insertBefore(el.line, children[i + 1] ?? null);
    }
    if (unlisted > 0) {
      setText(this.more, `+${unlisted} more`);
      if (this.more.parentNode !== this.el) this.el.append(this.more);
    } else if (this.more.parentNode === this.el) this.more.remove();
    const lines = Math.min(rows.length, this.rows.length) + (unlisted > 0 ? 1 : 0);
    if (lines !== this.lines) {
      this.lines = lines;
      this.el.style.setProperty("--lines", String(lines));
    }
    if (this.el.style.display !== "block") this.el.style.display = "block";
  }

  hide(): void {
    if (this.el.style.display !== "none") this.el.style.display = "none";
  }

  get visible(): boolean {
    return this.el.style.display === "block";
  }
}

/**
 * A tooltip appears in the frame after the pointer enters a plot: that first move restyles the
 * page for the hover and shows every synced chart's crosshair, and with the tooltip's first layout
 * on top it took more than a frame. Both charts ask `now` on each move; when it says not yet, `show`
 * runs in the next frame (where `now` says yes).
 */
export class Reveal {
  private revealing = false;

  /** `painted`: whether `show` paints a canvas (the frame's one painting job, see lib/frame). */
  constructor(
    private readonly show: () => void,
    private readonly painted: boolean,
  ) {}

  private readonly job = (): boolean => {
    this.revealing = true;
    try {
      this.show();
    } finally {
      this.revealing = false;
    }
    return this.painted;
  };

  /** Whether to show the tooltip now (it is up already, or this is the frame after); if not, it will be. */
  now(visible: boolean): boolean {
    if (visible || this.revealing) return true;
    onFrameAfterThis(this.job, true);
    return false;
  }

  /** The pointer left before the tooltip appeared. */
  cancel(): void {
    cancelFrame(this.job);
  }
}

/** A run with a point near the pointer: that point. */
export interface HoverRow {
  d: Drawn;
  value: number;
  step: number;
  x: number;
}

export const byValueDescending = (a: HoverRow, b: HoverRow) => b.value - a.value;

export function runLabel(run: Run): string {
  return run.name ?? run.id.slice(0, 8);
}
