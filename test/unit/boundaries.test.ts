import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { join } from 'node:path';
import { ROOT } from '../support/env.js';

/** Lint with the project's config a piece of code placed at a path, and return the rules it breaks. */
async function rulesBroken(path: string, code: string): Promise<string[]> {
  // The probe file does not exist on disk, so type-aware rules are off; the import rules are what is under test.
  const eslint = new ESLint({ cwd: ROOT, overrideConfig: tseslint.configs.disableTypeChecked });
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, path) });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

describe('lint enforces the dependency direction of design §5', () => {
  it('core may not import ledger, infra or an edge, nor do I/O of its own', async () => {
    expect(await rulesBroken('src/core/beads/x.ts', "import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';\nexport const s = SqliteLedgerStore;\n")).toContain('no-restricted-imports');
    expect(await rulesBroken('src/core/beads/x.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n")).toContain('no-restricted-imports');
    expect(await rulesBroken('src/core/beads/x.ts', "import { GtError } from '../../shared/errors.js';\nexport const e = GtError;\n")).not.toContain('no-restricted-imports');
  });

  it('ledger and infra may not import an edge; edges may not import each other', async () => {
    expect(await rulesBroken('src/ledger/x.ts', "import { runBd } from '../cli/bd/main.js';\nexport const r = runBd;\n")).toContain('no-restricted-imports');
    expect(await rulesBroken('src/cli/x.ts', "import { x } from '../daemon/loop.js';\nexport const y = x;\n")).toContain('no-restricted-imports');
    expect(await rulesBroken('src/cli/x.ts', "import { Ledger } from '../core/beads/ledger.js';\nexport const l = Ledger;\n")).not.toContain('no-restricted-imports');
  });
});
