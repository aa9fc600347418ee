/**
 * A town across hosts, for real (issue 19 §2): two hosts as network
 * namespaces on this machine, each with its own town directory and daemon
 * (started inside its namespace), sharing one PostgreSQL ledger and the rigs'
 * origins served by `git daemon` — both only over the network. A convoy of ten
 * beads over two rigs on two hosts lands with every sling issued from the
 * other host; host b's daemon is killed mid-run, host a sees b's agents
 * host-lost with their beads still hooked, and after b's daemon restarts the
 * convoy lands with nothing lost and nothing done twice. Shell runtime,
 * headless sessions.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GT, isolatedEnv, onCleanup, tempDir } from '../support/env.js';
import { hostNetwork, netnsUnavailable, gitDaemonAvailable, relay, serveGit, type NetHost } from '../support/netns.js';
import { freshDatabase, postgresUnavailable, POSTGRES_REQUIRED } from '../support/postgres.js';
import { sh, stopEverything, waitFor, type TestTown } from '../support/town.js';

interface Bead {
  id: string;
  status: string;
  assignee?: string;
}
interface AgentRow {
  agent: string;
  host: string | null;
  state: string;
  hooked: string[];
}
interface HostRow {
  name: string;
  state: string;
  rigs: string[];
}

const unavailable =
  netnsUnavailable() ?? (gitDaemonAvailable() ? undefined : 'git daemon is not installed') ?? (POSTGRES_REQUIRED ? undefined : postgresUnavailable());

describe.skipIf(unavailable !== undefined)(`a town across two hosts (network namespaces)${unavailable ? ` — skipped: ${unavailable}` : ''}`, () => {
  it('a convoy of ten beads over two rigs on two hosts lands, slung from the other host, through a daemon killed mid-run', async () => {
    const base = tempDir('gt-hosts-');
    const net = hostNetwork(['a', 'b']);
    const [hostA, hostB] = net.hosts as [NetHost, NetHost];
    // The origins, served over the network only.
    const origins = join(base, 'origins');
    mkdirSync(origins);
    const env = isolatedEnv(base);
    for (const rig of ['app', 'lib']) {
      const seed = join(base, `${rig}-seed`);
      mkdirSync(seed);
      writeFileSync(join(seed, 'README.md'), `# ${rig}\n`);
      sh(seed, 'git', ['init', '-q', '-b', 'main'], env);
      sh(seed, 'git', ['add', '-A'], env);
      sh(seed, 'git', ['-c', 'user.name=seed', '-c', 'user.email=seed@test', 'commit', '-q', '-m', 'initial'], env);
      sh(base, 'git', ['clone', '-q', '--bare', seed, join(origins, `${rig}.git`)], env);
    }
    const gitUrl = await serveGit(origins, net.gateway);
    // The shared ledger: the test PostgreSQL, put on the hosts' network by a relay on the gateway address.
    const database = new URL(await freshDatabase());
    const port = await relay(net.gateway, { host: database.hostname, port: Number(database.port) });
    database.hostname = net.gateway;
    database.port = String(port);
    const ledgerUrl = database.toString();

    const roots = { a: join(base, 'a'), b: join(base, 'b') };
    const envOf = (host: NetHost) => isolatedEnv(join(base, `home-${host.name}`), { GT_ROOT: roots[host.name as 'a' | 'b'] });
    const towns: Array<Pick<TestTown, 'root' | 'socket' | 'env'>> = [];
    /** gt on a host: inside its network namespace, in its own town directory. */
    const gt = (host: NetHost, args: string[]) => {
      const r = spawnSync('ip', ['netns', 'exec', host.ns, process.execPath, GT, ...args], {
        cwd: base,
        env: envOf(host),
        encoding: 'utf8',
        timeout: 120_000,
      });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
    const ok = (host: NetHost, args: string[]) => {
      const r = gt(host, args);
      if (r.code !== 0) throw new Error(`gt ${args.join(' ')} on ${host.name} failed (${r.code}): ${r.stderr}`);
      return r.stdout;
    };
    const json = <T>(host: NetHost, args: string[]) => JSON.parse(ok(host, [...args, '--json'])) as T;
    for (const host of [hostA, hostB]) {
      mkdirSync(join(base, `home-${host.name}`));
      // Whatever the test leaves running in a host's town directory is stopped after it.
      const root = roots[host.name as 'a' | 'b'];
      towns.push({ root, env: envOf(host), socket: `gt-hosts-${process.pid}-${host.name}` });
    }
    onCleanup(() => towns.forEach((t) => stopEverything(t)));

    // Host a: the town on PostgreSQL, and this machine its host a. Host b joins from its own namespace.
    ok(hostA, ['install', roots.a, '--ledger', ledgerUrl]);
    ok(hostA, ['host', 'join', ledgerUrl, '--name', 'a', '--address', hostA.address]);
    ok(hostB, ['host', 'join', ledgerUrl, roots.b, '--name', 'b', '--address', hostB.address]);
    for (const host of [hostA, hostB]) {
      for (const [key, value] of [
        ['role_agents.polecat', 'shell'],
        ['sessions.backend', 'headless'],
        ['daemon.interval', '1s'],
        ['host.lost_after', '4s'],
      ] as const)
        ok(host, ['config', 'set', key, value]);
    }
    // Each rig on its host, both added from host a: b's daemon clones lib from the origin itself.
    ok(hostA, ['rig', 'add', 'app', `${gitUrl}/app.git`]);
    ok(hostA, ['rig', 'add', 'lib', `${gitUrl}/lib.git`, '--host', 'b']);
    ok(hostA, ['up']);
    ok(hostB, ['up']);
    await waitFor('host b to clone lib', () => existsSync(join(roots.b, 'lib', 'rig.toml')), 60_000);
    expect(json<HostRow[]>(hostB, ['hosts']).map((h) => [h.name, h.state, h.rigs])).toEqual([
      ['a', 'up', ['app']],
      ['b', 'up', ['lib']],
    ]);

    // Ten beads: lib's wait for a file the test makes once host b has been seen lost.
    const go = join(base, 'go');
    const create = (host: NetHost, rig: string, n: number, wait: boolean) =>
      ok(host, [
        'bd',
        'create',
        `${rig} ${n}`,
        '--rig',
        rig,
        '--silent',
        '-d',
        `${rig} ${n}\n\n\`\`\`run\necho ${n} > ${rig}-${n}.txt\n${wait ? `while [ ! -e ${go} ]; do sleep 0.2; done` : 'sleep 1'}\n\`\`\``,
      ]).trim();
    // Each rig's beads written from the host that does not run it (bd takes the prefix from the rig's bead).
    const app = [1, 2, 3, 4, 5].map((n) => create(hostB, 'app', n, false));
    const lib = [1, 2, 3, 4, 5].map((n) => create(hostA, 'lib', n, true));
    const convoy = json<{ id: string }>(hostA, ['convoy', 'create', 'Ten across two hosts', ...app, ...lib]).id;
    // Every sling from the other host: the rig's own host carries it out.
    const fromB = json<Array<{ queued?: { reason: string } }>>(hostB, ['sling', ...app, 'app']);
    expect(fromB.every((s) => s.queued?.reason === 'rig app runs on host a: its daemon starts it')).toBe(true);
    json(hostA, ['sling', ...lib, 'lib']);

    // lib's work is on its hooks on host b; then b's daemon dies (its agents keep running, nobody supervises them).
    const show = (host: NetHost, ids: string[]) => json<Bead[]>(host, ['bd', 'show', ...ids]);
    // Hooked, and their agents' records made: the sling on b is over (a hook is written before its session starts).
    await waitFor(
      'lib beads hooked on host b, their five agents recorded',
      () =>
        show(hostA, lib).every((b) => b.status === 'hooked' && b.assignee?.startsWith('lib/polecats/')) &&
        json<AgentRow[]>(hostA, ['agents']).filter((r) => r.agent.startsWith('lib/')).length === 5,
      90_000,
    );
    const pid = Number(readFileSync(join(roots.b, '.gt', 'daemon.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    // Host a sees b lost, b's agents host-lost with their beads still hooked, and app's work goes on.
    await waitFor('host a to see b lost', () => json<HostRow[]>(hostA, ['hosts']).find((h) => h.name === 'b')?.state === 'lost', 60_000);
    const libAgents = json<AgentRow[]>(hostA, ['agents']).filter((r) => r.agent.startsWith('lib/'));
    expect(libAgents.length).toBe(5);
    expect(libAgents.every((r) => r.host === 'b' && r.state === 'host-lost' && r.hooked.length === 1)).toBe(true);
    expect(show(hostA, lib).every((b) => b.status === 'hooked')).toBe(true);
    await waitFor('app beads merged by host a', () => show(hostB, app).every((b) => b.status === 'closed'), 120_000);

    // b comes back: its daemon resumes supervising its agents, which finish; its refinery merges.
    writeFileSync(go, '');
    ok(hostB, ['up']);
    await waitFor('the convoy to land', () => json<{ status: string }>(hostA, ['convoy', 'show', convoy]).status === 'landed', 120_000);
    expect(show(hostB, [...app, ...lib]).every((b) => b.status === 'closed')).toBe(true);
    expect(json<HostRow[]>(hostA, ['hosts']).find((h) => h.name === 'b')?.state).toBe('up');

    // Nothing lost, nothing twice: each rig's origin has its five files, each bead was slung and merged once.
    for (const rig of ['app', 'lib']) {
      const files = sh(base, 'git', ['--git-dir', join(origins, `${rig}.git`), 'ls-tree', '--name-only', 'main'], env).split('\n');
      expect(files.filter((f) => f.startsWith(`${rig}-`)).sort()).toEqual([1, 2, 3, 4, 5].map((n) => `${rig}-${n}.txt`));
    }
    const events = json<Array<{ kind: string; bead?: string; agent?: string }>>(hostB, ['events', '--type', 'bead.slung,mr.merged', '--limit', '1000']);
    for (const id of [...app, ...lib]) {
      expect(events.filter((e) => e.kind === 'bead.slung' && e.bead === id)).toHaveLength(1);
      expect(events.filter((e) => e.kind === 'mr.merged' && e.bead === id)).toHaveLength(1);
    }
    // Each polecat ran on its rig's host, and the whole town reads the same from either host.
    const agents = json<AgentRow[]>(hostB, ['agents']);
    expect(agents.filter((r) => r.agent.startsWith('app/')).every((r) => r.host === 'a')).toBe(true);
    expect(agents.filter((r) => r.agent.startsWith('lib/')).every((r) => r.host === 'b')).toBe(true);
    // Checkpoints reached the origin (gt done pushes one per finished bead across hosts).
    const pushed = sh(base, 'git', ['--git-dir', join(origins, 'lib.git'), 'for-each-ref', '--format=%(refname)', 'refs/gt/checkpoints/'], env);
    expect(pushed.split('\n').filter((r) => r.startsWith('refs/gt/checkpoints/lib/polecats/')).length).toBeGreaterThanOrEqual(5);
  }, 240_000);
});
