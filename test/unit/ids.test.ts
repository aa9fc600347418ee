import { describe, expect, it } from 'vitest';
import { adaptiveLength, childDepth, hashId, normalizePrefix } from '../../src/core/beads/ids.js';
import { canonicalTime, unixNanos } from '../../src/shared/time.js';

describe('hash IDs (Beads internal/idgen/hash_test.go vectors)', () => {
  const nanos = unixNanos(canonicalTime('2024-01-02T03:04:05.006Z') as string);
  const expected: Record<number, string> = { 3: 'bd-vju', 4: 'bd-8d8e', 5: 'bd-bi3tk', 6: 'bd-8bi3tk', 7: 'bd-r5sr6bm', 8: 'bd-8r5sr6bm' };
  for (const [length, id] of Object.entries(expected)) {
    it(`length ${length} → ${id}`, () => {
      expect(hashId('bd', 'Fix login', 'Details', 'jira-import', nanos, 0, Number(length))).toBe(id);
    });
  }

  it('a different nonce gives a different ID', () => {
    expect(hashId('bd', 'Fix login', 'Details', 'jira-import', nanos, 1, 5)).not.toBe('bd-bi3tk');
  });
});

describe('adaptive ID length', () => {
  it.each([
    [0, 3],
    [163, 3],
    [164, 4],
    [983, 4],
    [984, 5],
    [5898, 5],
    [5899, 6],
    [35389, 6],
    [35390, 7],
    [212_339, 7],
    [212_340, 8],
  ])('%i existing IDs → length %i', (existing, length) => {
    expect(adaptiveLength(existing)).toBe(length);
  });
});

describe('prefixes and hierarchy', () => {
  it('normalizes prefixes as bd init does', () => {
    expect(normalizePrefix('.my.project-')).toBe('my_project');
    expect(normalizePrefix('2fast')).toBe('bd_2fast');
    expect(normalizePrefix('api')).toBe('api');
  });

  it('counts child depth by dots', () => {
    expect(childDepth('bd-a3f8')).toBe(0);
    expect(childDepth('bd-a3f8.1.2.3')).toBe(3);
  });
});
