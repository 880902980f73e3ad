/**
 * Moves an element on every pointer move without relayering the page, and with little garbage.
 *
 * Chromium moves a composited element by changing its transform directly in the compositor's
 * property trees (no new layerization of the whole page) only while an animation of its transform
 * exists; any other change of the transform, will-change or not, makes it layerize the whole page
 * again: about 2–2.5 ms of main-thread work per frame on the 24-run, 6-chart view
 * (PaintArtifactCompositor::Update in a trace, bench/ui_interaction.mjs). So while an element
 * follows the pointer it is placed by paused animations, one per coordinate, each a linear ramp
 * whose time is its place in pixels: placing it seeks them (`currentTime`). Two earlier ways made
 * more of Blink's garbage, whose collection then stalled a frame of a hover: keyframes replaced
 * on each move, and an inline transform under a running additive identity animation (the
 * additive composition is resolved again whenever the transform under it changes: about six
 * times the garbage of a seek, bench/RESULTS.md perf10g notes).
 *
 * The coordinates go to separate properties, so each has an animation of its own with nothing
 * composited additively: x to `translate` (its x), y to `transform` (translateY), a horizontal
 * scale to `scale`. Chromium applies them as translate · scale · transform, which places the
 * element at (x, y) scaled from its left edge.
 *
 * When no held element has moved for a moment (the pointer rests on a chart), each writes its
 * place as an inline transform and its animations go: an animated element is a composited layer
 * of its own that every frame's commit walks.
 */
export class HeldTransform {
  private animations: Animation[] | null = null;
  private x = 0;
  private y = 0;
  private scaleX = 1;
  /** The place each animation shows now: seeking one to where it is would still restyle it. */
  private shown: number[] = [];

  /** `axes`: the coordinates this element moves along (the others stay at 0 and a scale of 1). */
  constructor(
    private readonly el: HTMLElement,
    private readonly axes: readonly Axis[] = ["x", "y"],
  ) {}

  /**
   * Places the element at (x, y) CSS pixels from its container's corner, scaled `scaleX` wide:
   * by its animations while it is held, else by its inline transform. Call follow() first when it
   * moves with the pointer.
   */
  place(x: number, y: number, scaleX = 1): void {
    this.x = x;
    this.y = y;
    this.scaleX = scaleX;
    if (this.animations) this.seek();
    else this.el.style.transform = this.inline();
  }

  /** The element moves from now on: it is held (where it was last placed) until it rests. */
  follow(): void {
    lastMove = performance.now();
    if (restTimer === undefined) restTimer = setTimeout(restWhenStill, REST_AFTER_MS);
    // No Web Animations (a test DOM): the inline transform alone places the element.
    if (this.animations || typeof this.el.animate !== "function") return;
    // The animations replace the inline transform's parts; left in place, it would add to `translate`.
    this.el.style.transform = "";
    this.animations = this.axes.map((axis) => {
      const animation = this.el.animate(RAMPS[axis], RAMP_TIMING);
      animation.pause();
      return animation;
    });
    this.shown = this.axes.map(() => Number.NaN);
    following.add(this);
    this.seek();
  }

  /** Ends the animations; the inline transform places the element where they left it. */
  rest(): void {
    if (this.animations) {
      this.el.style.transform = this.inline();
      for (const animation of this.animations) animation.cancel();
    }
    this.animations = null;
    following.delete(this);
  }

  get following(): boolean {
    return this.animations !== null;
  }

  private seek(): void {
    const animations = this.animations;
    if (!animations) return;
    for (let i = 0; i < animations.length; i++) {
      const axis = this.axes[i];
      const value = axis === "x" ? this.x : axis === "y" ? this.y : this.scaleX;
      if (this.shown[i] === value) continue;
      this.shown[i] = value;
      animations[i].currentTime = Math.min(Math.max(value, -RANGE), RANGE) + RANGE;
    }
  }

  private inline(): string {
    const move = `translate(${this.x}px, ${this.y}px)`;
    return this.scaleX === 1 ? move : `${move} scaleX(${this.scaleX})`;
  }
}

/** A coordinate a held element moves along: its x, its y, or its horizontal scale. */
export type Axis = "x" | "y" | "scaleX";

/**
 * Each animation is a ramp from -RANGE to RANGE over 2 · RANGE ms, so its time minus RANGE is
 * the place it shows (in pixels, or as a scale). Wider than any page.
 */
const RANGE = 100_000;
const RAMP_TIMING: KeyframeAnimationOptions = { duration: 2 * RANGE, easing: "linear", fill: "both" };
const RAMPS: Record<Axis, Keyframe[]> = {
  x: [{ translate: `${-RANGE}px 0px` }, { translate: `${RANGE}px 0px` }],
  y: [{ transform: `translateY(${-RANGE}px)` }, { transform: `translateY(${RANGE}px)` }],
  scaleX: [{ scale: `${-RANGE} 1` }, { scale: `${RANGE} 1` }],
};

/** The elements held now, and when one last moved. */
const following = new Set<HeldTransform>();
let lastMove = 0;
let restTimer: ReturnType<typeof setTimeout> | undefined;
/** How long the elements stay held without moving. */
const REST_AFTER_MS = 400;

function restWhenStill(): void {
  const still = performance.now() - lastMove;
  if (still < REST_AFTER_MS) {
    restTimer = setTimeout(restWhenStill, REST_AFTER_MS - still);
    return;
  }
  restTimer = undefined;
  for (const hold of [...following]) hold.rest();
}
