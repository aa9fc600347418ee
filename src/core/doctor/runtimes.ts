/**
 * The agents' side: Node is new enough, every runtime the town uses is
 * installed at a version gt's hooks speak, each running session's gt-owned
 * settings file is there and what this gt writes, and Claude Code's first-run
 * state in the town's HOME lets a session start unattended (onboarding, the
 * API key approved, worktrees trusted: docs/claude-code-offline.md).
 */
import { settingsDir } from '../../shared/paths.js';
import { apiKeySuffix, claudeConfigFile } from '../agents/claude-config.js';
import { parseIdentity } from '../agents/identity.js';
import { HOOK_URL_PLACEHOLDER, launchPlan, resolveRuntime, type ResolvedRuntime } from '../agents/runtimes.js';
import { permissionTimeoutMs, policyLayers } from '../governance/permissions.js';
import type { AgentRecord, Town } from '../town/town.js';
import { checkRuntime } from '../work/work.js';
import { listed, relativeTo, rigsOf, townConfigOf, townOf, type DoctorCheck, type DoctorContext } from './doctor.js';

/** package.json's engines.node. */
const MIN_NODE = [20, 19];

export const nodeCheck: DoctorCheck = {
  name: 'node',
  title: `Node.js ${MIN_NODE.join('.')} or later`,
  async run(context) {
    const [major = 0, minor = 0] = context.ports.nodeVersion.split('.').map(Number);
    const [wantMajor = 0, wantMinor = 0] = MIN_NODE;
    if (major > wantMajor || (major === wantMajor && minor >= wantMinor)) return { status: 'ok', message: `Node.js ${context.ports.nodeVersion}` };
    return { status: 'fail', message: `Node.js ${context.ports.nodeVersion} is older than gt needs (${MIN_NODE.join('.')})`, fix: 'install Node.js 22 (LTS)' };
  },
};

/** Every runtime name the town's config or its agents use, with where it is named. */
function runtimesInUse(context: DoctorContext, agents: AgentRecord[]): Map<string, string[]> {
  const config = townConfigOf(context);
  const used = new Map<string, string[]>();
  const add = (name: string | undefined, where: string) => {
    if (name) used.set(name, [...(used.get(name) ?? []), where]);
  };
  add(config.default_agent, 'default_agent');
  for (const [role, name] of Object.entries(config.role_agents)) add(name, `role_agents.${role}`);
  for (const { name: rig, config: rc } of rigsOf(context)) {
    add(rc.agent, `${rig}/rig.toml agent`);
    for (const [role, name] of Object.entries(rc.role_agents)) add(name, `${rig}/rig.toml role_agents.${role}`);
  }
  for (const agent of agents) add(agent.runtime, agent.address);
  return used;
}

export const runtimesCheck: DoctorCheck = {
  name: 'runtimes',
  title: 'every runtime the town uses is installed, at a version gt supports',
  async run(context) {
    const town = townOf(context);
    const config = townConfigOf(context);
    const { ports } = context;
    // `<command> --version` starts the runtime (a second or so for some): asked once per command.
    const versions = new Map<string, string | undefined>();
    const version = (c: string) => {
      if (!versions.has(c)) versions.set(c, ports.commandVersion(c));
      return versions.get(c);
    };
    const probe = { exists: (c: string) => ports.commandExists(c), version };
    const found: string[] = [];
    const problems: string[] = [];
    for (const [name, where] of runtimesInUse(context, await town.agents())) {
      let runtime: ResolvedRuntime;
      try {
        runtime = resolveRuntime(name, config);
      } catch (error) {
        problems.push(`${name} (${listed(where, 2)}): ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      if (runtime.hooks === 'builtin') {
        found.push(`${name} (built in)`);
        continue;
      }
      try {
        checkRuntime(runtime, probe);
      } catch (error) {
        problems.push(`${error instanceof Error ? error.message : String(error)} — used by ${listed(where, 2)}`);
        continue;
      }
      const pinned = ports.which(runtime.command) === undefined;
      found.push(`${name} ${version(runtime.command) ?? '(version unknown)'}${pinned ? " (gt's pinned copy)" : ''}`);
    }
    if (problems.length === 0) return { status: 'ok', message: found.join(', ') };
    return {
      status: 'fail',
      message: listed(problems, 3),
      fix: 'install the runtime (npm install -g <package>), point the agent at it (gt config agent set <name> "<command>"), or choose another (gt config default-agent shell)',
      details: [...problems, ...found.map((f) => `ok: ${f}`)],
    };
  },
};

/** A session host's hook URL in a settings file (`http://127.0.0.1:<port>/hook/<token>`): written after gt, kept by a rewrite. */
const HOOK_URL = /http:\/\/127\.0\.0\.1:\d+\/hook\/[0-9a-f]+/;

interface SettingsProblem {
  agent: string;
  file: string;
  /** What gt writes now (with the placeholder for the URL). */
  expected: string;
  actual: string | undefined;
  /** Whether --fix can write it: a Claude file needs its host's URL, which only the old file knows. */
  fixable: boolean;
}

async function settingsProblems(town: Town): Promise<{ looked: number; problems: SettingsProblem[] }> {
  const problems: SettingsProblem[] = [];
  let looked = 0;
  for (const agent of await town.agents()) {
    if (!agent.runtime || !agent.backend) continue;
    const identity = parseIdentity(agent.address);
    let runtime: ResolvedRuntime;
    try {
      runtime = town.runtimeFor(identity, agent.runtime);
    } catch {
      continue; // the runtimes check names it
    }
    if (runtime.hooks !== 'claude' && runtime.hooks !== 'gemini') continue;
    // A stopped agent gets fresh settings at its next start: only running sessions read theirs now.
    if (!(await town.sessionAlive(agent))) continue;
    looked++;
    const plan = launchPlan(runtime, {
      headless: agent.backend === 'headless',
      prompt: '',
      settingsDir: town.path(settingsDir(agent.session)),
      gtBin: town.ports.gtBin,
      permissionTimeoutSec: Math.ceil(permissionTimeoutMs(policyLayers(town, identity)) / 1000),
    });
    for (const [file, expected] of Object.entries(plan.files)) {
      const actual = town.ports.files.read(file);
      if (actual !== undefined && actual.replace(new RegExp(HOOK_URL.source, 'g'), HOOK_URL_PLACEHOLDER) === expected) continue;
      const withUrl = runtime.hooks !== 'claude' || (actual !== undefined && HOOK_URL.test(actual));
      problems.push({ agent: agent.address, file, expected, actual, fixable: withUrl });
    }
  }
  return { looked, problems };
}

export const hooksSettingsCheck: DoctorCheck = {
  name: 'hooks-settings',
  title: "running sessions' hook settings files are present and current",
  async run(context) {
    const town = townOf(context);
    const { looked, problems } = await settingsProblems(town);
    if (problems.length === 0) return { status: 'ok', message: `${looked} running session(s) with hook settings, all current` };
    const lines = problems.map(
      (p) => `${p.agent}: ${relativeTo(town.root, p.file)} ${p.actual === undefined ? 'is missing' : 'differs from what this gt writes'}`,
    );
    return {
      status: problems.some((p) => p.actual === undefined) ? 'fail' : 'warn',
      message: `${listed(lines, 3)}: its hooks (prime, mail at turn boundaries, the permission broker) ${problems.some((p) => p.actual === undefined) ? 'do not run' : 'are out of date'}`,
      fix: problems.every((p) => p.fixable)
        ? 'gt doctor --fix writes them again'
        : 'gt doctor --fix writes the ones it can; restart the others with gt handoff --agent <address> (a Claude session host holds its hook URL)',
      fixable: problems.some((p) => p.fixable),
      details: lines,
    };
  },
  async repair(context) {
    const town = townOf(context);
    const done: string[] = [];
    for (const problem of (await settingsProblems(town)).problems.filter((p) => p.fixable)) {
      const url = problem.actual === undefined ? undefined : HOOK_URL.exec(problem.actual)?.[0];
      town.ports.files.write(problem.file, url ? problem.expected.split(HOOK_URL_PLACEHOLDER).join(url) : problem.expected, 0o600);
      done.push(`wrote ${relativeTo(town.root, problem.file)} (${problem.agent})`);
    }
    return done;
  },
};

type ClaudeJson = {
  hasCompletedOnboarding?: unknown;
  oauthAccount?: unknown;
  customApiKeyResponses?: { approved?: unknown; rejected?: unknown };
  projects?: Record<string, { hasTrustDialogAccepted?: unknown }>;
};

/** Tmux Claude sessions' worktrees Claude Code has not been told to trust (gt records it before each start; a dialog otherwise waits). */
async function untrustedWorkdirs(town: Town, config: ClaudeJson): Promise<string[]> {
  const dirs: string[] = [];
  for (const agent of await town.agents()) {
    if (agent.backend !== 'tmux' || !agent.runtime) continue;
    let hooks: string;
    try {
      hooks = town.runtimeFor(parseIdentity(agent.address), agent.runtime).hooks;
    } catch {
      continue;
    }
    const dir = town.path(agent.workdir);
    if (hooks === 'claude' && town.ports.files.isDirectory(dir) && config.projects?.[dir]?.hasTrustDialogAccepted !== true) dirs.push(dir);
  }
  return dirs;
}

function readClaudeJson(context: DoctorContext): { file: string | undefined; config?: ClaudeJson; error?: string } {
  const file = claudeConfigFile(context.ports.env);
  if (!file) return { file };
  const text = context.ports.files.read(file);
  if (text === undefined) return { file };
  try {
    const value = JSON.parse(text) as unknown;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return { file, config: value };
  } catch {
    // below
  }
  return { file, error: `${file} is not a JSON object` };
}

export const claudeSetupCheck: DoctorCheck = {
  name: 'claude-setup',
  title: "Claude Code's first-run state in this HOME (onboarding, API key, trusted worktrees)",
  async run(context) {
    const town = townOf(context);
    const config = townConfigOf(context);
    const usesClaude = [...runtimesInUse(context, await town.agents()).keys()].some((name) => {
      try {
        return resolveRuntime(name, config).hooks === 'claude';
      } catch {
        return false;
      }
    });
    if (!usesClaude) return { status: 'ok', message: 'no runtime of this town is Claude Code' };
    const { file, config: claude, error } = readClaudeJson(context);
    if (!file)
      return {
        status: 'warn',
        message: 'neither HOME nor CLAUDE_CONFIG_DIR is set: Claude Code has nowhere to keep its state',
        fix: 'set HOME',
        fixable: false,
      };
    if (error)
      return {
        status: 'fail',
        message: `${error}: Claude Code cannot read its state, and gt cannot record trusted worktrees`,
        fix: `fix or move ${file}`,
        fixable: false,
      };
    const setup = 'run claude once in a terminal and finish its setup (or, for a dry run against gt model-server: gt model-server --setup-claude)';
    if (!claude)
      return {
        status: 'warn',
        message: `Claude Code has never run in this HOME (${file} is missing): a session stops at its welcome screen`,
        fix: setup,
        fixable: false,
      };
    const problems: string[] = [];
    if (claude.hasCompletedOnboarding !== true) problems.push('onboarding is not done (a session stops at the welcome screen)');
    const key = context.ports.env.ANTHROPIC_API_KEY;
    const responses = claude.customApiKeyResponses ?? {};
    const has = (list: unknown, value: string) => Array.isArray(list) && list.includes(value);
    if (key) {
      if (has(responses.rejected, apiKeySuffix(key))) problems.push('ANTHROPIC_API_KEY was rejected in Claude Code (sessions will not use it)');
      else if (!has(responses.approved, apiKeySuffix(key))) problems.push('ANTHROPIC_API_KEY is not approved yet (a session stops to ask about it)');
    } else if (claude.oauthAccount === undefined && !context.ports.env.ANTHROPIC_AUTH_TOKEN && !context.ports.env.CLAUDE_CODE_OAUTH_TOKEN) {
      problems.push('no ANTHROPIC_API_KEY and no Claude login (a session stops at the login screen)');
    }
    const untrusted = await untrustedWorkdirs(town, claude);
    if (untrusted.length)
      problems.push(
        `${untrusted.length} worktree(s) not trusted yet: ${listed(
          untrusted.map((d) => relativeTo(town.root, d)),
          3,
        )}`,
      );
    if (problems.length === 0) return { status: 'ok', message: `onboarding done, ${key ? 'API key approved' : 'logged in'}, worktrees trusted (${file})` };
    return {
      status: 'warn',
      message: `${file}: ${problems.join('; ')}`,
      fix: untrusted.length === problems.length ? 'gt doctor --fix records the trust (as gt does before each start)' : setup,
      fixable: untrusted.length > 0,
      details: problems,
    };
  },
  /** Only the trust gt itself records before every start; onboarding and approving a key stay the person's. */
  async repair(context) {
    const town = townOf(context);
    const { file, config: claude } = readClaudeJson(context);
    if (!file || !claude) return [];
    const untrusted = await untrustedWorkdirs(town, claude);
    if (untrusted.length === 0) return [];
    const projects = { ...claude.projects };
    for (const dir of untrusted) projects[dir] = { ...projects[dir], hasTrustDialogAccepted: true };
    town.ports.files.write(file, `${JSON.stringify({ ...claude, projects }, null, 2)}\n`, 0o600);
    return untrusted.map((dir) => `trusted ${relativeTo(town.root, dir)} in ${file}`);
  },
};

export const RUNTIME_CHECKS: readonly DoctorCheck[] = [nodeCheck, runtimesCheck, hooksSettingsCheck, claudeSetupCheck];
