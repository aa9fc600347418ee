/**
 * `gt session-host <run dir> [--tty]` and `gt town-host`, in a bundle of their
 * own: no commander, no other command.
 *
 * A session host starts with its agent session, so its start-up is paid per
 * session (and, when many start at once, by everything else running). The
 * town host (sessions.mode = "in-process") is one process for every headless
 * agent of the town: one Node start, one ledger open, one hook port.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { SessionSpec } from '../core/town/ports.js';
import { hostHandlers } from '../core/agents/session-host.js';
import { parseIdentity } from '../core/agents/identity.js';
import { configParsers, openHostTowns, openTown, runSessionHost, runTownHost } from '../app/town.js';
import { errorMessage } from '../shared/errors.js';

const progress = (line: string) => process.stderr.write(`${line}\n`);

async function sessionHost(argv: string[]): Promise<number> {
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
  const town = await openTown(root, process.env, address, progress, { light: true, hostFor: address });
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

async function townHost(): Promise<number> {
  const root = process.env.GT_ROOT ?? '';
  const towns = openHostTowns(root, process.env, progress);
  try {
    return await runTownHost({
      root,
      handlersFor: (spec, runDir) => {
        const address = spec.env.GT_AGENT ?? 'human';
        const handlers = hostHandlers(towns.forAgent(address), parseIdentity(address), {
          run: basename(runDir),
          runDir,
          cwd: spec.cwd,
          runtime: spec.env.GT_RUNTIME ?? '',
          tty: false,
        });
        // A hook may need town.toml (a permission): answered once the schemas are loaded.
        return {
          ...handlers,
          onHook: async (event, body) => {
            await towns.configLoaded;
            return handlers.onHook(event, body);
          },
        };
      },
      ...(process.env.GT_TOWN_HOST_IDLE_MS ? { idleExitMs: Number(process.env.GT_TOWN_HOST_IDLE_MS) } : {}),
    });
  } finally {
    await towns.release();
  }
}

const argv = process.argv.slice(2);
(argv[0] === 'town-host' ? townHost() : sessionHost(argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`gt ${argv[0] ?? 'session-host'}: ${errorMessage(error)}\n`);
    process.exitCode = 1;
  },
);
