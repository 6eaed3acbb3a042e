// The frame of every signed-in page: top bar, left navigation, notices, content.
import type { ComponentChildren } from 'preact';
import type { Route } from '../router';
import { useSession } from '../session';
import { Banner } from './ui';

const NAV: { label: string; href: string; pages: Route['page'][]; permission: string }[] = [
  { label: 'Tokens', href: '#/tokens/api', pages: ['tokens', 'token', 'create-token'], permission: 'tokens:read' },
  { label: 'Users', href: '#/users', pages: ['users'], permission: 'users:read' },
  { label: 'Departments', href: '#/departments', pages: ['departments'], permission: 'departments:read' },
  { label: 'User Types', href: '#/user-types', pages: ['user-types'], permission: 'user_types:read' },
  { label: 'Audit', href: '#/audit', pages: ['audit'], permission: 'audit:read' },
];

export function Layout({
  route,
  onSignOut,
  children,
}: {
  route: Route;
  onSignOut: () => void;
  children: ComponentChildren;
}) {
  const s = useSession();
  const name = s.me.user.display_name || s.me.user.username;
  return (
    <div class="shell">
      <a class="skip-link" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById('main')?.focus();
      }}>
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="#/tokens/api">
          <span class="brand__mark" aria-hidden="true" />
          <span class="brand__name">tokend</span>
        </a>
        <div class="topbar__user">
          <span class="topbar__who">
            <span class="topbar__name">{name}</span>
            <span class="topbar__tenant">
              Tenant <code>{s.me.tenant_id}</code>
            </span>
          </span>
          <button type="button" class="button button--quiet" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <nav class="sidenav" aria-label="Main">
        <h2 class="sidenav__section" id="nav-admin">
          Administrator
        </h2>
        <ul class="sidenav__list" aria-labelledby="nav-admin">
          {NAV.map((item) => {
            const current = item.pages.includes(route.page);
            return (
              <li key={item.href}>
                <a
                  class={`sidenav__link${current ? ' sidenav__link--current' : ''}`}
                  href={item.href}
                  aria-current={current ? 'page' : undefined}
                >
                  {item.label}
                </a>
              </li>
            );
          })}
        </ul>
      </nav>
      <main class="main" id="main" tabIndex={-1}>
        {s.notices.length > 0 && (
          <div class="notices">
            {s.notices.map((n) => (
              <Banner key={n.id} tone={n.tone} onDismiss={() => s.dismiss(n.id)}>
                {n.text}
              </Banner>
            ))}
          </div>
        )}
        {children}
      </main>
    </div>
  );
}
