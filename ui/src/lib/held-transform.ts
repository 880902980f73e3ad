/**
 * Moves an element on every pointer move without relayering the page.
 *
 * Chromium moves a composited element by changing its transform on the compositor alone only
 * while a transform animation runs on it; any other change of the transform (inline style,
 * will-change or not) makes it layerize the whole page again, about 2–2.5 ms of main-thread
 * work per frame on the 24-run, 6-chart view (PaintArtifactCompositor::Update in a trace,
 * bench/ui_interaction.mjs). So while an element follows the pointer, its place is held by a
 * running animation whose two keyframes are that place, replaced on each move. At rest the
 * animation is cancelled (a running one costs the compositor a frame per display refresh) and
 * the inline transform, which the animation was hiding, holds the place.
 *
 * The element's inline `transform` stays the place it should have, so code that writes it
 * (uPlot's crosshair) keeps doing so, and `follow()` mirrors it into the animation. When no
 * element has moved for a moment (the pointer rests on a chart), every animation stops.
 */
export class HeldTransform {
  private animation: Animation | null = null;
  private held = "";

  constructor(private readonly el: HTMLElement) {}

  /** While following, the element's inline transform is carried over to the animation holding it. */
  follow(): void {
    lastMove = performance.now();
    if (restTimer === undefined) restTimer = setTimeout(restWhenStill, REST_AFTER_MS);
    const transform = this.el.style.transform || "none";
    if (!this.animation) {
      // No Web Animations (a test DOM): the inline transform alone places the element.
      if (typeof this.el.animate !== "function") return;
      this.held = transform;
      this.animation = this.el.animate(keyframes(transform), {
        duration: HOLD_MS,
        iterations: Number.POSITIVE_INFINITY,
      });
      following.add(this);
      return;
    }
    if (transform === this.held) return;
    this.held = transform;
    (this.animation.effect as KeyframeEffect).setKeyframes(keyframes(transform));
  }

  /** Lets the inline transform place the element again and stops the animation. */
  rest(): void {
    this.animation?.cancel();
    this.animation = null;
    following.delete(this);
  }

  get following(): boolean {
    return this.animation !== null;
  }
}

/** The elements held now, and when one last moved. */
const following = new Set<HeldTransform>();
let lastMove = 0;
let restTimer: ReturnType<typeof setTimeout> | undefined;
/** How long the elements stay held without moving: a running animation costs the compositor a frame per refresh. */
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

/** One animation iteration (it repeats for as long as it runs). */
const HOLD_MS = 60_000;

const keyframes = (transform: string): Keyframe[] => [{ transform }, { transform }];
