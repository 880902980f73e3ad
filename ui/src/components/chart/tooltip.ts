import type { Run } from "../../api/types";
import { formatNumber } from "../../lib/format";
import type { Drawn } from "./types";

/** One run's line in the tooltip. */
export interface TooltipRow {
  runId: string;
  name: string;
  color: string;
  value: number;
  step: number;
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

/** Sets a text only when it changed: each write is a style and layout invalidation. */
function setText(el: HTMLElement, text: string): void {
  if (written.get(el) === text) return;
  written.set(el, text);
  el.textContent = text;
}

/** The widths (CSS pixels) the tooltip's texts are cut to, within its fixed width (styles.css, .chart-tooltip). */
const NAME_WIDTH = 130;
const TITLE_WIDTH = 120;

/**
 * Cuts texts to a width in one font, ending them with "…", measured once per text: the tooltip's
 * texts are cut here rather than clipped by CSS, because clipped text is painted apart from the
 * tooltip's box, and Chromium layerizes the whole page again whenever such a part changes size.
 */
class TextFitter {
  private readonly cache = new Map<string, string>();
  private readonly ctx: CanvasRenderingContext2D | null;

  constructor(
    font: string,
    private readonly width: number,
  ) {
    this.ctx = document.createElement("canvas").getContext("2d");
    if (this.ctx) this.ctx.font = font;
  }

  fit(text: string): string {
    const known = this.cache.get(text);
    if (known !== undefined) return known;
    let out = text;
    const ctx = this.ctx;
    if (ctx && ctx.measureText(text).width > this.width) {
      const chars = [...text];
      let keep = chars.length;
      while (keep > 1 && ctx.measureText(`${chars.slice(0, keep).join("")}…`).width > this.width) keep--;
      out = `${chars.slice(0, keep).join("")}…`;
    }
    // Run names and metric keys: a handful per chart, kept while the page lives, within bounds.
    if (this.cache.size > 2000) this.cache.clear();
    this.cache.set(text, out);
    return out;
  }
}

/**
 * The hovered chart's tooltip: its elements are made once and updated in place as the pointer
 * moves (rebuilding them on every move made garbage and relayout in each frame of a hover). It
 * has a fixed width and its texts are cut to fit (TextFitter), so its painted bounds change only
 * when the number of rows does.
 */
export class TooltipView {
  private readonly head: HTMLDivElement;
  private readonly rows: RowElements[] = [];
  private readonly more: HTMLDivElement;
  private fitters: { name: TextFitter; title: TextFitter } | null = null;

  constructor(
    private readonly el: HTMLDivElement,
    maxRows: number,
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
      row.line.dataset.testid = "tooltip-row";
      row.line.append(row.dot, row.name, row.value, row.step);
      this.rows.push(row);
    }
  }

  /** The fitters, made in the font the tooltip is shown in (read once, when it first shows). */
  private fit(): { name: TextFitter; title: TextFitter } {
    if (!this.fitters) {
      const style = getComputedStyle(this.el);
      const family = style.fontFamily;
      // Measured in bold: the nearest run's row is bold.
      this.fitters = {
        name: new TextFitter(`600 ${style.fontSize} ${family}`, NAME_WIDTH),
        title: new TextFitter(`11.5px ${family}`, TITLE_WIDTH),
      };
    }
    return this.fitters;
  }

  /**
   * Shows `rows` (at most the pool's size) under a head of `title` (a metric key, cut to fit) and
   * `detail`, and how many more runs are not listed.
   */
  show(title: string, detail: string, rows: readonly TooltipRow[], unlisted: number): void {
    const fit = this.fit();
    setText(this.head, `${fit.title.fit(title)} · ${detail}`);
    const children = this.el.children;
    for (let i = 0; i < this.rows.length; i++) {
      const el = this.rows[i];
      const row = rows[i];
      const attached = children[i + 1] === el.line;
      if (!row) {
        if (attached) el.line.remove();
        continue;
      }
      const className = row.active ? "tip-row active" : "tip-row";
      if (el.line.className !== className) el.line.className = className;
      if (el.line.dataset.runId !== row.runId) el.line.dataset.runId = row.runId;
      if (el.color !== row.color) {
        el.color = row.color;
        el.dot.style.background = row.color;
      }
      setText(el.name, fit.name.fit(row.name));
      setText(el.value, formatNumber(row.value));
      // Each run's own step: runs logged at other steps, or at this time, are at steps of their own.
      setText(el.step, `@${formatNumber(row.step)}`);
      if (!attached) this.el.insertBefore(el.line, children[i + 1] ?? null);
    }
    if (unlisted > 0) {
      setText(this.more, `+${unlisted} more`);
      if (this.more.parentNode !== this.el) this.el.append(this.more);
    } else if (this.more.parentNode === this.el) this.more.remove();
    if (this.el.style.display !== "block") this.el.style.display = "block";
  }

  hide(): void {
    if (this.el.style.display !== "none") this.el.style.display = "none";
  }

  get visible(): boolean {
    return this.el.style.display === "block";
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
