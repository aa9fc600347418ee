/**
 * `gt session-host <run dir> [--tty]` in a bundle of its own: one host starts
 * with every agent session, so its start-up is paid per session (and, when
 * many start at once, by everything else running). This bundle holds only
 * what a host needs — no commander, no other command.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { SessionSpec } from '../core/town/ports.js';
import { hostHandlers } from '../core/agents/session-host.js';
import { parseIdentity } from '../core/agents/identity.js';
import { configParsers, openTown, runSessionHost } from '../app/town.js';
import { errorMessage } from '../shared/errors.js';

async function main(argv: string[]): Promise<number> {
  const runDir = argv.find((a) => !a.startsWith('-') && a !== 'session-host');
  if (!runDir) {
    process.stderr.write('usage: gt session-host <run dir> [--tty]\n');
    return 2;
  }
  const tty = argv.includes('--tty');
  const spec = JSON.parse(readFileSync(join(runDir, 'session.json'), 'utf8')) as SessionSpec;
  const root = spec.env.GT_ROOT ?? process.env.GT_ROOT ?? '';
  const address = spec.env.GT_AGENT ?? 'human';
  // town.toml and rig.toml are read (and the schemas loaded) when the first permission is asked.
  const town = await openTown(root, process.env, address, (line) => process.stderr.write(`${line}\n`), { light: true });
  town.useParsers(await configParsers());
  try {
    const handlers = hostHandlers(town, parseIdentity(address), { run: basename(runDir), runDir, cwd: spec.cwd, runtime: spec.env.GT_RUNTIME ?? '', tty });
    const code = await runSessionHost(runDir, { tty, onHook: handlers.onHook, onOutputLine: handlers.onOutputLine });
    await handlers.settle();
    return code;
  } finally {
    await town.ledger.release();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`gt session-host: ${errorMessage(error)}\n`);
    process.exitCode = 1;
  },
);
