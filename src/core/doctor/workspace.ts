/**
 * The town on disk (design §3): its folders, the launchers agents call, each
 * rig's bare repository and refinery worktree, and agents' worktrees matching
 * the ledger — none missing, none unknown.
 */
import { BIN_DIR, GT_DIR, RUNS_DIR } from '../../shared/paths.js';
import { shellQuote } from '../../shared/shell.js';
import { branchExists } from '../town/worktree.js';
import type { AgentRecord, Town } from '../town/town.js';
import { listed, relativeTo, rigsOf, townOf, type CheckOutcome, type DoctorCheck, type DoctorContext } from './doctor.js';

/** The folders gt writes into: created by gt install, and by --fix when one went missing. */
const TOWN_DIRS = [GT_DIR, RUNS_DIR, `${GT_DIR}/logs`, BIN_DIR];

function missingDirs(context: DoctorContext): string[] {
  return TOWN_DIRS.filter((dir) => !context.ports.files.isDirectory(`${context.root}/${dir}`));
}

export const townLayoutCheck: DoctorCheck = {
  name: 'town-layout',
  title: "the town's folders exist (.gt, runs, logs, bin, the Mayor's home)",
  async run(context) {
    const missing = missingDirs(context);
    const mayor = context.ports.files.isDirectory(`${context.root}/mayor/.git`);
    if (missing.length === 0 && mayor) return { status: 'ok', message: 'every folder of the layout is there' };
    const all = [...missing, ...(mayor ? [] : ['mayor/.git'])];
    return {
      status: missing.length ? 'fail' : 'warn',
      message: `missing: ${all.join(', ')}`,
      fix: `gt doctor --fix creates the folders; gt install --force ${shellQuote(context.root)} also restores the Mayor's home (nothing is overwritten)`,
      fixable: missing.length > 0,
      details: all,
    };
  },
  async repair(context) {
    const missing = missingDirs(context);
    for (const dir of missing) context.ports.files.mkdirp(`${context.root}/${dir}`);
    if (missing.includes(GT_DIR)) context.ports.files.chmod(`${context.root}/${GT_DIR}`, 0o700);
    return missing.map((dir) => `created ${dir}/`);
  },
};

export const launchersCheck: DoctorCheck = {
  name: 'launchers',
  title: 'the .gt/bin/gt and bd launchers agents call run this gt',
  async run(context) {
    const stale = context.ports.staleLaunchers();
    if (stale.length === 0) return { status: 'ok', message: `${BIN_DIR}/gt and bd run this install` };
    const missing = stale.filter((s) => s.reason === 'missing');
    return {
      status: missing.length ? 'fail' : 'warn',
      message: stale.map((s) => `${BIN_DIR}/${s.name}: ${s.reason}`).join('; '),
      fix: 'gt doctor --fix writes them again (every command that starts a session does too)',
      details: stale.map((s) => s.name),
    };
  },
  async repair(context) {
    const stale = context.ports.staleLaunchers();
    if (stale.length === 0) return [];
    context.ports.writeLaunchers();
    return stale.map((s) => `wrote ${BIN_DIR}/${s.name}`);
  },
};

export const pathCheck: DoctorCheck = {
  name: 'path',
  title: 'gt and bd are on your PATH (agents get .gt/bin first on theirs)',
  async run(context) {
    const { ports, root } = context;
    const missing = ['gt', 'bd'].filter((command) => ports.which(command) === undefined);
    if (missing.length === 0) return { status: 'ok', message: `gt at ${ports.which('gt') ?? ''}, bd at ${ports.which('bd') ?? ''}` };
    return {
      status: 'warn',
      message: `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not on your PATH (sessions are fine: they get ${BIN_DIR} first)`,
      fix: `npm link in gt's checkout, or export PATH=${shellQuote(`${root}/${BIN_DIR}`)}:"$PATH"`,
    };
  },
};

export const rigReposCheck: DoctorCheck = {
  name: 'rig-repos',
  title: "each rig's bare repository and refinery worktree are whole",
  async run(context) {
    const town = townOf(context);
    const problems = await rigRepoProblems(town, context);
    const rigs = rigsOf(context).length;
    if (problems.length === 0) return { status: 'ok', message: `${rigs} rig(s): bare repository, default branch and refinery worktree in place` };
    return {
      status: problems.some((p) => !p.fixable) ? 'fail' : 'warn',
      message: problems.map((p) => p.text).join('; '),
      fix: problems.some((p) => p.fixable)
        ? 'gt doctor --fix recreates a missing refinery worktree from the default branch'
        : 'restore the repository (gt rig remove, then gt rig add)',
      fixable: problems.some((p) => p.fixable),
      details: problems.map((p) => p.text),
    };
  },
  async repair(context) {
    const town = townOf(context);
    const done: string[] = [];
    for (const problem of await rigRepoProblems(town, context)) {
      if (!problem.fixable) continue;
      const { rig, branch } = problem;
      const release = await town.lockWorktrees(rig);
      try {
        const repo = town.repoDir(rig);
        await town.ports.git.run(repo, ['worktree', 'prune']);
        await town.ports.git.run(repo, ['worktree', 'add', '-q', town.path(rig, 'refinery'), branch]);
      } finally {
        release();
      }
      done.push(`recreated ${rig}/refinery on ${branch}`);
    }
    return done;
  },
};

async function rigRepoProblems(town: Town, context: DoctorContext): Promise<Array<{ rig: string; branch: string; text: string; fixable: boolean }>> {
  const { git, files } = town.ports;
  const problems: Array<{ rig: string; branch: string; text: string; fixable: boolean }> = [];
  for (const { name, config } of rigsOf(context)) {
    const repo = town.repoDir(name);
    const add = (text: string, fixable = false) => problems.push({ rig: name, branch: config.default_branch, text: `${name}: ${text}`, fixable });
    if (!files.isDirectory(repo)) {
      add(`${relativeTo(town.root, repo)} is missing`);
      continue;
    }
    if ((await git.probe(repo, ['rev-parse', '--is-bare-repository'])).stdout.trim() !== 'true') {
      add(`${relativeTo(town.root, repo)} is not a bare git repository`);
      continue;
    }
    if (!(await branchExists(git, repo, config.default_branch))) {
      add(`the default branch ${config.default_branch} is missing from ${relativeTo(town.root, repo)}`);
      continue;
    }
    if (!files.isDirectory(town.path(name, 'refinery'))) add('the refinery worktree is missing', true);
  }
  return problems;
}

interface MissingWorktree {
  agent: AgentRecord;
  /** The branch to check out again, when there is work to restore. */
  branch?: string;
  hooked: boolean;
}

/** Active agents whose worktree is gone: polecats and crew (the refinery is rig-repos'). */
async function missingWorktrees(town: Town): Promise<MissingWorktree[]> {
  const missing: MissingWorktree[] = [];
  for (const agent of await town.agents()) {
    if ((agent.role !== 'polecat' && agent.role !== 'crew') || !agent.rig) continue;
    if (town.ports.files.isDirectory(town.path(agent.workdir))) continue;
    const hooked = (await town.ledger.list({ statuses: ['hooked', 'in_progress'], assignee: agent.address, includeEphemeral: true, limit: 1 })).length > 0;
    const branch = agent.branch && (await branchExists(town.ports.git, town.repoDir(agent.rig), agent.branch)) ? agent.branch : undefined;
    missing.push({ agent, hooked, ...(branch ? { branch } : {}) });
  }
  return missing;
}

/** Recreated only when it holds something: work on the hook, or a crew member's branch. An idle polecat gets a fresh one at its next sling. */
const restorable = (m: MissingWorktree) => m.branch !== undefined && (m.hooked || m.agent.role === 'crew');

export const worktreesMissingCheck: DoctorCheck = {
  name: 'worktrees-missing',
  title: "every agent's worktree exists",
  async run(context): Promise<CheckOutcome> {
    const town = townOf(context);
    const missing = await missingWorktrees(town);
    if (missing.length === 0) return { status: 'ok', message: "every polecat's and crew member's worktree is there" };
    const lines = missing.map(
      (m) =>
        `${m.agent.workdir} (${m.agent.address}${m.hooked ? ', work on its hook' : ''}${m.branch ? `, branch ${m.branch} still in the repository` : ', no branch to restore'})`,
    );
    const serious = missing.some((m) => m.hooked || m.agent.role === 'crew');
    return {
      status: serious ? 'fail' : 'warn',
      message: `${missing.length} worktree(s) deleted: ${listed(lines, 3)}`,
      fix: missing.some(restorable)
        ? 'gt doctor --fix checks the branch out again in a new worktree (its commits are in the bare repository; uncommitted changes are lost with the folder)'
        : 'git worktree prune in the rig repository; the next sling gives the polecat a fresh worktree',
      fixable: missing.some(restorable),
      details: lines,
    };
  },
  async repair(context) {
    const town = townOf(context);
    const done: string[] = [];
    for (const m of (await missingWorktrees(town)).filter(restorable)) {
      const rig = m.agent.rig as string;
      const release = await town.lockWorktrees(rig);
      try {
        const repo = town.repoDir(rig);
        // Only the admin entries of worktrees whose folder is gone: git never prunes one that exists.
        await town.ports.git.run(repo, ['worktree', 'prune']);
        town.ports.files.mkdirp(town.path(m.agent.workdir, '..'));
        await town.ports.git.run(repo, ['worktree', 'add', '-q', town.path(m.agent.workdir), m.branch as string]);
      } finally {
        release();
      }
      done.push(`recreated ${m.agent.workdir} on ${m.branch}`);
    }
    return done;
  },
};

/** Folders where gt keeps worktrees that no active agent owns (a nuke interrupted, a copy made by hand). */
async function unknownDirs(town: Town, context: DoctorContext): Promise<string[]> {
  const owned = new Set((await town.agents()).map((a) => a.workdir));
  const unknown: string[] = [];
  for (const { name } of rigsOf(context)) {
    for (const kind of ['polecats', 'crew']) {
      for (const entry of town.ports.files.list(town.path(name, kind))) {
        const rel = `${name}/${kind}/${entry}`;
        if (town.ports.files.isDirectory(town.path(rel)) && !owned.has(rel)) unknown.push(rel);
      }
    }
  }
  return unknown;
}

export const worktreesUnknownCheck: DoctorCheck = {
  name: 'worktrees-unknown',
  title: 'every folder under polecats/ and crew/ belongs to an agent',
  async run(context) {
    const town = townOf(context);
    const unknown = await unknownDirs(town, context);
    if (unknown.length === 0) return { status: 'ok', message: 'no unknown folder' };
    return {
      status: 'warn',
      message: `${unknown.length} folder(s) no agent owns: ${listed(unknown)} (gt never deletes them: they may hold work)`,
      fix: `look inside (git -C <dir> status); move what you need, then remove the folder and run git worktree prune in the rig's .repo.git`,
      details: unknown,
    };
  },
};

export const WORKSPACE_CHECKS: readonly DoctorCheck[] = [
  townLayoutCheck,
  launchersCheck,
  pathCheck,
  rigReposCheck,
  worktreesMissingCheck,
  worktreesUnknownCheck,
];
