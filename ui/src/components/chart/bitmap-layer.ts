import type uPlot from "uplot";

/** What a layer is drawn with: the 2D context of the shared offscreen canvas, or of itself where there is none. */
export type Ctx2D = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

const bitmaps = typeof OffscreenCanvas === "function" && typeof ImageBitmapRenderingContext === "function";

/**
 * Where every layer draws its next picture: handing it over (transferToImageBitmap) leaves the
 * canvas blank for the next layer.
 */
let shared: OffscreenCanvas | null = null;
function drawingCanvas(): OffscreenCanvas {
  shared ??= new OffscreenCanvas(1, 1);
  return shared;
}

/**
 * A canvas on the page that shows a picture drawn elsewhere: on an OffscreenCanvas, handed over as
 * an ImageBitmap ("bitmaprenderer"). Without a GPU, Chromium copies every 2D canvas on screen into
 * a new shared bitmap at every frame the page commits, changed or not; a bitmap canvas is handed
 * to the compositor once, when its picture changes. Where the browser has no OffscreenCanvas the
 * layer draws on its own 2D context.
 */
export class BitmapLayer {
  readonly canvas: HTMLCanvasElement;
  private readonly shown: ImageBitmapRenderingContext | null = null;
  private clear = true;

  constructor(className: string) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = className;
    if (bitmaps) this.shown = this.canvas.getContext("bitmaprenderer");
  }

  /** Whether nothing is shown (a layer already clear need not be cleared again: that too costs a frame). */
  get isClear(): boolean {
    return this.clear;
  }

  /**
   * A blank context of `width` × `height` pixels for the layer's next picture, shown by show();
   * null (and nothing shown) for a plot with no area, which no canvas can hand over.
   */
  begin(width: number, height: number): Ctx2D | null {
    if (width < 1 || height < 1) {
      this.erase();
      return null;
    }
    const target = this.shown ? drawingCanvas() : this.canvas;
    if (target.width !== width || target.height !== height) {
      target.width = width;
      target.height = height;
    }
    if (this.shown && (this.canvas.width !== width || this.canvas.height !== height)) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    const ctx = target.getContext("2d") as Ctx2D | null;
    // The drawing canvas is blank after each hand-over; the page's own canvas keeps its last picture.
    if (ctx && !this.shown) ctx.clearRect(0, 0, width, height);
    return ctx;
  }

  /** Shows what was drawn since begin(). */
  show(): void {
    this.clear = false;
    if (this.shown) this.shown.transferFromImageBitmap(drawingCanvas().transferToImageBitmap());
  }

  /** Shows nothing. */
  erase(): void {
    if (this.clear) return;
    this.clear = true;
    if (this.shown) this.shown.transferFromImageBitmap(null);
    else this.canvas.getContext("2d")?.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** Shows a copy of `source` (same size). */
  copy(source: HTMLCanvasElement): void {
    const ctx = this.begin(source.width, source.height);
    if (!ctx) return;
    ctx.drawImage(source, 0, 0);
    this.show();
  }
}

/**
 * Shows uPlot's canvas (axes, grid, lines) through a BitmapLayer over it, copied after each of
 * uPlot's draws, and hides the canvas itself: see BitmapLayer for why. Returns the undo.
 */
export function mirrorPlot(u: uPlot): () => void {
  if (!bitmaps) return () => {};
  const source = u.ctx.canvas;
  const layer = new BitmapLayer("chart-layer chart-mirror");
  source.after(layer.canvas);
  source.classList.add("chart-source");
  const copy = () => layer.copy(source);
  u.hooks.draw = [...(u.hooks.draw ?? []), copy];
  copy();
  return () => {
    u.hooks.draw = (u.hooks.draw ?? []).filter((h) => h !== copy);
    layer.canvas.remove();
    source.classList.remove("chart-source");
  };
}
