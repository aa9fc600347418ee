import { describe, expect, it } from 'vitest';
import { redactData, redactSecrets, withoutCredentials } from '../../src/shared/secrets.js';
import { paneEnv } from '../../src/infra/tmux.js';

describe('secrets (issue 12, finding 5)', () => {
  it('redacts known token shapes, URL credentials and variables named like secrets, and nothing else', () => {
    for (const secret of [
      'sk-ant-api03-abcdefGHIJ_123',
      'sk-proj-abcdefghijklmnopqrstuvwxyz',
      'ghp_abcdefghijklmnopqrstuvwxyz012345',
      'github_pat_11ABCDEFG0123456789_abcdef',
      'glpat-abcdefghijklmnopqrst',
      'xoxb-1234567890-abcdef',
      'AKIAIOSFODNN7EXAMPLE',
    ]) {
      expect(redactSecrets(`key ${secret} end`), secret).toBe('key [redacted] end');
    }
    expect(redactSecrets('git clone https://bob:s3cret@github.com/o/r.git')).toBe('git clone https://[redacted]@github.com/o/r.git');
    expect(redactSecrets('https://x-access-token@github.com/o/r')).toBe('https://[redacted]@github.com/o/r');
    expect(redactSecrets('ssh://git:pw@host/r ssh://git@host/r git@github.com:o/r.git')).toBe(
      'ssh://git:[redacted]@host/r ssh://git@host/r git@github.com:o/r.git',
    );
    // A ledger URL masked for people (maskLedgerUrl) reads the same in --json as in text.
    expect(redactSecrets('postgres://gt:***@db/town postgres://gt:pw@db/town')).toBe('postgres://gt:***@db/town postgres://gt:[redacted]@db/town');
    expect(redactSecrets('env MY_API_KEY=abc123 DB_PASSWORD="p w" PATH=/bin')).toBe('env MY_API_KEY=[redacted] DB_PASSWORD=[redacted] PATH=/bin');
    expect(redactData({ env: { GITHUB_TOKEN: 'plain-value', HOME: '/h' }, n: 3 })).toEqual({ env: { GITHUB_TOKEN: '[redacted]', HOME: '/h' }, n: 3 });
    for (const text of ['task-abcdefghijklmnopqrstuvwxyz', 'input_tokens=1234', 'https://github.com/o/r.git', 'app-1 hq-rig-app'])
      expect(redactSecrets(text)).toBe(text);
  });

  it('stores a rig URL without its credentials', () => {
    expect(withoutCredentials('https://bob:ghp_x@github.com/o/r.git')).toBe('https://github.com/o/r.git');
    expect(withoutCredentials('https://token@github.com/o/r.git')).toBe('https://github.com/o/r.git');
    expect(withoutCredentials('git@github.com:o/r.git')).toBe('git@github.com:o/r.git');
    expect(withoutCredentials('ssh://git:pw@host/r.git')).toBe('ssh://git@host/r.git');
    expect(withoutCredentials('/srv/r.git')).toBe('/srv/r.git');
  });

  it('a tmux pane reads its environment as sh exports, never from argv', () => {
    expect(paneEnv({ A: "it's", B: 'history -a;', 'bad-name': 'x' })).toBe("export A='it'\\''s'\nexport B='history -a;'\n");
  });
});
