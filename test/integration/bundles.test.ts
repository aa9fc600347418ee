/**
 * What each bundle carries (design §4: the commands hooks run every turn start
 * fast). Node parses a whole bundle before running any of it, so the config
 * schemas (zod, ~475 KB) must stay out of the hot and session-host bundles, and
 * the launcher must hold nothing but the choice of bundle. A module that pulls
 * them in again (it happened: a hot command's import chain reached the config)
 * fails here, not in a benchmark nobody runs.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/env.js';

const bundle = (name: string) => join(ROOT, 'dist', name);

describe('the bundles', () => {
  it('keep the config schemas out of the hot and session-host bundles; the full one has them', () => {
    for (const name of ['gt-hot.cjs', 'gt-host.cjs']) {
      expect(readFileSync(bundle(name), 'utf8').includes('ZodError'), `${name} holds zod`).toBe(false);
      expect(statSync(bundle(name)).size, `${name} size`).toBeLessThan(250_000);
    }
    expect(readFileSync(bundle('gt-full.cjs'), 'utf8')).toContain('ZodError');
  });

  it('the gt launcher holds only the choice of bundle', () => {
    expect(statSync(bundle('gt.cjs')).size).toBeLessThan(4_000);
  });
});
