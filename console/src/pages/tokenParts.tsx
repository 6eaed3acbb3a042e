// Pieces shared by the token list and the token detail.
import type { Token } from '../api';
import { StatusBadge } from '../components/ui';
import { ConfirmDialog } from '../components/Dialog';
import { daysUntil, deleteConsequence, expiryState, formatDate, plural } from '../format';

/** The name a token is known by in lists and dialogs. */
export function tokenLabel(t: Token): string {
  return t.kind === 'api' ? t.name : t.user.username;
}

export function kindNoun(kind: 'api' | 'mobile', n: number): string {
  return kind === 'api' ? plural(n, 'API token', 'API tokens') : plural(n, 'mobile token', 'mobile tokens');
}

/** Expiry date with "Expired" / "Expires in N days" markers. */
export function ExpiryValue({ token, now }: { token: Token; now: Date }) {
  const state = expiryState(token.expires_at, now, token.status);
  const days = daysUntil(token.expires_at, now);
  return (
    <span class="expiry">
      <span class="expiry__date">{formatDate(token.expires_at)}</span>
      {state === 'expired' && <StatusBadge tone="danger">Expired</StatusBadge>}
      {state === 'soon' && (
        <StatusBadge tone="warning">
          {days <= 1 ? 'Expires within a day' : `Expires in ${days} days`}
        </StatusBadge>
      )}
    </span>
  );
}

/** The confirmation for deleting one or more tokens of one kind. */
export function DeleteTokensDialog({
  kind,
  names,
  busy,
  error,
  onConfirm,
  onClose,
}: {
  kind: 'api' | 'mobile';
  names: string[];
  busy: boolean;
  error: string | null;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const n = names.length;
  const shown = names.slice(0, 5);
  return (
    <ConfirmDialog
      title={`Delete ${kindNoun(kind, n)}?`}
      confirmLabel={n === 1 ? 'Delete token' : `Delete ${n} tokens`}
      onConfirm={onConfirm}
      onClose={onClose}
      busy={busy}
      error={error}
    >
      <p class="dialog__lead">{deleteConsequence(kind, n)}</p>
      <ul class="name-list">
        {shown.map((name, i) => (
          <li key={i}>{name}</li>
        ))}
        {n > shown.length && <li class="muted">and {n - shown.length} more</li>}
      </ul>
      <p class="muted">Deleted tokens are revoked at once and cannot be restored.</p>
    </ConfirmDialog>
  );
}
