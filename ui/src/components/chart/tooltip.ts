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

/**
 * The hovered chart's tooltip: its elements are made once and updated in place as the pointer
 * moves (rebuilding them on every move made garbage and relayout in each frame of a hover).
 */
export class TooltipView {
  private readonly head: HTMLDivElement;
  private readonly rows: RowElements[] = [];
  private readonly more: HTMLDivElement;

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

  /** Shows `rows` (at most the pool's size) under `head`, and how many more runs are not listed. */
  show(head: string, rows: readonly TooltipRow[], unlisted: number): void {
    setText(this.head, head);
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
      setText(el.name, row.name);
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
