import { type ReactNode, useEffect, useRef, useState } from "react";

export interface ConfirmProps {
  title: string;
  body: ReactNode;
  confirmLabel: string;
  onConfirm(): Promise<void> | void;
  onClose(): void;
}

/** A modal asking before something that cannot be undone. */
export function ConfirmDialog({ title, body, confirmLabel, onConfirm, onClose }: ConfirmProps) {
  const [busy, setBusy] = useState(false);
  const cancelRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    cancelRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a click beside the dialog cancels it, as Escape does
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="modal" role="dialog" aria-modal="true" aria-label={title} data-testid="confirm-dialog">
        <h3>{title}</h3>
        <div className="modal-body">{body}</div>
        <div className="modal-actions">
          <button type="button" className="btn" ref={cancelRef} onClick={onClose} data-testid="confirm-cancel">
            Cancel
          </button>
          <button
            type="button"
            className="btn btn-danger"
            disabled={busy}
            data-testid="confirm-ok"
            onClick={async () => {
              setBusy(true);
              try {
                await onConfirm();
              } finally {
                setBusy(false);
              }
            }}
          >
            {busy ? "Deleting…" : confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}
