import { describe, expect, it } from 'vitest';
import {
  addMonths,
  checkExpiryInput,
  defaultExpiry,
  deleteConsequence,
  expiryState,
  formatDate,
  formatLastUsed,
  parseDateInput,
} from './format';

describe('expiry defaults and checks', () => {
  const today = new Date(2026, 0, 15); // 15 Jan 2026, local

  it('defaults to today + 90 days', () => {
    expect(defaultExpiry(today)).toBe('2026-04-15');
    expect(defaultExpiry(new Date(2026, 11, 1))).toBe('2027-03-01');
  });

  it('accepts dates within 12 months without a warning', () => {
    expect(checkExpiryInput('2026-04-15', today).kind).toBe('ok');
    expect(checkExpiryInput('2027-01-15', today).kind).toBe('ok');
  });

  it('warns past 12 months', () => {
    const r = checkExpiryInput('2027-01-16', today);
    expect(r.kind).toBe('long');
    expect(r.kind === 'long' && r.message).toMatch(/more than 12 months/);
  });

  it('refuses today, the past and dates that do not exist', () => {
    expect(checkExpiryInput('2026-01-15', today).kind).toBe('past');
    expect(checkExpiryInput('2025-12-31', today).kind).toBe('past');
    expect(checkExpiryInput('2026-02-30', today).kind).toBe('invalid');
    expect(checkExpiryInput('', today).kind).toBe('invalid');
    expect(parseDateInput('2026-13-01')).toBeNull();
  });

  it('adds months clamping to the end of the month', () => {
    const d = addMonths(new Date(2026, 0, 31), 1);
    expect([d.getFullYear(), d.getMonth(), d.getDate()]).toEqual([2026, 1, 28]);
  });
});

describe('expiryState', () => {
  const now = new Date('2026-03-01T12:00:00Z');
  it('marks expired tokens', () => {
    expect(expiryState('2026-03-01T11:59:59Z', now)).toBe('expired');
    expect(expiryState('2027-01-01T00:00:00Z', now, 'expired')).toBe('expired');
  });
  it('warns within 14 days', () => {
    expect(expiryState('2026-03-15T12:00:00Z', now)).toBe('soon');
    expect(expiryState('2026-03-15T12:00:01Z', now)).toBe('ok');
  });
});

describe('formatting', () => {
  it('says Never for a token never used', () => {
    expect(formatLastUsed(null)).toBe('Never');
    expect(formatLastUsed(undefined)).toBe('Never');
    expect(formatLastUsed('2026-03-01T12:00:00Z')).toMatch(/2026/);
  });
  it('formats expiry dates as the UTC calendar day', () => {
    expect(formatDate('2026-03-01T23:59:59Z')).toBe('1 Mar 2026');
    expect(formatDate(null)).toBe('—');
  });
  it('says what deleting breaks', () => {
    expect(deleteConsequence('api', 3)).toBe('Any integration using these 3 tokens will stop working immediately.');
    expect(deleteConsequence('api', 1)).toBe('Any integration using this token will stop working immediately.');
    expect(deleteConsequence('mobile', 2)).toBe('These users will be signed out of the mobile app.');
  });
});
