// Inspecting a token: exactly the guide's fields for each kind.
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../api';
import type { ApiToken, MobileToken, Token } from '../api';
import { Banner, CopyButton, PageHeader, Spinner } from '../components/ui';
import { formatDateTime, formatLastUsed } from '../format';
import { href, navigate } from '../router';
import { useSession } from '../session';
import { DeleteTokensDialog, ExpiryValue, kindNoun, tokenLabel } from './tokenParts';

export function TokenDetailPage({ kind, id }: { kind: 'api' | 'mobile'; id: string }) {
  const s = useSession();
  const [token, setToken] = useState<Token | null>(null);
  const [error, setError] = useState<{ message: string; notFound: boolean } | null>(null);
  const [deleting, setDeleting] = useState(false);
  const [deleteBusy, setDeleteBusy] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    s.api
      .getToken(id)
      .then((t) => live && setToken(t))
      .catch(
        (err) =>
          live &&
          setError({
            message: errorMessage(err),
            notFound: err instanceof ApiError && err.status === 404,
          }),
      );
    return () => {
      live = false;
    };
  }, [id]);

  const listHref = href({ page: 'tokens', kind });
  const listName = kind === 'api' ? 'API Tokens' : 'Mobile Users Logged In';
  const breadcrumb = (
    <>
      <a href={listHref}>Tokens</a>
      <span aria-hidden="true" class="breadcrumb__sep">
        /
      </span>
      <a href={listHref}>{listName}</a>
    </>
  );

  if (error) {
    return (
      <div class="page">
        <PageHeader title={error.notFound ? 'Token not found' : 'Token'} breadcrumb={breadcrumb} />
        <Banner tone="error">
          {error.notFound
            ? 'This token does not exist or has been deleted.'
            : error.message}
        </Banner>
        <a class="button" href={listHref}>
          Back to {listName}
        </a>
      </div>
    );
  }
  if (!token) {
    return (
      <div class="page">
        <PageHeader title="Token" breadcrumb={breadcrumb} />
        <Spinner label="Loading the token…" />
      </div>
    );
  }

  const confirmDelete = async () => {
    setDeleteBusy(true);
    setDeleteError(null);
    try {
      await s.api.deleteToken(token.id);
      s.notify('success', `Deleted ${kindNoun(token.kind, 1)} “${tokenLabel(token)}”.`);
      navigate(href({ page: 'tokens', kind: token.kind }));
    } catch (err) {
      setDeleteBusy(false);
      setDeleteError(errorMessage(err));
    }
  };

  return (
    <div class="page">
      <PageHeader
        title={tokenLabel(token)}
        breadcrumb={breadcrumb}
        description={
          token.kind === 'api'
            ? token.description || 'API token'
            : `Mobile app session${token.device_name ? ` on ${token.device_name}` : ''} · signed in ${formatDateTime(token.created_at)}`
        }
        actions={
          s.can('tokens:write') && (
            <button
              type="button"
              class="button button--danger"
              onClick={() => {
                setDeleteError(null);
                setDeleting(true);
              }}
            >
              <span class="icon icon--trash" aria-hidden="true" />
              {token.kind === 'api' ? 'Delete token' : 'Delete (sign out)'}
            </button>
          )
        }
      />
      {token.kind === 'api' ? <ApiTokenFields token={token} /> : <MobileTokenFields token={token} />}
      {deleting && (
        <DeleteTokensDialog
          kind={token.kind}
          names={[tokenLabel(token)]}
          busy={deleteBusy}
          error={deleteError}
          onConfirm={confirmDelete}
          onClose={() => setDeleting(false)}
        />
      )}
    </div>
  );
}

function Row({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="details__row">
      <dt class="details__label">{label}</dt>
      <dd class="details__value">{children}</dd>
    </div>
  );
}

function UserValue({ user }: { user: Token['user'] }) {
  return (
    <>
      <span class="cell-main">{user.display_name || user.username}</span>
      <span class="cell-sub">
        {user.username}
        {user.email ? ` · ${user.email}` : ''}
      </span>
    </>
  );
}

function ApiTokenFields({ token }: { token: ApiToken }) {
  const s = useSession();
  const now = useMemo(() => new Date(), [token]);
  const [revealed, setRevealed] = useState<string | null>(null);
  const [revealBusy, setRevealBusy] = useState(false);
  const [revealError, setRevealError] = useState<string | null>(null);

  const reveal = async (): Promise<string> => {
    if (revealed) return revealed;
    setRevealBusy(true);
    setRevealError(null);
    try {
      const r = await s.api.revealToken(token.id);
      setRevealed(r.token);
      return r.token;
    } catch (err) {
      setRevealError(errorMessage(err));
      throw err;
    } finally {
      setRevealBusy(false);
    }
  };

  return (
    <section class="card" aria-label="Token details">
      <dl class="details">
        <Row label="Token Name">{token.name}</Row>
        <Row label="API Token">
          <div class="secret">
            <code class={`secret__value${revealed ? ' secret__value--revealed' : ''}`} data-testid="api-token-value">
              {revealed ?? maskHint(token.token_hint)}
            </code>
            {token.revealable && (
              <div class="secret__actions">
                {revealed ? (
                  <button type="button" class="button button--small" onClick={() => setRevealed(null)}>
                    Hide
                  </button>
                ) : (
                  <button
                    type="button"
                    class="button button--small"
                    disabled={revealBusy}
                    onClick={() => void reveal().catch(() => {})}
                  >
                    <span class="icon icon--eye" aria-hidden="true" />
                    {revealBusy ? 'Revealing…' : 'Reveal'}
                  </button>
                )}
                <CopyButton class="button button--small" ariaLabel="Copy API token" getText={reveal} />
              </div>
            )}
          </div>
          {!token.revealable && (
            <p class="field__hint">
              The full token was shown once, when it was created; it cannot be shown again.
            </p>
          )}
          {revealError && <p class="field__error" role="alert">{revealError}</p>}
        </Row>
        <Row label="Tenant Id">
          <code class="code-inline">{token.tenant_id}</code>
        </Row>
        <Row label="Description of Use">
          <pre class="usage">{token.usage}</pre>
        </Row>
        <Row label="Expiry Date">
          <ExpiryValue token={token} now={now} />
        </Row>
        <Row label="Associated User">
          <UserValue user={token.user} />
        </Row>
        <Row label="Department and User Type">
          <span class="pair">
            <span class="chip">{token.department.name}</span>
            <span class="pair__sep" aria-hidden="true">
              ·
            </span>
            <span class="chip chip--type">{token.user_type.name}</span>
          </span>
        </Row>
      </dl>
      <p class="details__footer muted">
        Created {formatDateTime(token.created_at)}
        {token.created_by ? ` by ${token.created_by.username}` : ''} · Last used:{' '}
        {formatLastUsed(token.last_used_at)}
        {token.last_used_ip ? ` from ${token.last_used_ip}` : ''}
      </p>
    </section>
  );
}

/** "tka_…abcd" → "tka_••••••••••••abcd" (whatever the hint's separator). */
export function maskHint(hint: string): string {
  const m = /^([a-z]+_)?(?:[.…*•\s]*)(.*)$/u.exec(hint ?? '');
  if (!m) return hint;
  const prefix = m[1] ?? '';
  const tail = m[2] ?? '';
  return `${prefix}${'•'.repeat(16)}${tail}`;
}

function MobileTokenFields({ token }: { token: MobileToken }) {
  const now = useMemo(() => new Date(), [token]);
  return (
    <section class="card" aria-label="Token details">
      <dl class="details">
        <Row label="User Name">{token.user.username}</Row>
        <Row label="Email">{token.user.email || '—'}</Row>
        <Row label="Department">{token.department.name}</Row>
        <Row label="User Type">{token.user_type.name}</Row>
        <Row label="Last Active">{formatLastUsed(token.last_active_at)}</Row>
        <Row label="Expiry Date">
          <ExpiryValue token={token} now={now} />
        </Row>
      </dl>
    </section>
  );
}
