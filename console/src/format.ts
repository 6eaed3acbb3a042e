// Dates and display formatting. Pure functions; `now`/`today` are passed in so tests control
// the clock.

export const DAY_MS = 24 * 60 * 60 * 1000;
/** The console pre-fills API token expiry this many days ahead (DESIGN.md rule 3). */
export const DEFAULT_EXPIRY_DAYS = 90;
/** Rows expiring within this many days are warned. */
export const EXPIRY_WARNING_DAYS = 14;

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** A local calendar date as YYYY-MM-DD (what <input type=date> holds). */
export function toDateInput(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Parses YYYY-MM-DD as a local calendar date; null unless it is a real date. */
export function parseDateInput(s: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return null;
  const y = Number(m[1]);
  const mo = Number(m[2]) - 1;
  const d = Number(m[3]);
  const date = new Date(y, mo, d);
  if (date.getFullYear() !== y || date.getMonth() !== mo || date.getDate() !== d) return null;
  return date;
}

/** Adds calendar days (local time, DST-safe). */
export function addDays(d: Date, days: number): Date {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + days);
}

/** Adds calendar months, clamping to the month's last day (31 Jan + 1 month = 28/29 Feb). */
export function addMonths(d: Date, months: number): Date {
  const target = new Date(d.getFullYear(), d.getMonth() + months, 1);
  const last = new Date(target.getFullYear(), target.getMonth() + 1, 0).getDate();
  return new Date(target.getFullYear(), target.getMonth(), Math.min(d.getDate(), last));
}

/** The default expiry for a new API token: today + 90 days, as YYYY-MM-DD. */
export function defaultExpiry(today: Date): string {
  return toDateInput(addDays(today, DEFAULT_EXPIRY_DAYS));
}

export type ExpiryInputCheck =
  | { kind: 'ok' }
  | { kind: 'invalid'; message: string }
  | { kind: 'past'; message: string }
  | { kind: 'long'; message: string };

/**
 * Checks an expiry date typed in the create form. "long" (beyond 12 months) is only a warning:
 * the server enforces the tenant's maximum and says so at the field.
 */
export function checkExpiryInput(value: string, today: Date): ExpiryInputCheck {
  if (!value) return { kind: 'invalid', message: 'Choose an expiry date.' };
  const d = parseDateInput(value);
  if (!d) return { kind: 'invalid', message: 'Enter a real date (YYYY-MM-DD).' };
  const start = new Date(today.getFullYear(), today.getMonth(), today.getDate());
  if (d.getTime() <= start.getTime())
    return { kind: 'past', message: 'The expiry date must be in the future.' };
  if (d.getTime() > addMonths(start, 12).getTime())
    return {
      kind: 'long',
      message:
        'This is more than 12 months away. A token should not live longer than 12 months; choose an earlier date unless you have a reason.',
    };
  return { kind: 'ok' };
}

export type ExpiryState = 'expired' | 'soon' | 'ok';

/** Expired, expiring within 14 days, or fine. `status` from the server wins when expired. */
export function expiryState(expiresAt: string, now: Date, status?: string): ExpiryState {
  const t = Date.parse(expiresAt);
  if (status === 'expired' || (!Number.isNaN(t) && t <= now.getTime())) return 'expired';
  if (!Number.isNaN(t) && t - now.getTime() <= EXPIRY_WARNING_DAYS * DAY_MS) return 'soon';
  return 'ok';
}

/** Whole days from now until `iso` (rounded up), for "Expires in 3 days". */
export function daysUntil(iso: string, now: Date): number {
  return Math.ceil((Date.parse(iso) - now.getTime()) / DAY_MS);
}

const dateFmt = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  timeZone: 'UTC',
});
const dateTimeFmt = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});

/** An expiry date: the calendar day in UTC ("12 Mar 2026"). */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : dateFmt.format(new Date(t));
}

/** A moment in local time ("12 Mar 2026, 14:05"). */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : dateTimeFmt.format(new Date(t));
}

const dayFmt = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric' });

/** The local calendar day of a moment ("12 Mar 2026"), for compact list columns. */
export function formatDay(iso: string | null | undefined): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : dayFmt.format(new Date(t));
}

/** Last Used / Last Active: "Never" when the token was never used. */
export function formatLastUsed(iso: string | null | undefined): string {
  return iso ? formatDateTime(iso) : 'Never';
}

/** "1 token" / "3 tokens". */
export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** What deleting tokens breaks, in the words the confirmation dialog uses. */
export function deleteConsequence(kind: 'api' | 'mobile', n: number): string {
  if (kind === 'api')
    return n === 1
      ? 'Any integration using this token will stop working immediately.'
      : `Any integration using these ${n} tokens will stop working immediately.`;
  return n === 1
    ? 'This user will be signed out of the mobile app.'
    : 'These users will be signed out of the mobile app.';
}
