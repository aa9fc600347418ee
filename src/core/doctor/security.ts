/**
 * The security checks of `gt doctor` (issue 12; design §9): the town is its
 * owner's alone, secrets are nowhere another local user or an agent reads
 * them, and the agents' origin pushes into gt's own repository.
 */
import { GT_DIR, RIG_FILE, RUNS_DIR, TOWN_FILE, TOWN_LEDGER } from '../../shared/paths.js';
import { holdsSecret, withoutCredentials } from '../../shared/secrets.js';
import { shellQuote } from '../../shared/shell.js';
import { preReceiveHook, protectRepository } from '../town/push-guard.js';
import { filesUnder, relativeTo, rigsOf, townOf, type DoctorCheck, type DoctorContext } from './doctor.js';

const octal = (mode: number) => mode.toString(8).padStart(3, '0');

const relative = (context: DoctorContext, path: string): string => relativeTo(context.root, path);

/** Files that must be 0600 (or stricter): the ledger and its WAL, the configs, the runtime settings (hook URLs with tokens), the sessions' own files. */
function privateFiles(context: DoctorContext): string[] {
  const { root, ports } = context;
  const at = (...parts: string[]) => [root, ...parts].join('/');
  const paths = [TOWN_LEDGER, `${TOWN_LEDGER}-wal`, `${TOWN_LEDGER}-shm`, TOWN_FILE].map((p) => at(p));
  for (const name of ports.files.list(root)) if (ports.files.exists(at(name, RIG_FILE))) paths.push(at(name, RIG_FILE));
  paths.push(...filesUnder(ports.files, at(GT_DIR, 'settings')));
  for (const run of ports.files.list(at(RUNS_DIR))) {
    for (const name of ['session.json', '.pane-env']) paths.push(at(RUNS_DIR, run, name));
  }
  return paths.filter((path) => ports.mode(path) !== undefined);
}

const openTo = (context: DoctorContext, path: string): boolean => ((context.ports.mode(path) ?? 0) & 0o077) !== 0;

export const townModesCheck: DoctorCheck = {
  name: 'town-modes',
  title: "the town and .gt/ are the owner's alone (0700)",
  async run(context) {
    const { root, ports } = context;
    const open = townDirs(context).filter((dir) => openTo(context, dir));
    if (open.length === 0) return { status: 'ok', message: 'the town root and .gt/ are 0700' };
    return {
      status: 'fail',
      message: `other local users can enter ${open.map((d) => `${relative(context, d)} (${octal(ports.mode(d) ?? 0)})`).join(', ')}`,
      fix: `chmod 700 ${open.map(shellQuote).join(' ')} (or gt install --force ${shellQuote(root)})`,
      details: open,
    };
  },
  async repair(context) {
    const open = townDirs(context).filter((dir) => openTo(context, dir));
    for (const dir of open) context.ports.files.chmod(dir, 0o700);
    return open.map((dir) => `chmod 700 ${relative(context, dir)}`);
  },
};

function townDirs(context: DoctorContext): string[] {
  return [context.root, `${context.root}/${GT_DIR}`];
}

export const fileModesCheck: DoctorCheck = {
  name: 'file-modes',
  title: 'ledger, config, settings and session files are 0600',
  async run(context) {
    const files = privateFiles(context);
    const open = files.filter((file) => openTo(context, file));
    if (open.length === 0) return { status: 'ok', message: `${files.length} private file(s) are the owner's alone` };
    return {
      status: 'fail',
      message: `${open.length} private file(s) other users may read: ${open
        .slice(0, 5)
        .map((f) => `${relative(context, f)} (${octal(context.ports.mode(f) ?? 0)})`)
        .join(', ')}${open.length > 5 ? ', …' : ''}`,
      fix: `chmod 600 ${open.map(shellQuote).join(' ')}`,
      details: open.map((f) => relative(context, f)),
    };
  },
  async repair(context) {
    const open = privateFiles(context).filter((file) => openTo(context, file));
    for (const file of open) context.ports.files.chmod(file, 0o600);
    return open.map((file) => `chmod 600 ${relative(context, file)}`);
  },
};

export const sessionSecretsCheck: DoctorCheck = {
  name: 'session-secrets',
  title: 'secrets in session files are readable by the owner alone',
  async run(context) {
    const holders = secretHolders(context);
    const exposed = holders.filter((path) => openTo(context, path));
    if (exposed.length) {
      return {
        status: 'fail',
        message: `${exposed.length} session file(s) hold API keys or tokens that other users may read: ${exposed
          .slice(0, 3)
          .map((p) => relative(context, p))
          .join(', ')}`,
        fix: `chmod 600 ${exposed.map(shellQuote).join(' ')} (sessions started by this gt write them 0600)`,
        details: exposed.map((p) => relative(context, p)),
      };
    }
    return { status: 'ok', message: holders.length ? `${holders.length} session file(s) hold the agents' keys, 0600` : 'no session file holds a secret' };
  },
  async repair(context) {
    const exposed = secretHolders(context).filter((path) => openTo(context, path));
    for (const path of exposed) context.ports.files.chmod(path, 0o600);
    return exposed.map((path) => `chmod 600 ${relative(context, path)}`);
  },
};

function secretHolders(context: DoctorContext): string[] {
  const { files } = context.ports;
  const runs = `${context.root}/${RUNS_DIR}`;
  const holders: string[] = [];
  for (const run of files.list(runs)) {
    for (const name of ['session.json', '.pane-env']) {
      const path = `${runs}/${run}/${name}`;
      const text = files.read(path);
      if (text !== undefined && holdsSecret(text)) holders.push(path);
    }
  }
  return holders;
}

export const tmuxArgvCheck: DoctorCheck = {
  name: 'tmux-argv',
  title: "no secret on the tmux server's command line",
  async run(context) {
    const socket = context.ports.tmuxSocket;
    const servers = context.ports
      .processCommandLines()
      .filter((line) => /(^|\/)tmux\b/.test(line) && line.split(' ').some((word, i, words) => word === socket && words[i - 1] === '-L'));
    const leaking = servers.filter((line) => holdsSecret(line));
    if (leaking.length) {
      return {
        status: 'fail',
        message: `the town's tmux server (-L ${socket}) has secrets on its command line, which every local user reads with ps`,
        fix: `gt down --all, then tmux -L ${shellQuote(socket)} kill-server; sessions started again by this gt pass their environment through a 0600 file`,
      };
    }
    return { status: 'ok', message: servers.length ? `the tmux server's command line holds no secret` : 'no tmux server of this town runs' };
  },
};

export const rigUrlCheck: DoctorCheck = {
  name: 'rig-urls',
  title: 'no credential in a rig URL gt stores or prints',
  async run(context) {
    const town = townOf(context);
    const rigs = rigsOf(context);
    const found: string[] = [];
    for (const { name: rig, config } of rigs) {
      const url = config.git_url;
      if (withoutCredentials(url) !== url || holdsSecret(url)) found.push(`${rig}/${RIG_FILE}`);
      const bead = await town.ledger.find(`hq-rig-${rig}`);
      const stored = bead?.metadata?.git_url;
      if (typeof stored === 'string' && (withoutCredentials(stored) !== stored || holdsSecret(stored))) found.push(`rig bead hq-rig-${rig}`);
    }
    if (found.length) {
      return {
        status: 'fail',
        message: `a credential is stored in ${found.join(', ')}`,
        fix: 'remove the user:token@ part from git_url in rig.toml (git keeps the URL it fetches from in <rig>/.repo.git/config; prefer a credential helper)',
        details: found,
      };
    }
    return { status: 'ok', message: `${rigs.length} rig URL(s) without credentials` };
  },
};

export const pushProtectionCheck: DoctorCheck = {
  name: 'push-protection',
  title: "agents' pushes land in gt's bare repository, which guards the default branch",
  async run(context) {
    const problems = await unprotectedRigs(context);
    if (problems.length) {
      return {
        status: 'fail',
        message: `an agent's git push could reach the real origin or move the default branch (${problems.map((p) => `${p.rig}: ${p.missing.join(', ')}`).join('; ')})`,
        fix: 'gt doctor --fix sets the protection again (as every new polecat or crew worktree does)',
        details: problems.map((p) => `${p.rig}: ${p.missing.join(', ')}`),
      };
    }
    return { status: 'ok', message: `${rigsOf(context).length} rig(s) guarded` };
  },
  async repair(context) {
    const town = townOf(context);
    const problems = await unprotectedRigs(context);
    for (const { rig } of problems) await protectRepository(town, town.repoDir(rig), town.rig(rig).default_branch);
    return problems.map((p) => `${p.rig}: set ${p.missing.join(', ')}`);
  },
};

async function unprotectedRigs(context: DoctorContext): Promise<Array<{ rig: string; missing: string[] }>> {
  const town = townOf(context);
  const { git, files } = town.ports;
  const problems: Array<{ rig: string; missing: string[] }> = [];
  for (const { name: rig, config } of rigsOf(context)) {
    const repo = town.repoDir(rig);
    if (!files.isDirectory(repo)) continue; // rig-repos names a missing repository
    const get = async (key: string) => (await git.probe(repo, ['config', '--get', key])).stdout.trim();
    const missing: string[] = [];
    if ((await get('remote.origin.pushurl')) !== repo) missing.push("origin's push URL is not the bare repository");
    if ((await get('receive.denyNonFastForwards')) !== 'true') missing.push('receive.denyNonFastForwards');
    if ((await get('receive.denyDeletes')) !== 'true') missing.push('receive.denyDeletes');
    if (files.read(`${repo}/hooks/pre-receive`) !== preReceiveHook(config.default_branch))
      missing.push(`the pre-receive hook guarding ${config.default_branch}`);
    if (missing.length) problems.push({ rig, missing });
  }
  return problems;
}

/** Keys whose value git runs as a program (gt sets none of them in a rig's bare repository). */
const COMMAND_KEYS =
  /^(core\.(fsmonitor|sshcommand|pager|editor|hookspath|askpass|gitproxy)|filter\..*\.(clean|smudge|process)|diff\..*\.(command|textconv)|diff\.external|merge\..*\.driver|credential\..*helper|credential\.helper|include\.path|includeif\..*|alias\..*|gpg\..*program|sequence\.editor|uploadpack\.packobjectshook|receive\.procreceiverefs|pager\..*)$/i;

export const repoConfigCommandsCheck: DoctorCheck = {
  name: 'repo-config-commands',
  title: "no rig's shared git config runs a program (an agent's worktree shares .repo.git/config)",
  async run(context) {
    const town = townOf(context);
    const found: string[] = [];
    for (const { name: rig } of rigsOf(context)) {
      const repo = town.repoDir(rig);
      if (!town.ports.files.isDirectory(repo)) continue;
      const keys = (await town.ports.git.probe(repo, ['config', '--local', '--name-only', '--list'])).stdout
        .split('\n')
        .filter((k) => COMMAND_KEYS.test(k.trim()));
      found.push(...keys.map((k) => `${rig}: ${k.trim()}`));
    }
    if (found.length)
      return {
        status: 'fail',
        message: `git would run a program set in a rig's repository config (${found.join('; ')})`,
        fix: `look at each and remove it: git --git-dir <rig>/.repo.git config --unset <key>`,
        details: found,
      };
    return { status: 'ok', message: `${rigsOf(context).length} rig(s) without command-running git settings` };
  },
};

export const SECURITY_CHECKS: readonly DoctorCheck[] = [
  townModesCheck,
  fileModesCheck,
  sessionSecretsCheck,
  tmuxArgvCheck,
  rigUrlCheck,
  pushProtectionCheck,
  repoConfigCommandsCheck,
];
