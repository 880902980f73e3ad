import { type RefObject, useEffect, useRef } from "react";

/** While a popover is open, Escape or a mouse-down outside all of `inside` closes it. */
export function useDismiss(open: boolean, close: () => void, inside: RefObject<HTMLElement | null>[]): void {
  const latest = useRef({ close, inside });
  latest.current = { close, inside };
  useEffect(() => {
    if (!open) return;
    const onMouseDown = (e: MouseEvent) => {
      const target = e.target as Node;
      if (!latest.current.inside.some((ref) => ref.current?.contains(target))) latest.current.close();
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") latest.current.close();
    };
    document.addEventListener("mousedown", onMouseDown);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("mousedown", onMouseDown);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);
}
