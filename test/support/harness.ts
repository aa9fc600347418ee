/**
 * An in-process town for domain tests: a real temp directory, real git (an
 * isolated HOME and git config), a real SQLite ledger, the real ports from the
 * composition root — except sessions, which go to a recording backend (no
 * tmux, no processes), and detached work, which is recorded. Domain behaviour
 * (sling, nudge, witness, done, prime, events) runs in milliseconds, without
 * spawning the CLI.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configParsers, installPorts, openLedger, townPorts } from '../../src/app/index.js';
import type { Ledger } from '../../src/core/beads/ledger.js';
import type { DetachedControl, NudgeOptions, SessionBackend, SessionSpec } from '../../src/core/town/ports.js';
import { addRig, installTown } from '../../src/core/town/rigs.js';
import { Town } from '../../src/core/town/town.js';
import { TOWN_LEDGER } from '../../src/shared/paths.js';
import { isolatedEnv, onCleanup, tempDir } from './env.js';
import { sh } from './town.js';

/** A session backend that runs nothing: it records starts, sends and stops, and can answer sends like a runtime's hook would. */
export class RecordingBackend implements SessionBackend {
  readonly kind = 'tmux' as const;
  readonly started: SessionSpec[] = [];
  readonly sent: Array<{ name: string; text: string }> = [];
  readonly stopped: string[] = [];
  private readonly alive = new Set<string>();
  /** Sessions whose agent process is gone while the session stays (or the reverse): zombies. */
  readonly zombies = new Map<string, { session: boolean; process: boolean }>();
  /** Called after each send: a test makes the "runtime" react (e.g. fire its prompt-submit hook). */
  onSend: (name: string, text: string) => void | Promise<void> = () => undefined;

  async start(spec: SessionSpec): Promise<void> {
    this.started.push(spec);
    this.alive.add(spec.name);
    this.zombies.delete(spec.name);
  }

  async isAlive(name: string): Promise<boolean> {
    return this.alive.has(name);
  }

  async probe(name: string): Promise<{ session: boolean; process: boolean }> {
    const alive = this.alive.has(name);
    return this.zombies.get(name) ?? { session: alive, process: alive };
  }

  async send(name: string, text: string): Promise<void> {
    this.sent.push({ name, text });
    await this.onSend(name, text);
  }

  async capture(): Promise<string> {
    return '';
  }

  async stop(name: string): Promise<void> {
    this.stopped.push(name);
    this.alive.delete(name);
    this.zombies.delete(name);
  }

  /** The session died on its own (a crash). */
  kill(name: string): void {
    this.alive.delete(name);
  }

  async list(): Promise<string[]> {
    return [...this.alive].sort();
  }

  attachCommand(): undefined {
    return undefined;
  }

  async stopAll(): Promise<void> {
    for (const name of [...this.alive]) await this.stop(name);
  }
}

/** Detached work, recorded instead of spawned. */
export class RecordingDetached implements DetachedControl {
  readonly calls: Array<{ what: 'stop' | 'restart' | 'nudge'; agent: string; run?: string; text?: string; options?: NudgeOptions }> = [];

  stopSession(agent: string, _afterMs: number, run?: string): void {
    this.calls.push({ what: 'stop', agent, ...(run ? { run } : {}) });
  }

  restartSession(agent: string): void {
    this.calls.push({ what: 'restart', agent });
  }

  nudge(agent: string, text: string, options: NudgeOptions): void {
    this.calls.push({ what: 'nudge', agent, text, options });
  }
}

export interface Harness {
  root: string;
  town: Town;
  ledger: Ledger;
  backend: RecordingBackend;
  detached: RecordingDetached;
  env: NodeJS.ProcessEnv;
  git: (cwd: string, args: string[]) => string;
  /** A bead in the rig (prefix of the rig) with `run` steps; returns its ID. */
  bead: (title: string, options?: { run?: string[]; priority?: number }) => Promise<string>;
}

/** A town with one rig (`app`, a real bare origin with one commit), opened in this process as `actor`. */
export async function townHarness(options: { rig?: string; actor?: string; env?: Record<string, string> } = {}): Promise<Harness> {
  const base = tempDir('gt-harness-');
  const root = join(base, 'town');
  const env = isolatedEnv(base, { GT_ROOT: root, ...options.env });
  const git = (cwd: string, args: string[]) => sh(cwd, 'git', args, env);
  const rigName = options.rig ?? 'app';
  const seed = join(base, 'seed');
  mkdirSync(seed, { recursive: true });
  writeFileSync(join(seed, 'README.md'), `# ${rigName}\n`);
  git(seed, ['init', '-q', '-b', 'main']);
  git(seed, ['add', '-A']);
  git(seed, ['-c', 'user.name=seed', '-c', 'user.email=seed@test', 'commit', '-q', '-m', 'initial']);
  git(base, ['clone', '-q', '--bare', seed, join(base, 'origin.git')]);

  let installed: Ledger | undefined;
  await installTown(
    root,
    'test',
    installPorts(root, env, (ledger) => (installed = ledger)),
    {},
  );
  await installed?.release();
  const backend = new RecordingBackend();
  const detached = new RecordingDetached();
  const ledger = openLedger(join(root, TOWN_LEDGER), options.actor ?? 'human');
  onCleanup(() => ledger.release());
  const ports = { ...townPorts(root, env, () => undefined), backend: () => backend, tmuxAvailable: true, detached };
  const town = new Town(root, ledger, ports, await configParsers());
  await addRig(town, rigName, join(base, 'origin.git'), { progress: () => undefined });
  town.reloadConfig();
  const prefix = town.rig(rigName).prefix;
  const bead: Harness['bead'] = async (title, o = {}) =>
    (await ledger.create({ title, prefix, priority: o.priority ?? 2, ...(o.run ? { metadata: { run: o.run } } : {}) })).id;
  return { root, town, ledger, backend, detached, env, git, bead };
}
