/**
 * Creating towns and rigs (design §3): `gt install`, `gt rig add|remove`,
 * `gt crew add`. Each either completes or leaves nothing behind.
 */
import { GtError, conflictError, errorMessage, validationError } from '../../shared/errors.js';
import { withoutCredentials } from '../../shared/secrets.js';
import type { Ledger } from '../beads/ledger.js';
import { parseRigConfig, renderToml, type RigConfig } from './config.js';
import { protectRepository } from './push-guard.js';
import { crewIdentity, validateName } from '../agents/identity.js';
import type { GitPort, TownFiles } from './ports.js';
import { RIG_FILE, TOWN_FILE, type Town } from './town.js';
import { CHECKPOINT_PREFIX, describeHeld, describeUnsaved, heldWork, unmergedCommits, unsavedWork } from './worktree.js';

const MAYOR_INSTRUCTIONS = `# Mayor

You are the Mayor of this gt town: the person's coordinator. You plan, you do not code.

- Turn requests into beads: \`bd create "title" -d "what and why" -p 1\`; order them with \`bd dep add <later> <earlier>\`.
- Hand work out: \`gt sling <bead> <rig>\` (one polecat per bead) and watch it: \`gt agents\`, \`gt polecat list\`, \`bd list\`.
- Merges happen in the refinery (\`gt refinery queue <rig>\`); failures come back to you as mail (\`gt mail inbox\`).
- Start every session with \`gt prime\`. Your memory is kept in git here: MEMORY.md (curated) and memory/YYYY-MM-DD.md
  (daily, append-only): \`gt memory add "…"\` appends and commits, \`gt memory search <words>\` finds.
- Heartbeats (\`[gt heartbeat …]\`) follow HEARTBEAT.md; reply HEARTBEAT_OK when nothing needs the person.
`;

/** Headings and comments only: "effectively empty", so no heartbeat tick costs a model call until tasks are written here. */
const HEARTBEAT_TEMPLATE = `# Heartbeat

<!--
What the Mayor checks on every heartbeat (town.toml [heartbeat], run by the daemon).
While this file holds only headings and comments, ticks are skipped with no model call.
Keep it short (it is sent on every tick) and free of secrets. For example:

## Daily news
- Once a day, on the first heartbeat after 08:00: search today's tech news (WebSearch)
- Write the 3 most important items to today's memory log with gt memory add
- If one of them is a major breakthrough, reply with it; otherwise reply HEARTBEAT_OK
-->
`;

export interface InstallResult {
  root: string;
  created: string[];
  existed: boolean;
}

export interface InstallPorts {
  files: TownFiles;
  git: GitPort;
  /** Creates (or opens) the town ledger: the one at `url`, else the one town.toml names. */
  openLedger: (create: boolean, url?: string) => Promise<Ledger>;
  /** The existing town's PostgreSQL ledger.url (undefined for a SQLite ledger or no town.toml). */
  postgresLedger: () => string | undefined;
  /** Writes `.gt/bin/gt` and `.gt/bin/bd` launchers and tmux.conf. */
  writeLaunchers: () => void;
  now: () => string;
}

/**
 * `gt install`: the layout of design §3. Never overwrites: an existing
 * town.toml, ledger or mayor repository is left as it is; `force` lets it
 * fill in the missing parts of an existing or non-empty directory.
 */
/**
 * `ledger`: a postgres:// URL for the town's ledger (issue 19), written to town.toml as
 * `ledger.url`; without it the ledger is the SQLite file .gt/ledger.db. `shownLedger` is how the
 * URL is reported (its password masked).
 */
export async function installTown(
  root: string,
  name: string,
  ports: InstallPorts,
  options: { force?: boolean; ledger?: string; shownLedger?: string },
): Promise<InstallResult> {
  const { files } = ports;
  const townFile = `${root}/${TOWN_FILE}`;
  const existed = files.exists(townFile);
  if (existed && options.ledger !== undefined) {
    throw conflictError(
      `${root} is already a town; --ledger only chooses the ledger of a new one (nothing was changed)`,
      `to move this town's ledger, run gt ledger migrate --to ${options.shownLedger ?? '<url>'}`,
    );
  }
  if (existed && !options.force) return { root, created: [], existed: true };
  if (!existed && files.list(root).length > 0 && !options.force) {
    throw conflictError(
      `${root} is not empty and is not a gt town`,
      'choose an empty directory, or pass --force to install into it (nothing there is overwritten)',
    );
  }
  // A directory this install makes (or finds empty) is removed again when the install fails: nothing half-made is left to refuse a retry.
  const made = !files.exists(root);
  const fresh = !existed && (made || files.list(root).length === 0);
  try {
    return await installInto(root, name, ports, options, existed);
  } catch (error) {
    if (!fresh) throw error;
    if (made) files.remove(root);
    else for (const entry of files.list(root)) files.remove(`${root}/${entry}`);
    const hint = error instanceof GtError ? error.hint : undefined;
    throw new GtError(error instanceof GtError ? error.kind : 'internal', errorMessage(error), {
      hint: `${hint ? `${hint}; ` : ''}nothing was changed`,
      cause: error,
    });
  }
}

async function installInto(
  root: string,
  name: string,
  ports: InstallPorts,
  options: { force?: boolean; ledger?: string; shownLedger?: string },
  existed: boolean,
): Promise<InstallResult> {
  const { files, git } = ports;
  const townFile = `${root}/${TOWN_FILE}`;
  // A PostgreSQL ledger is connected to (and its schema made or migrated) before anything is written:
  // a server that is down or a database that does not exist stops the install with nothing made.
  const postgres = options.ledger ?? (existed ? ports.postgresLedger() : undefined);
  const early = postgres === undefined ? undefined : await ports.openLedger(true, postgres);
  if (early) await early.getConfig('issue_prefix');
  const created: string[] = [];
  const make = (path: string, text: string, mode?: number) => {
    if (files.exists(path)) return;
    files.write(path, text, mode);
    created.push(path.slice(root.length + 1));
  };
  files.mkdirp(`${root}/.gt/runs`);
  files.mkdirp(`${root}/.gt/logs`);
  // The town is its owner's alone (issue 12, finding 12): the ledger, logs, settings, rig.toml and the
  // agents' worktrees would otherwise be readable by every local user. Re-run with --force, it tightens an old town.
  files.chmod(root, 0o700);
  files.chmod(`${root}/.gt`, 0o700);
  make(
    townFile,
    renderToml({
      name,
      default_agent: 'claude',
      created_at: ports.now(),
      role_agents: {},
      agents: {},
      sessions: { backend: 'auto' },
      daemon: { interval: '5s' },
      ...(options.ledger !== undefined ? { ledger: { url: options.ledger } } : {}),
    }),
    0o600,
  );
  const ledger = early ?? (await ports.openLedger(true));
  if (postgres === undefined) {
    // SQLite gives its -wal and -shm files the mode of the database file.
    files.chmod(`${root}/.gt/ledger.db`, 0o600);
  }
  // A new ledger (a new file, or a database without gt's schema until now) gets the town's prefix.
  if ((await ledger.getConfig('issue_prefix')) === undefined) {
    await ledger.setConfig('issue_prefix', 'hq');
    created.push(postgres === undefined ? '.gt/ledger.db' : `ledger at ${options.shownLedger ?? 'the PostgreSQL URL'}`);
  }
  ports.writeLaunchers();
  const mayor = `${root}/mayor`;
  make(`${mayor}/AGENTS.md`, MAYOR_INSTRUCTIONS);
  make(`${mayor}/CLAUDE.md`, 'See AGENTS.md.\n');
  make(`${mayor}/MEMORY.md`, '# Memory\n\nLong-lived notes of the Mayor (committed, so they have history).\n');
  make(`${mayor}/HEARTBEAT.md`, HEARTBEAT_TEMPLATE);
  if (!files.exists(`${mayor}/.git`)) {
    await git.run(mayor, ['init', '-q', '-b', 'main']);
    await git.run(mayor, ['add', '-A']);
    await git.run(mayor, ['-c', 'user.name=gt', '-c', 'user.email=gt@gt.local', 'commit', '-q', '-m', 'Mayor home']);
    created.push('mayor/.git');
  }
  return { root, created, existed };
}

export interface AddRigOptions {
  prefix?: string;
  branch?: string;
  progress: (line: string) => void;
}

export function derivePrefix(name: string, taken: Set<string>): string {
  const letters = name.replace(/[^a-z0-9]/g, '');
  for (const length of [3, 4, 5, 2, 6, 8]) {
    const candidate = letters.slice(0, length);
    if (/^[a-z]/.test(candidate) && !taken.has(candidate)) return candidate;
  }
  for (let n = 2; ; n++) if (!taken.has(`${letters.slice(0, 3)}${n}`)) return `${letters.slice(0, 3)}${n}`;
}

/**
 * `gt rig add`: bare clone into `<rig>/.repo.git`, the refinery worktree on
 * the default branch, `rig.toml`, and a rig bead. On any failure the rig
 * directory is removed again.
 */
export async function addRig(town: Town, name: string, url: string, options: AddRigOptions): Promise<RigConfig> {
  validateName('rig', name);
  const { files, git } = town.ports;
  const dir = town.path(name);
  if (files.exists(dir))
    throw conflictError(
      `${dir} already exists`,
      files.exists(`${dir}/${RIG_FILE}`) ? `rig ${name} is already in this town (gt rig show ${name})` : 'choose another rig name',
    );
  // Rigs of other hosts (a town across machines) have no directory here, only their bead: their prefixes are taken too.
  const elsewhere = (await town.ledger.list({ types: ['rig'], excludeStatuses: ['closed'], includeEphemeral: true, limit: 0 }))
    .filter((r) => r.title !== name)
    .flatMap((r) => (typeof r.metadata?.prefix === 'string' ? [r.metadata.prefix] : []));
  const taken = new Set(['hq', ...town.rigNames().map((r) => town.rig(r).prefix), ...elsewhere]);
  const prefix = options.prefix ?? derivePrefix(name, taken);
  if (!/^[a-z][a-z0-9]{0,15}$/.test(prefix))
    throw validationError(`invalid prefix ${JSON.stringify(prefix)}`, 'a prefix is 1–16 lowercase letters and digits, starting with a letter');
  if (taken.has(prefix)) throw conflictError(`prefix ${prefix} is already used in this town`, 'pass another with --prefix');
  const repo = town.repoDir(name);
  // A credential in the URL stays in the bare repository's git config (git needs it to fetch and the
  // refinery to push); rig.toml, the rig bead and every message name the URL without it (issue 12, finding 5).
  const shown = withoutCredentials(url);
  try {
    files.mkdirp(dir);
    options.progress(`Cloning ${shown} into ${repo}`);
    // `--`: a URL such as --upload-pack=… is a repository to git, never an option.
    await git.run(dir, ['clone', '--bare', '--progress', '--', url, repo], { onProgress: options.progress });
    // A bare clone has no remote-tracking refs; add them so the refinery can see upstream moves.
    await git.run(repo, ['config', 'remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*']);
    await git.probe(repo, ['fetch', '-q', 'origin']);
    const branch = options.branch ?? (await git.run(repo, ['symbolic-ref', '--short', 'HEAD'])).trim();
    if ((await git.probe(repo, ['rev-parse', '--verify', '-q', `refs/heads/${branch}`])).code !== 0) {
      throw new GtError('not_found', `branch ${branch} does not exist in ${shown}`, { hint: 'pass an existing branch with --branch' });
    }
    options.progress(`Creating the refinery worktree on ${branch}`);
    await git.run(repo, ['worktree', 'add', '-q', `${dir}/refinery`, branch]);
    await protectRepository(town, repo, branch);
    const config = parseRigConfig(
      renderToml({
        name,
        git_url: shown,
        default_branch: branch,
        prefix,
        added_at: town.ports.now(),
        merge: { test: '', push: true },
      }),
      `${dir}/${RIG_FILE}`,
    );
    await town.ledger
      .create({ id: `hq-rig-${name}`, title: name, type: 'rig', prefix: 'hq', metadata: { prefix, git_url: shown, default_branch: branch } })
      .catch(async (error: unknown) => {
        // A rig bead left by an earlier removal: reopen it rather than fail.
        if (!(error instanceof GtError) || error.kind !== 'conflict') throw error;
        await town.ledger.update([`hq-rig-${name}`], { status: 'open', setMetadata: { prefix, git_url: shown, default_branch: branch } });
      });
    files.write(
      `${dir}/${RIG_FILE}`,
      `# gt rig: ${name}. merge.setup, typecheck, lint and test gate every merge (see gt mq --help).\n${renderToml(config)}`,
      0o600,
    );
    return config;
  } catch (error) {
    files.remove(dir);
    throw error;
  }
}

export interface RigSummary {
  name: string;
  prefix: string;
  git_url: string;
  default_branch: string;
  polecats: number;
  crew: number;
  open_merge_requests: number;
  test: string;
}

export async function rigSummary(town: Town, name: string): Promise<RigSummary> {
  const rig = town.rig(name);
  const agents = await town.agents({ rig: name });
  const mrs = await town.ledger.list({
    types: ['merge-request'],
    metadataFields: { rig: name },
    excludeStatuses: ['closed'],
    includeEphemeral: true,
    limit: 0,
  });
  return {
    name,
    prefix: rig.prefix,
    git_url: withoutCredentials(rig.git_url),
    default_branch: rig.default_branch,
    test: rig.merge.test,
    polecats: agents.filter((a) => a.role === 'polecat').length,
    crew: agents.filter((a) => a.role === 'crew').length,
    open_merge_requests: mrs.length,
  };
}

/**
 * `gt rig remove`: refuses while any worktree holds uncommitted changes or any
 * branch holds commits that are neither merged nor checkpointed, and while a
 * session of the rig runs. Removing the directory removes the bare repo and
 * its checkpoints, so there is no --force for unsaved work.
 */
export async function removeRig(
  town: Town,
  name: string,
  options: { discardCheckpoints?: boolean } = {},
): Promise<{ name: string; agents_closed: number; discarded: string[] }> {
  const rig = town.rig(name);
  const { git, files } = town.ports;
  const repo = town.repoDir(name);
  const problems: string[] = [];
  const agents = await town.agents({ rig: name });
  for (const agent of agents) if (await town.sessionAlive(agent)) problems.push(`${agent.address} is running`);
  const listing = await git.run(repo, ['worktree', 'list', '--porcelain']);
  for (const line of listing.split('\n')) {
    if (!line.startsWith('worktree ')) continue;
    const path = line.slice('worktree '.length);
    if (path === repo || !files.exists(path)) continue;
    const unsaved = await unsavedWork(git, path, rig.default_branch);
    if (unsaved.dirty.length || unsaved.unmerged.length) problems.push(`${path.slice(town.root.length + 1)} has ${describeUnsaved(unsaved)}`);
  }
  const branches = (await git.run(repo, ['for-each-ref', '--format=%(refname:short)', 'refs/heads/'])).split('\n').filter((b) => b && b !== rig.default_branch);
  for (const branch of branches) {
    const unmerged = await unmergedCommits(git, repo, `refs/heads/${branch}`, rig.default_branch);
    if (unmerged.length) problems.push(`branch ${branch} has ${unmerged.length} unmerged commit(s)`);
  }
  // Checkpoints live in the bare repo, which goes with the rig: saved work counts as work here.
  const saved = (await git.run(repo, ['for-each-ref', '--format=%(refname)', `${CHECKPOINT_PREFIX}/`])).split('\n').filter((r) => r !== '');
  const unmergedSaved = [];
  for (const ref of saved) {
    const commits = (await git.run(repo, ['rev-list', ref, '--not', rig.default_branch])).trim();
    if (commits) unmergedSaved.push(ref);
  }
  if (unmergedSaved.length && !options.discardCheckpoints)
    problems.push(`${unmergedSaved.length} checkpoint(s) hold unmerged work (${unmergedSaved[0]}${unmergedSaved.length > 1 ? ', …' : ''})`);
  // Stash entries and tags on unmerged commits go with the repository too (issue 12, finding 7): named, and dropped only with the checkpoints.
  const held = await heldWork(git, repo, rig.default_branch, { withSaved: true });
  if ((held.stashes.length || held.tags.length) && !options.discardCheckpoints) problems.push(...describeHeld(held));
  const discarded = [...unmergedSaved, ...held.stashes.map((s) => `${s.entry} (${s.subject})`), ...held.tags.map((t) => `refs/tags/${t.tag}`)];
  const open = await town.ledger.list({
    types: ['merge-request'],
    metadataFields: { rig: name },
    excludeStatuses: ['closed'],
    includeEphemeral: true,
    limit: 0,
  });
  if (open.length) problems.push(`${open.length} merge request(s) waiting (${open.map((m) => m.id).join(', ')})`);
  if (problems.length) {
    throw conflictError(
      `rig ${name} still holds work:\n  - ${[...new Set(problems)].join('\n  - ')}`,
      `merge it or copy it elsewhere first (e.g. git -C ${repo} bundle create app.bundle --all); checkpoints, stashes and tags alone can be dropped with --discard-checkpoints`,
    );
  }
  for (const agent of agents) await town.ledger.close([agent.id], { reason: `rig ${name} removed`, force: true });
  await town.ledger.close([`hq-rig-${name}`], { reason: 'rig removed', force: true });
  if (discarded.length) town.ports.progress(`Discarding unmerged work of rig ${name}: ${discarded.join(', ')}`);
  files.remove(town.path(name));
  return { name, agents_closed: agents.length, discarded };
}

/** `gt crew add`: a long-lived worktree on branch `crew/<name>`, and its identity. */
export async function addCrew(town: Town, rigName: string, name: string): Promise<{ agent: string; worktree: string; branch: string }> {
  validateName('crew', name);
  const rig = town.rig(rigName);
  const identity = crewIdentity(rigName, name);
  const existing = await town.agent(identity);
  if (existing?.active) throw conflictError(`${identity.address} already exists`);
  const dir = town.path(rigName, 'crew', name);
  if (town.ports.files.exists(dir)) throw conflictError(`${dir} already exists`);
  const branch = `crew/${name}`;
  const repo = town.repoDir(rigName);
  const hasBranch = (await town.ports.git.probe(repo, ['rev-parse', '--verify', '-q', `refs/heads/${branch}`])).code === 0;
  town.ports.files.mkdirp(town.path(rigName, 'crew'));
  const release = await town.lockWorktrees(rigName);
  try {
    await protectRepository(town, repo, rig.default_branch);
    await town.ports.git.run(repo, hasBranch ? ['worktree', 'add', '-q', dir, branch] : ['worktree', 'add', '-q', '-b', branch, dir, rig.default_branch]);
  } finally {
    release();
  }
  try {
    await town.saveAgent(identity, { state: 'idle', branch });
  } catch (error) {
    await town.ports.git.run(repo, ['worktree', 'remove', '--force', dir]);
    throw error;
  }
  return { agent: identity.address, worktree: dir, branch };
}
