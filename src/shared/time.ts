/**
 * Timestamps. The ledger stores every time as canonical UTC with nine fraction
 * digits (`2025-10-12T07:43:03.453438000Z`): fixed width, so text order is time
 * order in SQL, and no precision is lost from Beads' nanosecond local-offset
 * timestamps. Output uses Go's RFC3339Nano (trailing zeros trimmed), as `bd` does.
 */
import { validationError } from './errors.js';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:?\d{2})$/;

/** Parses any RFC3339 time (any offset, 0–9 fraction digits) into canonical UTC, or undefined. */
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function canonicalTime(text: string): string | undefined {
  const m = RFC3339.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  if (zone === 'Z' || zone === 'z' || zone === '+00:00' || zone === '-00:00') {
    // Already UTC: validate the fields and build the string directly (imports read hundreds of thousands).
    const year = Number(y);
    const month = Number(mo);
    const day = Number(d);
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    const maxDay = month === 2 && !leap ? 28 : (DAYS_IN_MONTH[month - 1] ?? 0);
    if (month < 1 || day < 1 || day > maxDay || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return undefined;
    return `${y}-${mo}-${d}T${h}:${mi}:${s === '60' ? '59' : s}.${frac.padEnd(9, '0')}Z`;
  }
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2)));
  }
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) - offsetMinutes * 60_000;
  if (Number.isNaN(ms)) return undefined;
  const date = new Date(ms);
  // Reject calendar overflow such as 2025-02-31 (Date.UTC would roll it over).
  const local = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (local.getUTCDate() !== Number(d) || local.getUTCMonth() !== Number(mo) - 1) return undefined;
  return `${date.toISOString().slice(0, 19)}.${frac.padEnd(9, '0')}Z`;
}

/** Canonical form, or a validation error naming the field. */
export function requireTime(text: string, field: string): string {
  const t = canonicalTime(text);
  if (t === undefined) throw validationError(`invalid ${field} timestamp ${JSON.stringify(text)}`, 'use RFC3339, e.g. 2026-01-17T17:38:21Z');
  return t;
}

/** Go's RFC3339Nano rendering of a canonical time. */
export function formatTime(canonical: string): string {
  const dot = canonical.indexOf('.');
  if (dot < 0) return canonical;
  const frac = canonical.slice(dot + 1, -1).replace(/0+$/, '');
  return frac === '' ? `${canonical.slice(0, dot)}Z` : `${canonical.slice(0, dot)}.${frac}Z`;
}

let lastNanos = 0n;

/**
 * Now, canonical, strictly increasing within this process. Sub-millisecond digits
 * come from the monotonic clock, so two creates in one millisecond still differ
 * (the ID hash includes the nanosecond time).
 */
export function nowTime(): string {
  const ms = BigInt(Date.now());
  let nanos = ms * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  if (nanos <= lastNanos) nanos = lastNanos + 1n;
  lastNanos = nanos;
  return fromUnixNanos(nanos);
}

export function fromUnixNanos(nanos: bigint): string {
  const ms = Number(nanos / 1_000_000n);
  const frac = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

export function unixNanos(canonical: string): bigint {
  const seconds = BigInt(Date.parse(`${canonical.slice(0, 19)}Z`)) / 1000n;
  const dot = canonical.indexOf('.');
  const frac = dot < 0 ? 0n : BigInt(canonical.slice(dot + 1, -1).padEnd(9, '0'));
  return seconds * 1_000_000_000n + frac;
}

export function fromDate(date: Date): string {
  return fromUnixNanos(BigInt(date.getTime()) * 1_000_000n);
}

const DURATION = /^([+-]?)(\d+)\s*(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Parses the times users type for --due/--defer/--since: `+6h`, `-2d`, `30m`,
 * `now`, `today`, `tomorrow`, `2025-01-15`, `2025-01-15 10:00`, or RFC3339.
 * Returns canonical UTC or undefined.
 */
export function parseWhen(text: string, now: Date = new Date()): string | undefined {
  const t = text.trim().toLowerCase();
  const rel = DURATION.exec(t);
  if (rel) {
    const [, sign, n, unit = 's'] = rel;
    const delta = Number(n) * (UNIT_MS[unit] ?? 0);
    return fromDate(new Date(now.getTime() + (sign === '-' ? -delta : delta)));
  }
  if (t === 'now') return fromDate(now);
  if (t === 'today' || t === 'tomorrow' || t === 'yesterday') {
    const day = new Date(now);
    day.setHours(0, 0, 0, 0);
    day.setDate(day.getDate() + (t === 'tomorrow' ? 1 : t === 'yesterday' ? -1 : 0));
    if (t === 'tomorrow') day.setHours(9);
    return fromDate(day);
  }
  const local = /^(\d{4})-(\d{2})-(\d{2})(?:[ t](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(t);
  if (local) {
    const [, y, mo, d, h = '0', mi = '0', s = '0'] = local;
    const date = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
    if (Number.isNaN(date.getTime()) || date.getDate() !== Number(d)) return undefined;
    return fromDate(date);
  }
  return canonicalTime(text);
}
