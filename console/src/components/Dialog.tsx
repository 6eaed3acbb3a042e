// A real modal <dialog> opened with showModal(): the browser traps focus and makes the rest of
// the page inert; Escape closes it (the "cancel" event); focus returns to the element that had
// it when the dialog opened.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

let nextId = 0;

export interface DialogProps {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  /** Buttons, right-aligned at the bottom. */
  actions?: ComponentChildren;
  /** "danger" styles the title bar for destructive confirmations. */
  tone?: 'default' | 'danger';
  wide?: boolean;
  /** Don't let Escape close it (while a request runs). */
  busy?: boolean;
}

export function Dialog({ title, onClose, children, actions, tone, wide, busy }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useRef(`dialog-title-${++nextId}`).current;
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;
  const busyRef = useRef(busy);
  busyRef.current = busy;

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const opener = document.activeElement as HTMLElement | null;
    if (typeof d.showModal === 'function' && !d.open) d.showModal();
    else d.setAttribute('open', '');
    const onCancel = (e: Event) => {
      e.preventDefault();
      if (!busyRef.current) onCloseRef.current();
    };
    d.addEventListener('cancel', onCancel);
    return () => {
      d.removeEventListener('cancel', onCancel);
      if (d.open && typeof d.close === 'function') d.close();
      if (opener && document.contains(opener)) opener.focus();
    };
  }, []);

  return (
    <dialog
      ref={ref}
      class={`dialog${wide ? ' dialog--wide' : ''}${tone === 'danger' ? ' dialog--danger' : ''}`}
      aria-labelledby={titleId}
    >
      <div class="dialog__header">
        <h2 id={titleId} class="dialog__title">
          {title}
        </h2>
        <button
          type="button"
          class="icon-button"
          aria-label="Close"
          onClick={() => !busy && onClose()}
        >
          <span aria-hidden="true">×</span>
        </button>
      </div>
      <div class="dialog__body">{children}</div>
      {actions && <div class="dialog__actions">{actions}</div>}
    </dialog>
  );
}

export interface ConfirmDialogProps {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  onConfirm: () => void;
  onClose: () => void;
  busy?: boolean;
  error?: string | null;
}

/** A destructive confirmation: Cancel has the initial focus, the action is red. */
export function ConfirmDialog(p: ConfirmDialogProps) {
  return (
    <Dialog
      title={p.title}
      onClose={p.onClose}
      tone="danger"
      busy={p.busy}
      actions={
        <>
          <button type="button" class="button" onClick={p.onClose} disabled={p.busy} autofocus>
            Cancel
          </button>
          <button
            type="button"
            class="button button--danger"
            onClick={p.onConfirm}
            disabled={p.busy}
            aria-busy={p.busy ? 'true' : undefined}
          >
            {p.busy ? 'Deleting…' : p.confirmLabel}
          </button>
        </>
      }
    >
      {p.error && (
        <div class="banner banner--error" role="alert">
          {p.error}
        </div>
      )}
      {p.children}
    </Dialog>
  );
}
