/**
 * Formula benchmark (issue 5): pouring a 50-step formula inside the process —
 * parse, validate, cook, and create root + 50 steps + edges in one transaction
 * — against its baseline, the same 51 beads created one `ledger.create` at a
 * time, on the same SQLite ledger, interleaved. Target: a pour under 200 ms.
 *
 *   npm run bench:formulas
 *   BENCH_RUNS=5 npm run bench:formulas     # quicker
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../src/core/beads/ledger.js';
import { cookFormula, parseFormula } from '../src/core/formulas/formula.js';
import { pourMolecule } from '../src/core/formulas/molecule.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const STEPS = 50;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/** 50 steps in five lanes of ten, each lane a chain, the last step needing every lane's end. */
function formulaText(): string {
  const lines = ['formula = "big"', 'description = "Fifty steps"', '[vars.name]', 'default = "bench"'];
  for (let i = 0; i < STEPS; i++) {
    const lane = Math.floor(i / 10);
    const needs = i === STEPS - 1 ? [9, 19, 29, 39, 48].map((n) => `"s${n}"`) : i % 10 === 0 ? [] : [`"s${i - 1}"`];
    lines.push(
      '[[steps]]',
      `id = "s${i}"`,
      `title = "Step ${i} of lane ${lane} for {{name}}"`,
      `description = "Do part ${i}."`,
      `needs = [${needs.join(', ')}]`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gt-bench-formulas-'));
  try {
    const store = SqliteLedgerStore.open(join(dir, 'ledger.db'), { create: true });
    const ledger = new Ledger(store, { actor: 'bench' });
    await ledger.setConfig('issue_prefix', 'b');
    const text = formulaText();
    const pour: number[] = [];
    const oneByOne: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      let start = performance.now();
      const cooked = cookFormula(parseFormula(text, 'big.formula.toml'), {}, () => undefined);
      const result = await pourMolecule(ledger, cooked);
      pour.push(performance.now() - start);
      if (Object.keys(result.steps).length !== STEPS) throw new Error('the pour lost steps');
      start = performance.now();
      const root = await ledger.create({ title: 'big', type: 'molecule' });
      const ids: string[] = [];
      for (let i = 0; i < STEPS; i++) {
        const needs = i === STEPS - 1 ? [9, 19, 29, 39, 48] : i % 10 === 0 ? [] : [i - 1];
        ids.push((await ledger.create({ title: `Step ${i}`, parent: root.id, deps: needs.map((n) => ({ type: 'blocks', id: ids[n] as string })) })).id);
      }
      oneByOne.push(performance.now() - start);
    }
    await store.close();
    const p = median(pour);
    const o = median(oneByOne);
    process.stdout.write(
      [
        `Pouring a ${STEPS}-step formula in process (${RUNS} runs, interleaved, medians)`,
        '',
        '| measure | time | ratio | target |',
        '|---|---|---|---|',
        `| ${STEPS + 1} beads created one \`ledger.create\` at a time (baseline) | ${o.toFixed(1)} ms | 1.00× | |`,
        `| parse + cook + pour (one transaction) | ${p.toFixed(1)} ms | ${(p / o).toFixed(2)}× | < 200 ms |`,
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
