import type { Command } from 'commander';
import { existsSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { createJoinedTownDir, maskLedgerUrl, openTown, townLedger } from '../../../app/index.js';
import { listHosts as hostRecords } from '../../../core/hosts/hosts.js';
import { hostNameFrom, hostsView, joinedTownToml, joinHost, withHostName, type HostView } from '../../../core/hosts/join.js';
import { validateName } from '../../../core/agents/identity.js';
import { conflictError, usageError } from '../../../shared/errors.js';
import { nowTime } from '../../../shared/time.js';
import { TOWN_FILE } from '../../../shared/paths.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

const POSTGRES_URL = /^postgres(ql)?:\/\//;

function hostsTable(ctx: GtContext, hosts: HostView[]): string {
  if (hosts.length === 0) return 'No hosts: this is a one-machine town (gt host join <ledger-url> --name <host> makes it one of several).';
  return table([
    ['HOST', 'STATE', 'TOWN JOBS', 'HEARTBEAT', 'AGENTS', 'LOAD', 'RIGS', 'WHERE'],
    ...hosts.map((h) => [
      ctx.style.bold(`${h.name}${h.this_host ? ' *' : ''}`),
      h.state === 'up' ? ctx.style.green(h.state) : ctx.style.red(h.state),
      h.town_jobs ? 'yes' : '-',
      h.heartbeat_age_s === undefined ? '-' : `${h.heartbeat_age_s}s ago`,
      String(h.agents),
      h.load === undefined ? '-' : `${h.load}${h.cores ? `/${h.cores}` : ''}`,
      h.rigs.join(',') || '-',
      h.address ?? h.root ?? '-',
    ]),
  ]);
}

export default function register(program: Command, ctx: GtContext): void {
  const listHosts = action(ctx, async () => {
    const town = await ctx.town();
    const hosts = await hostsView(town);
    ctx.emit(hosts, () => hostsTable(ctx, hosts));
  });

  program
    .command('hosts')
    .description('The machines of a town across hosts: heartbeat, agents, load and rigs (* = this one)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt hosts\n  gt hosts --json')
    .action(listHosts);

  const host = program
    .command('host')
    .description('This machine in a town across hosts: join, list')
    .addHelpText(
      'after',
      '\nExamples:\n  gt host join postgres://gt@db.internal/town --name b ~/gt\n  gt host join postgres://gt@db.internal/town --name a   # in the existing town: it becomes host a\n  gt host list',
    );

  host.command('list').description('Same as gt hosts').option('--json', 'machine-readable output').action(listHosts);

  host
    .command('join <ledger-url> [dir]')
    .description("Join this machine to a town whose ledger is shared: its own town directory, worktrees, sessions and daemon; the town's ledger")
    .option('--name <host>', "this machine's host name (default: from its hostname)")
    .option('--address <address>', 'where a person reaches this machine (shown by gt hosts)')
    .option('--town-name <name>', 'the town name in a new town.toml (default: the directory name)')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      `
Run in an existing town (GT_ROOT or a town.toml above the cwd, when [dir] is not given) it makes that town directory a
host of its own ledger; given a new [dir] (default ~/gt) it creates one attached to <ledger-url>. Then start its
daemon there with gt up: it clones the rigs placed on this host and carries out the slings to them from any host.
A SQLite ledger path instead of a postgres:// URL joins a town on this same machine (for trying it out).`,
    )
    .action(
      action(ctx, async (url: unknown, dirArg: unknown, opts: unknown) => {
        const options = opts as { name?: string; address?: string; townName?: string };
        await ctx.forPeople('joining a host to the town');
        const ledgerUrl = url as string;
        const name = validateName('agent', options.name ?? hostNameFrom(hostname()));
        const postgres = POSTGRES_URL.test(ledgerUrl);
        const sqlite = postgres ? undefined : resolve(ctx.cwd, ledgerUrl);
        if (sqlite && !existsSync(sqlite))
          throw usageError(
            `${ledgerUrl} is neither a postgres:// URL nor a ledger file`,
            'give the URL of the town ledger (ledger.url in the first town.toml)',
          );
        let root: string;
        if (typeof dirArg === 'string') root = resolve(ctx.cwd, dirArg);
        else {
          try {
            root = ctx.townRoot();
          } catch {
            root = join(ctx.io.env.HOME ?? homedir(), 'gt');
          }
        }
        const townFile = join(root, TOWN_FILE);
        const existed = existsSync(townFile);
        const rootExisted = existsSync(root);
        // What this join made, taken back when it fails (a ledger it cannot reach, a refused login): no half-made town.
        let undo = () => undefined as void;
        if (existed) {
          // An existing town joins only its own ledger: two ledgers in one directory would be two towns.
          const own = townLedger(root);
          const same = sqlite ? existsSync(own) && realpathSync(own) === realpathSync(sqlite) : maskLedgerUrl(own) === maskLedgerUrl(ledgerUrl);
          if (!same)
            throw conflictError(
              `${root} is a town with a ledger of its own (${maskLedgerUrl(own)}), not ${maskLedgerUrl(ledgerUrl)}`,
              'join into a new directory: gt host join <ledger-url> <dir>',
            );
          const text = readFileSync(townFile, 'utf8');
          const current = /^\[host\][^[]*^name\s*=\s*"([^"]*)"/m.exec(text)?.[1];
          if (current !== undefined && current !== name)
            throw conflictError(`${root} is already host ${current} of its town`, `use --name ${current}, or leave it out`);
          if (current === undefined) {
            writeFileSync(townFile, withHostName(text, name), { mode: 0o600 });
            undo = () => writeFileSync(townFile, text, { mode: 0o600 });
          }
        } else {
          const town = options.townName ?? basename(root);
          undo = () => {
            if (!rootExisted) rmSync(root, { recursive: true, force: true });
            else for (const made of [TOWN_FILE, '.gt']) rmSync(join(root, made), { recursive: true, force: true });
          };
          try {
            createJoinedTownDir(
              root,
              joinedTownToml({
                town,
                host: name,
                ...(options.address ? { address: options.address } : {}),
                ...(postgres ? { ledgerUrl } : {}),
                now: nowTime(),
              }),
              sqlite,
            );
          } catch (error) {
            undo();
            throw error;
          }
        }
        let town;
        let result;
        try {
          town = await openTown(root, ctx.io.env, ctx.actor, (line) => ctx.err(line));
          try {
            result = await joinHost(town, name, options.address ? { address: options.address } : {});
          } catch (error) {
            await town.ledger.release();
            throw error;
          }
        } catch (error) {
          undo();
          throw error;
        }
        try {
          // The town this ledger came from is no host yet: gt hosts would list only this one.
          const alone = !existed && (await hostRecords(town.ledger)).every((h) => h.name === name);
          const joined = result;
          ctx.emit({ ...joined, created: !existed }, () =>
            [
              `${existed ? 'This town is now' : `Created ${root} as`} host ${joined.host} of its town.`,
              ...(joined.placed.length ? [`Placed on ${joined.host}: ${joined.placed.join(', ')}`] : []),
              ...(joined.rigs.length ? [`Rigs on this host: ${joined.rigs.join(', ')}`] : []),
              ...(alone ? [`The town's first directory is no host yet: run gt host join ${ledgerUrl} --name <host> there too.`] : []),
              `Next: cd ${root} && gt up   (then gt hosts; gt rig add <name> <git-url> --host ${joined.host})`,
            ].join('\n'),
          );
        } finally {
          await town.ledger.release();
        }
      }),
    );
}
