// Small building blocks shared by the pages.
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export function Banner({
  tone,
  children,
  onDismiss,
}: {
  tone: 'error' | 'info' | 'success' | 'warning';
  children: ComponentChildren;
  onDismiss?: () => void;
}) {
  return (
    <div class={`banner banner--${tone}`} role={tone === 'error' ? 'alert' : 'status'}>
      <div class="banner__text">{children}</div>
      {onDismiss && (
        <button type="button" class="icon-button" aria-label="Dismiss" onClick={onDismiss}>
          <span aria-hidden="true">×</span>
        </button>
      )}
    </div>
  );
}

let fieldSeq = 0;
export function useId(prefix: string): string {
  return useRef(`${prefix}-${++fieldSeq}`).current;
}

/**
 * A labelled form field: label, control (rendered by `children(id, describedBy)`), hint,
 * warning and error. The error is announced and linked to the control.
 */
export function Field({
  label,
  hint,
  warning,
  error,
  optional,
  children,
}: {
  label: string;
  hint?: ComponentChildren;
  warning?: string | null;
  error?: string | null;
  optional?: boolean;
  children: (id: string, describedBy: string | undefined, invalid: boolean) => JSX.Element;
}) {
  const id = useId('field');
  const ids: string[] = [];
  if (hint) ids.push(`${id}-hint`);
  if (warning) ids.push(`${id}-warning`);
  if (error) ids.push(`${id}-error`);
  return (
    <div class={`field${error ? ' field--invalid' : ''}`}>
      <label class="field__label" for={id}>
        {label}
        {optional && <span class="field__optional"> (optional)</span>}
      </label>
      {children(id, ids.length ? ids.join(' ') : undefined, !!error)}
      {hint && (
        <p class="field__hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {warning && (
        <p class="field__warning" id={`${id}-warning`}>
          <span aria-hidden="true" class="field__icon">
            !
          </span>
          {warning}
        </p>
      )}
      {error && (
        <p class="field__error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

export function Spinner({ label = 'Loading…' }: { label?: string }) {
  return (
    <div class="loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

export function EmptyState({
  title,
  children,
  action,
}: {
  title: string;
  children?: ComponentChildren;
  action?: ComponentChildren;
}) {
  return (
    <div class="empty">
      <div class="empty__icon" aria-hidden="true" />
      <p class="empty__title">{title}</p>
      {children && <p class="empty__text">{children}</p>}
      {action && <div class="empty__action">{action}</div>}
    </div>
  );
}

export function PageHeader({
  title,
  description,
  actions,
  breadcrumb,
}: {
  title: string;
  description?: ComponentChildren;
  actions?: ComponentChildren;
  breadcrumb?: ComponentChildren;
}) {
  return (
    <header class="page-header">
      {breadcrumb && <nav class="breadcrumb" aria-label="Breadcrumb">{breadcrumb}</nav>}
      <div class="page-header__row">
        <div class="page-header__text">
          <h1 class="page-header__title">{title}</h1>
          {description && <p class="page-header__description">{description}</p>}
        </div>
        {actions && <div class="page-header__actions">{actions}</div>}
      </div>
    </header>
  );
}

/** A sortable column header: a button inside <th scope="col"> with aria-sort. */
export function SortHeader({
  label,
  column,
  sort,
  onSort,
  class: cls,
}: {
  label: string;
  column: string;
  sort: string;
  onSort: (column: string) => void;
  class?: string;
}) {
  const active = sort === column || sort === `-${column}`;
  const dir = sort.startsWith('-') ? 'descending' : 'ascending';
  return (
    <th scope="col" class={cls} aria-sort={active ? dir : 'none'}>
      <button type="button" class="sort-button" onClick={() => onSort(column)}>
        {label}
        <span class={`sort-icon${active ? ` sort-icon--${dir}` : ''}`} aria-hidden="true" />
      </button>
    </th>
  );
}

export function Pager({
  page,
  hasPrevious,
  hasNext,
  onPrevious,
  onNext,
  busy,
}: {
  page: number;
  hasPrevious: boolean;
  hasNext: boolean;
  onPrevious: () => void;
  onNext: () => void;
  busy?: boolean;
}) {
  if (!hasPrevious && !hasNext) return null;
  return (
    <nav class="pager" aria-label="Pagination">
      <button type="button" class="button" disabled={!hasPrevious || busy} onClick={onPrevious}>
        Previous
      </button>
      <span class="pager__page">Page {page}</span>
      <button type="button" class="button" disabled={!hasNext || busy} onClick={onNext}>
        Next
      </button>
    </nav>
  );
}

/** A checkbox whose "some selected" state shows as indeterminate. */
export function Checkbox({
  checked,
  indeterminate,
  label,
  onChange,
  disabled,
}: {
  checked: boolean;
  indeterminate?: boolean;
  label: string;
  onChange: () => void;
  disabled?: boolean;
}) {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (ref.current) ref.current.indeterminate = !!indeterminate;
  }, [indeterminate]);
  return (
    <input
      ref={ref}
      type="checkbox"
      class="checkbox"
      checked={checked}
      aria-label={label}
      disabled={disabled}
      onClick={(e) => e.stopPropagation()}
      onChange={onChange}
    />
  );
}

/** Copies text to the clipboard; falls back to a hidden textarea and execCommand. */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the legacy path
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.className = 'visually-hidden';
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

/** A Copy button that says "Copied" for a moment. `getText` may fetch (reveal) first. */
export function CopyButton({
  getText,
  label = 'Copy',
  class: cls = 'button',
  ariaLabel,
  onError,
}: {
  getText: () => Promise<string> | string;
  label?: string;
  class?: string;
  ariaLabel?: string;
  onError?: (err: unknown) => void;
}) {
  const [state, setState] = useState<'idle' | 'busy' | 'copied' | 'failed'>('idle');
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const onClick = async () => {
    setState('busy');
    try {
      const ok = await copyText(await getText());
      setState(ok ? 'copied' : 'failed');
    } catch (err) {
      setState('idle');
      onError?.(err);
      return;
    }
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setState('idle'), 2000);
  };
  return (
    <>
      <button
        type="button"
        class={cls}
        onClick={onClick}
        disabled={state === 'busy'}
        aria-label={ariaLabel}
      >
        <span class="icon icon--copy" aria-hidden="true" />
        {state === 'copied' ? 'Copied' : label}
      </button>
      <span class="visually-hidden" role="status" aria-live="polite">
        {state === 'copied' ? 'Copied to the clipboard' : state === 'failed' ? 'Copy failed' : ''}
      </span>
    </>
  );
}

export function StatusBadge({
  tone,
  children,
}: {
  tone: 'neutral' | 'success' | 'warning' | 'danger';
  children: ComponentChildren;
}) {
  return <span class={`badge badge--${tone}`}>{children}</span>;
}
