/**
 * Starting and stopping a throwaway PostgreSQL server (no vitest imports: the global setup loads
 * this too). Tests use test/support/postgres.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Set by .ci/run: a PostgreSQL is part of CI, so its absence is a failure, never a skip. */
export const POSTGRES_REQUIRED = process.env.GT_TEST_PG_REQUIRED === '1';

/** Where initdb and pg_ctl are: PATH, then Debian's versioned folders. */
export function postgresBinDir(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(debian, v, 'bin', 'initdb'))) return join(debian, v, 'bin');
  }
  return undefined;
}

/** Why no test PostgreSQL can be had here, or undefined when one can (a URL is given, or the binaries are installed). */
export function postgresUnavailable(): string | undefined {
  if (process.env.GT_TEST_PG_URL) return undefined;
  if (postgresBinDir() === undefined) return 'no GT_TEST_PG_URL and no initdb/pg_ctl (install the Debian package postgresql, or set GT_TEST_PG_URL)';
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0) return 'running as root and there is no postgres user to run the server as';
  return undefined;
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });

/** Runs a PostgreSQL binary, as the postgres user when this process is root. */
function runAsOwner(bin: string, args: string[]): void {
  const asRoot = process.getuid?.() === 0;
  const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const result = spawnSync(command, argv, { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`${[command, ...argv].join(' ')} failed (${result.status}): ${result.stderr || result.stdout}`);
}

export interface ServerProcess {
  url: string;
  dataDir: string;
  stop(): void;
}

/** initdb + pg_ctl start in a new temp directory; the returned stop() is synchronous (usable at process exit). */
export async function launchPostgres(): Promise<ServerProcess> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error(postgresUnavailable() ?? 'no PostgreSQL binaries');
  const dir = mkdtempSync(join(tmpdir(), 'gt-pg-'));
  const data = join(dir, 'data');
  const password = randomBytes(12).toString('hex');
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, `${password}\n`);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  chmodSync(dir, 0o700);
  runAsOwner(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    `--pwfile=${pwfile}`,
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  rmSync(pwfile, { force: true });
  const port = await freePort();
  // Small and fast: no fsync (a test server), enough connections for 8 writer processes and the suite.
  const options = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB`;
  runAsOwner(join(bin, 'pg_ctl'), ['start', '-w', '-t', '90', '-D', data, '-l', join(dir, 'server.log'), '-o', options]);
  let stopped = false;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    dataDir: data,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        runAsOwner(join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'immediate', '-w']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
