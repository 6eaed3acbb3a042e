// What every page of a signed-in console shares: the API client, the caller (/api/v1/me),
// the tenant's departments and user types (for names and filters), and page notices.
import { createContext } from 'preact';
import type { ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useMemo, useState } from 'preact/hooks';
import type { ApiClient, Department, Me, UserType } from './api';

export interface Notice {
  id: number;
  tone: 'success' | 'error' | 'info';
  text: string;
}

export interface Session {
  api: ApiClient;
  me: Me;
  can: (permission: string) => boolean;
  departments: Department[] | null;
  userTypes: UserType[] | null;
  reloadDirectory: () => void;
  notify: (tone: Notice['tone'], text: string) => void;
  notices: Notice[];
  dismiss: (id: number) => void;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

let noticeSeq = 0;

export function SessionProvider({
  api,
  me,
  children,
}: {
  api: ApiClient;
  me: Me;
  children: ComponentChildren;
}) {
  const [departments, setDepartments] = useState<Department[] | null>(null);
  const [userTypes, setUserTypes] = useState<UserType[] | null>(null);
  const [generation, setGeneration] = useState(0);
  const [notices, setNotices] = useState<Notice[]>([]);
  const permissions = useMemo(() => new Set(me.permissions ?? []), [me]);
  const can = useCallback((p: string) => permissions.has(p), [permissions]);

  useEffect(() => {
    let live = true;
    if (can('departments:read') || !me.permissions) {
      api
        .listDepartments()
        .then((d) => live && setDepartments(d))
        .catch(() => live && setDepartments([]));
    } else setDepartments([]);
    if (can('user_types:read') || !me.permissions) {
      api
        .listUserTypes()
        .then((t) => live && setUserTypes(t))
        .catch(() => live && setUserTypes([]));
    } else setUserTypes([]);
    return () => {
      live = false;
    };
  }, [api, generation, can, me]);

  const notify = useCallback((tone: Notice['tone'], text: string) => {
    const id = ++noticeSeq;
    setNotices((n) => [...n.slice(-2), { id, tone, text }]);
    if (tone !== 'error') window.setTimeout(() => setNotices((n) => n.filter((x) => x.id !== id)), 6000);
  }, []);
  const dismiss = useCallback((id: number) => setNotices((n) => n.filter((x) => x.id !== id)), []);
  const reloadDirectory = useCallback(() => setGeneration((g) => g + 1), []);

  const value = useMemo<Session>(
    () => ({ api, me, can, departments, userTypes, reloadDirectory, notify, notices, dismiss }),
    [api, me, can, departments, userTypes, reloadDirectory, notify, notices, dismiss],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

/** Department id → name. */
export function departmentName(s: Session, id: string): string {
  return s.departments?.find((d) => d.id === id)?.name ?? id;
}

/** User type id → name. */
export function userTypeName(s: Session, id: string): string {
  return s.userTypes?.find((t) => t.id === id)?.name ?? id;
}

/**
 * Departments in tree order with their depth, for indented selects and the tree page.
 * Orphans (parent outside the caller's view) are shown as roots.
 */
export function departmentTree(departments: Department[]): { dept: Department; depth: number }[] {
  const ids = new Set(departments.map((d) => d.id));
  const children = new Map<string | null, Department[]>();
  for (const d of departments) {
    const parent = d.parent_id && ids.has(d.parent_id) ? d.parent_id : null;
    const list = children.get(parent) ?? [];
    list.push(d);
    children.set(parent, list);
  }
  for (const list of children.values()) list.sort((a, b) => a.name.localeCompare(b.name));
  const out: { dept: Department; depth: number }[] = [];
  const seen = new Set<string>();
  const walk = (parent: string | null, depth: number) => {
    for (const d of children.get(parent) ?? []) {
      if (seen.has(d.id)) continue;
      seen.add(d.id);
      out.push({ dept: d, depth });
      walk(d.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}
