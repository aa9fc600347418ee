/**
 * Where the ledger is. Order: an explicit `--db` file; `BD_LEDGER_URL` (a
 * PostgreSQL ledger); `BEADS_DIR`; a gt town (`GT_ROOT`, or a `town.toml` in the
 * cwd or above) whose ledger is its `ledger.url` or `<town>/.gt/ledger.db`; else
 * the nearest `.beads/` walking up from the cwd.
 * A town wins over a `.beads/` inside it, so agents working in a rig's worktree
 * write to the town ledger, not to a customer repository's own.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { GtError } from '../shared/errors.js';
import { isPostgresUrl, maskLedgerUrl } from './postgres/url.js';

export const BEADS_DIR_NAME = '.beads';
export const BEADS_DB_NAME = 'beads.db';
export { TOWN_FILE as TOWN_CONFIG } from '../shared/paths.js';
import { LEDGER_URL_RULE, TOWN_FILE as TOWN_CONFIG, TOWN_LEDGER } from '../shared/paths.js';
export { TOWN_LEDGER } from '../shared/paths.js';

export interface LedgerLocation {
  kind: 'beads' | 'town' | 'file' | 'url';
  /** The database file, or a postgres:// URL. */
  path: string;
  /** The `.beads` directory or the town root. */
  root: string;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function findTownRoot(cwd: string, env: NodeJS.ProcessEnv): string | undefined {
  if (env.GT_ROOT) return resolve(env.GT_ROOT);
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, TOWN_CONFIG))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

export function findBeadsDir(cwd: string): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (isDir(join(dir, BEADS_DIR_NAME))) return join(dir, BEADS_DIR_NAME);
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The town's ledger: town.toml's `ledger.url` (a PostgreSQL ledger, issue 19) or the SQLite file
 * `<town>/.gt/ledger.db`. Read with a pattern, not the config schema, so hot commands stay fast
 * (the schema validates the same key when the full config loads).
 */
export function townLedger(town: string): string {
  let text = '';
  try {
    text = readFileSync(join(town, TOWN_CONFIG), 'utf8');
  } catch {
    return join(town, TOWN_LEDGER);
  }
  const url = ledgerUrlOf(text);
  if (url === undefined) return join(town, TOWN_LEDGER);
  // The same rule as the config schema (LEDGER_URL_RULE): a postgres:// URL, or a SQLite file (relative to the town).
  if (isPostgresUrl(url)) return url;
  if (OTHER_SCHEME.test(url))
    throw new GtError('validation', `${join(town, TOWN_CONFIG)}: ledger.url ${JSON.stringify(maskLedgerUrl(url))} is not a ledger location`, {
      hint: LEDGER_URL_RULE,
    });
  return resolve(town, url);
}

/** Any `scheme://` (a PostgreSQL URL is told apart first). */
const OTHER_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** `url` of the `[ledger]` table (or a top-level `ledger.url` / `ledger = { url = … }`) in town.toml's text. */
export function ledgerUrlOf(text: string): string | undefined {
  const value = String.raw`(?:"((?:[^"\\]|\\.)*)"|'([^']*)')`;
  const pick = (m: RegExpExecArray | null) => (m ? (m[1] !== undefined ? (JSON.parse(`"${m[1]}"`) as string) : m[2]) : undefined);
  const table = /^\s*\[ledger\]\s*(?:#.*)?$/m.exec(text);
  if (table) {
    const body = text.slice(table.index + table[0].length).split(/^\s*\[/m)[0] ?? '';
    const found = pick(new RegExp(String.raw`^\s*url\s*=\s*${value}`, 'm').exec(body));
    if (found !== undefined) return found;
  }
  const top = text.split(/^\s*\[/m)[0] ?? '';
  return (
    pick(new RegExp(String.raw`^\s*ledger\s*\.\s*url\s*=\s*${value}`, 'm').exec(top)) ??
    pick(new RegExp(String.raw`^\s*ledger\s*=\s*\{[^}]*url\s*=\s*${value}`, 'm').exec(top))
  );
}

export function locateLedger(cwd: string, env: NodeJS.ProcessEnv, dbFlag?: string): LedgerLocation {
  if (dbFlag) return { kind: 'file', path: resolve(cwd, dbFlag), root: dirname(resolve(cwd, dbFlag)) };
  if (env.BD_LEDGER_URL) return { kind: 'url', path: env.BD_LEDGER_URL, root: resolve(cwd) };
  if (env.BEADS_DIR) {
    const dir = resolve(cwd, env.BEADS_DIR);
    return { kind: 'beads', path: join(dir, BEADS_DB_NAME), root: dir };
  }
  const town = findTownRoot(cwd, env);
  if (town) return { kind: 'town', path: townLedger(town), root: town };
  const beads = findBeadsDir(cwd);
  if (beads) return { kind: 'beads', path: join(beads, BEADS_DB_NAME), root: beads };
  throw new GtError('not_found', `no beads database found in ${resolve(cwd)} or any parent directory`, {
    hint: 'run `bd init` to create one here, or set BEADS_DIR',
  });
}

/**
 * The bead prefix of the rig `cwd` is in (`<town>/<rig>/…`), or of the rig
 * named; read from its rig.toml without loading the config schema, so `bd
 * create` in a polecat's worktree stays fast. Undefined outside any rig.
 */
export function rigPrefix(town: string, cwd: string, rigName?: string): string | undefined {
  const relative =
    rigName ??
    (resolve(cwd).startsWith(`${town}/`)
      ? resolve(cwd)
          .slice(town.length + 1)
          .split('/')[0]
      : undefined);
  if (!relative) return undefined;
  let text: string;
  try {
    text = readFileSync(join(town, relative, 'rig.toml'), 'utf8');
  } catch {
    if (rigName) throw new GtError('not_found', `no rig named ${JSON.stringify(rigName)} in the town ${town}`, { hint: 'see gt rig list' });
    return undefined;
  }
  return /^prefix\s*=\s*"([a-z][a-z0-9]*)"/m.exec(text)?.[1];
}
