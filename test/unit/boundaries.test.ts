import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { findCycles } from '../../src/core/beads/ledger.js';
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
    expect(
      await rulesBroken('src/core/beads/x.ts', "import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';\nexport const s = SqliteLedgerStore;\n"),
    ).toContain('no-restricted-imports');
    expect(await rulesBroken('src/core/beads/x.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n")).toContain(
      'no-restricted-imports',
    );
    expect(await rulesBroken('src/core/beads/x.ts', "import { GtError } from '../../shared/errors.js';\nexport const e = GtError;\n")).not.toContain(
      'no-restricted-imports',
    );
  });

  it('edges reach ledger/ and infra/ only through the composition root (src/app/)', async () => {
    expect(
      await rulesBroken(
        'src/cli/gt/commands/x.ts',
        "import { SqliteLedgerStore } from '../../../ledger/sqlite/store.js';\nexport const s = SqliteLedgerStore;\n",
      ),
    ).toContain('no-restricted-imports');
    expect(await rulesBroken('src/cli/bd/x.ts', "import { Git } from '../../infra/exec.js';\nexport const g = Git;\n")).toContain('no-restricted-imports');
    expect(await rulesBroken('src/daemon/x.ts', "import { acquireLock } from '../infra/files.js';\nexport const a = acquireLock;\n")).toContain(
      'no-restricted-imports',
    );
    expect(await rulesBroken('src/bin/x.ts', "import { runSessionHost } from '../infra/headless.js';\nexport const r = runSessionHost;\n")).toContain(
      'no-restricted-imports',
    );
    expect(await rulesBroken('src/cli/gt/commands/x.ts', "import { openLedger } from '../../../app/index.js';\nexport const o = openLedger;\n")).not.toContain(
      'no-restricted-imports',
    );
    expect(await rulesBroken('src/daemon/x.ts', "import { openTown } from '../app/town.js';\nexport const o = openTown;\n")).not.toContain(
      'no-restricted-imports',
    );
    // The root is built from the layers below it; it never imports an edge.
    expect(await rulesBroken('src/app/x.ts', "import { runGt } from '../cli/gt/main.js';\nexport const r = runGt;\n")).toContain('no-restricted-imports');
  });

  it('ledger and infra may not import an edge; edges may not import each other', async () => {
    expect(await rulesBroken('src/ledger/x.ts', "import { runBd } from '../cli/bd/main.js';\nexport const r = runBd;\n")).toContain('no-restricted-imports');
    expect(await rulesBroken('src/cli/x.ts', "import { x } from '../daemon/loop.js';\nexport const y = x;\n")).toContain('no-restricted-imports');
    expect(await rulesBroken('src/cli/x.ts', "import { Ledger } from '../core/beads/ledger.js';\nexport const l = Ledger;\n")).not.toContain(
      'no-restricted-imports',
    );
  });
});

/** Every relative import of src/ (type-only ones too: a circle of types is still a circle of meaning). */
function importGraph(root: string): Map<string, string[]> {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts')) files.push(path);
    }
  };
  walk(root);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/(?:from|import\()\s*'(\.[^']+)\.js'/g)].map((m) => resolve(dirname(file), `${m[1]}.ts`));
    graph.set(
      file,
      targets.filter((t) => t !== file),
    );
  }
  return graph;
}

/** Import circles: strongly connected components of more than one file (the ledger's own Tarjan, over import edges). */
function circles(graph: Map<string, string[]>): string[][] {
  return findCycles([...graph].flatMap(([from, targets]) => targets.filter((to) => graph.has(to)).map((to) => ({ from, to }))));
}

describe('the source layout', () => {
  it('has no import circle in src/', () => {
    const found = circles(importGraph(join(ROOT, 'src')));
    expect(found.map((c) => c.map((f) => relative(ROOT, f)).sort())).toEqual([]);
  });

  it('finds a circle when there is one (the check itself works)', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(circles(graph)).toEqual([['a', 'b', 'c']]);
  });

  it('keeps every folder under src/core small enough to read: at most 15 files', () => {
    const core = join(ROOT, 'src', 'core');
    const sizes = readdirSync(core)
      .filter((d) => statSync(join(core, d)).isDirectory())
      .map((d) => [d, readdirSync(join(core, d)).length] as const);
    expect(sizes.filter(([, n]) => n > 15)).toEqual([]);
  });
});
