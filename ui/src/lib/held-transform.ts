/**
 * Moves an element on every pointer move without relayering the page.
 *
 * Chromium moves a composited element by changing its transform directly in the compositor's
 * property trees (no new layerization of the whole page) only while a transform animation runs
 * on it; any other change of the transform, will-change or not, makes it layerize the whole page
 * again: about 2–2.5 ms of main-thread work per frame on the 24-run, 6-chart view
 * (PaintArtifactCompositor::Update in a trace, bench/ui_interaction.mjs). So while an element
 * follows the pointer, a running animation that adds nothing to its transform (an identity,
 * composited additively) marks it animated, and its inline transform, written as before, places
 * it. Holding the place in the animation's keyframes instead (replaced on each move) made Blink
 * garbage that its collector swept in 5 ms tasks in the middle of a hover.
 *
 * When no held element has moved for a moment (the pointer rests on a chart), every animation
 * stops: a running one keeps the page making frames.
 */
export class HeldTransform {
  private animation: Animation | null = null;

  constructor(private readonly el: HTMLElement) {}

  /** The element moves now (its inline transform places it): it is held until it rests. */
  follow(): void {
    lastMove = performance.now();
    if (restTimer === undefined) restTimer = setTimeout(restWhenStill, REST_AFTER_MS);
    // No Web Animations (a test DOM): the inline transform alone places the element.
    if (this.animation || typeof this.el.animate !== "function") return;
    this.animation = this.el.animate(IDENTITY, {
      duration: HOLD_MS,
      iterations: Number.POSITIVE_INFINITY,
      composite: "add",
    });
    following.add(this);
  }

  /** Stops the animation; the inline transform places the element as it did all along. */
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

/** One animation iteration (it repeats for as long as it runs). */
const HOLD_MS = 60_000;

const IDENTITY: Keyframe[] = [{ transform: "translate(0px, 0px)" }, { transform: "translate(0px, 0px)" }];
