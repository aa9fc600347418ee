import { describe, expect, it } from 'vitest';
import { canonicalTime, formatTime, parseWhen } from '../../src/shared/time.js';

describe('timestamps', () => {
  it('normalizes a local-offset nanosecond time to UTC without losing digits', () => {
    expect(canonicalTime('2025-10-12T00:43:03.453438-07:00')).toBe('2025-10-12T07:43:03.453438000Z');
    expect(formatTime('2025-10-12T07:43:03.453438000Z')).toBe('2025-10-12T07:43:03.453438Z');
  });

  it('renders whole seconds without a fraction, as Go does', () => {
    expect(formatTime(canonicalTime('2026-01-17T17:38:21Z') as string)).toBe('2026-01-17T17:38:21Z');
  });

  it('sorts canonical strings in time order', () => {
    const a = canonicalTime('2026-01-17T17:38:21Z') as string;
    const b = canonicalTime('2026-01-17T17:38:21.5Z') as string;
    expect(a < b).toBe(true);
  });

  it('rejects what is not RFC3339', () => {
    expect(canonicalTime('yesterday-ish')).toBeUndefined();
    expect(canonicalTime('2025-02-31T00:00:00Z')).toBeUndefined();
  });

  it('parses the times people type', () => {
    const now = new Date('2026-03-01T12:00:00Z');
    expect(parseWhen('+6h', now)).toBe('2026-03-01T18:00:00.000000000Z');
    expect(parseWhen('-2d', now)).toBe('2026-02-27T12:00:00.000000000Z');
    expect(parseWhen('2026-03-05T10:00:00Z', now)).toBe('2026-03-05T10:00:00.000000000Z');
    expect(parseWhen('not-a-date', now)).toBeUndefined();
  });
});
