/**
 * Hosts as real network namespaces on one machine (issue 19 §2 tests): each
 * host is a namespace with a veth pair to the root namespace, its own
 * loopback, and a default route through its pair. Services the hosts share (a
 * git daemon serving the origins, the PostgreSQL ledger) listen in the root
 * namespace on the first pair's address, which every host reaches through its
 * own route. Everything is removed after the test. Needs root and iproute2.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { onCleanup } from './env.js';

export interface NetHost {
  name: string;
  ns: string;
  /** The host's own address (inside its namespace). */
  address: string;
}

export interface HostNetwork {
  /** Where the shared services listen (root namespace), reachable from every host. */
  gateway: string;
  hosts: NetHost[];
}

/** Why hosts as network namespaces cannot be made here (undefined when they can). */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root (CI runs the tests as root)';
  if (spawnSync('ip', ['-V']).status !== 0) return 'no ip command (install the Debian package iproute2)';
  return undefined;
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr}`);
}

let made = 0;

/** Hosts `names` as namespaces, each with a veth pair to the root namespace (10.77.x.y/30 per pair). */
export function hostNetwork(names: string[]): HostNetwork {
  // A subnet of this process and call: tests in parallel never share addresses or interface names.
  const x = (process.pid * 7 + ++made * 13) % 250;
  const tag = `${(process.pid % 100000).toString(36)}${made}`;
  const hosts: NetHost[] = [];
  const links: string[] = [];
  const namespaces: string[] = [];
  onCleanup(() => {
    for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
    for (const link of links) spawnSync('ip', ['link', 'del', link]);
  });
  names.forEach((name, i) => {
    const ns = `gt${tag}${name}`;
    const outside = `gv${tag}${name}`.slice(0, 15);
    const inside = `gp${tag}${name}`.slice(0, 15);
    const root = `10.77.${x}.${i * 4 + 1}`;
    const address = `10.77.${x}.${i * 4 + 2}`;
    ip(['netns', 'add', ns]);
    namespaces.push(ns);
    ip(['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
    links.push(outside);
    ip(['link', 'set', inside, 'netns', ns]);
    ip(['addr', 'add', `${root}/30`, 'dev', outside]);
    ip(['link', 'set', outside, 'up']);
    ip(['-n', ns, 'addr', 'add', `${address}/30`, 'dev', inside]);
    ip(['-n', ns, 'link', 'set', inside, 'up']);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['-n', ns, 'route', 'add', 'default', 'via', root]);
    hosts.push({ name, ns, address });
  });
  return { gateway: `10.77.${x}.1`, hosts };
}

export const freePort = (host: string) =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });

function stopOnCleanup(child: ChildProcess): void {
  onCleanup(() => {
    child.kill('SIGKILL');
  });
}

/** Waits until something accepts connections on host:port. */
async function listening(host: string, port: number, what: string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port }, () => (socket.end(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `git daemon` serving every repository under `base` (push too), on address:port; returns the git:// base URL. */
export async function serveGit(base: string, address: string): Promise<string> {
  const port = await freePort(address);
  const child = spawn(
    'git',
    ['daemon', '--reuseaddr', '--export-all', '--enable=receive-pack', `--base-path=${base}`, `--listen=${address}`, `--port=${port}`, base],
    { stdio: 'ignore', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } },
  );
  stopOnCleanup(child);
  await listening(address, port, 'git daemon');
  return `git://${address}:${port}`;
}

/**
 * A TCP relay in a process of its own (the test's own event loop blocks on
 * spawnSync): connections to address:port go to target. It puts the test
 * PostgreSQL, which listens on loopback, on the hosts' network.
 */
export async function relay(address: string, target: { host: string; port: number }): Promise<number> {
  const port = await freePort(address);
  const script = `const net=require('node:net');net.createServer((c)=>{const u=net.connect(${target.port},${JSON.stringify(target.host)});c.pipe(u).pipe(c);c.on('error',()=>u.destroy());u.on('error',()=>c.destroy());}).listen(${port},${JSON.stringify(address)});`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  stopOnCleanup(child);
  await listening(address, port, 'the relay');
  return port;
}

/** Whether `git daemon` is installed (Debian's git has it in git-core). */
export function gitDaemonAvailable(): boolean {
  const exec = spawnSync('git', ['--exec-path'], { encoding: 'utf8' }).stdout.trim();
  return existsSync(`${exec}/git-daemon`);
}
