/**
 * The run whose line is nearest the pointer on the hovered chart. Its row in
 * the run table is marked with a `data-hovered` attribute set here directly:
 * hover changes at pointer speed, and a React render of the whole table per
 * move would cost more than the frame has.
 */
let hovered: string | null = null;

function rowOf(runId: string): Element | null {
  return document.querySelector(`[data-testid=run-row][data-run-id="${CSS.escape(runId)}"]`);
}

export function setHoveredRun(runId: string | null): void {
  if (runId === hovered) return;
  if (hovered) rowOf(hovered)?.removeAttribute("data-hovered");
  hovered = runId;
  if (runId) rowOf(runId)?.setAttribute("data-hovered", "");
}

export function hoveredRun(): string | null {
  return hovered;
}
