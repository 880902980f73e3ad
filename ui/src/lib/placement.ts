/**
 * Where a tooltip `width` wide goes beside a pointer at `x` (CSS pixels from the chart's left) in
 * a chart `chartWidth` wide: on its right if it fits, else on its left if it fits, else against
 * the chart's right or left edge, whichever leaves the pointer less deep under it.
 */
export function tooltipLeft(x: number, width: number, chartWidth: number): number {
  const gap = 14;
  if (x + gap + width <= chartWidth) return x + gap;
  if (x - gap - width >= 0) return x - gap - width;
  const atRight = Math.max(0, chartWidth - width);
  return x - atRight <= width - x ? atRight : 0;
}
