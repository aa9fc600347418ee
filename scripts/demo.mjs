// A tour of the ledger in a throwaway directory, with the real `bd` binary:
// plan work with dependencies, see what is ready, claim, close, and export.
// (`npm run demo:ledger`; the main demo is `gt demo`, run by `npm run demo`.)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BD = resolve(import.meta.dirname, '..', 'dist', 'bd.cjs');
const dir = mkdtempSync(join(tmpdir(), 'gt-demo-'));
const env = { ...process.env, BD_ACTOR: 'demo-mayor', HOME: dir };
delete env.BEADS_DIR;
delete env.GT_ROOT;

function run(expectFailure, args) {
  process.stdout.write(`\n$ bd ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n`);
  const r = spawnSync(process.execPath, [BD, ...args], { cwd: dir, env, encoding: 'utf8' });
  process.stdout.write(r.stdout + r.stderr);
  if ((r.status !== 0) !== expectFailure) throw new Error(`bd ${args.join(' ')} exited ${r.status}`);
  return r.stdout.trim();
}
const bd = (...args) => run(false, args);
const refused = (...args) => run(true, args);

try {
  bd('init', '--prefix', 'demo');
  const epic = bd('q', 'Ship password reset', '-t', 'epic', '-p', '1');
  const api = bd('q', 'Reset-token API', '--parent', epic, '-p', '1');
  const mail = bd('q', 'Reset e-mail template', '--parent', epic);
  const ui = bd('q', 'Reset page UI', '--parent', epic, '--deps', `${api},${mail}`);
  bd('q', 'Flaky login test', '-t', 'bug', '-p', '0', '-l', 'tests');
  bd('ready');
  bd('blocked');
  bd('update', api, '--claim', '--actor', 'gt/polecats/nux');
  refused('close', ui); // the close guard: its blockers are still open
  bd('close', api, mail, '-r', 'merged');
  bd('ready');
  bd('dep', 'tree', ui);
  bd('stats');
  bd('export');
  process.stdout.write(`\nThe ledger was ${join(dir, '.beads', 'beads.db')} (removed now). Next: npm test.\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
