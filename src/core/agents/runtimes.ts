/**
 * Runtime presets (research/gastown.md §3.3): how each agent CLI is started,
 * how it gets its first prompt, how gt's hooks reach it, how readiness shows,
 * and how it runs without a terminal. `shell` is gt's own runner: it executes
 * a bead's `run` commands with no LLM.
 */
import { parse as parseWords } from 'shell-quote';
import { parse as parseToml } from 'smol-toml';
import { GtError } from '../../shared/errors.js';
import type { TownConfig } from '../town/config.js';

export type HookKind = 'claude' | 'gemini' | 'codex' | 'cursor' | 'copilot' | 'none' | 'builtin';

export interface RuntimePreset {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** `arg`: the start-up prompt is the last argument; `none`: typed once the agent is ready. */
  prompt: 'arg' | 'none';
  hooks: HookKind;
  /** Text at the start of the agent's prompt line when it waits for input. */
  readyPrompt?: string;
  readyDelayMs: number;
  processNames: string[];
  resume?: string;
  /** The oldest version gt works with (hook protocol), checked before a session starts. */
  minVersion?: string;
  /** The npm package that installs it, for the update hint. */
  package?: string;
  /** How to run without a terminal; absent when the runtime has no such mode. */
  headless?: { args: string[]; stdin: 'stream-json' | 'none' };
  /**
   * The secret-named variables (…_API_KEY, …_TOKEN) this runtime needs to reach
   * its model; a session gets these and no other secret of the caller's
   * environment (town.toml `sessions.pass_env` adds more).
   */
  secretEnv?: string[];
}

export const PRESETS: Record<string, RuntimePreset> = {
  // No --dangerously-skip-permissions: gt's PreToolUse hook answers every tool call from the
  // permission policy (and root may not use that flag at all).
  claude: {
    name: 'claude',
    secretEnv: ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN', 'AWS_BEARER_TOKEN_BEDROCK'],
    command: 'claude',
    args: [],
    prompt: 'arg',
    hooks: 'claude',
    readyPrompt: '❯',
    readyDelayMs: 10_000,
    processNames: ['claude', 'node'],
    resume: '--resume <session-id>',
    minVersion: '2.1.0',
    package: '@anthropic-ai/claude-code',
    headless: { args: ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose'], stdin: 'stream-json' },
  },
  codex: {
    name: 'codex',
    secretEnv: ['OPENAI_API_KEY', 'CODEX_API_KEY', 'AZURE_OPENAI_API_KEY'],
    command: 'codex',
    args: ['--dangerously-bypass-approvals-and-sandbox'],
    prompt: 'none',
    hooks: 'codex',
    readyPrompt: '›',
    readyDelayMs: 3000,
    processNames: ['codex'],
    resume: 'codex resume <session-id>',
    // Hooks stable, `--dangerously-bypass-hook-trust` (gt's PreToolUse hook goes to the broker): tested with 0.169.
    minVersion: '0.169.0',
    package: '@openai/codex',
    headless: { args: ['exec', '--json', '--dangerously-bypass-approvals-and-sandbox'], stdin: 'none' },
  },
  gemini: {
    name: 'gemini',
    secretEnv: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'],
    command: 'gemini',
    args: ['--approval-mode', 'yolo'],
    prompt: 'arg',
    hooks: 'gemini',
    readyDelayMs: 5000,
    processNames: ['gemini', 'node'],
    resume: '--resume',
    headless: { args: ['--approval-mode', 'yolo', '--output-format', 'stream-json', '-p'], stdin: 'none' },
  },
  cursor: {
    name: 'cursor',
    secretEnv: ['CURSOR_API_KEY'],
    command: 'cursor-agent',
    args: ['-f'],
    prompt: 'arg',
    hooks: 'cursor',
    readyDelayMs: 5000,
    processNames: ['cursor-agent', 'agent'],
    resume: '--resume',
  },
  amp: {
    name: 'amp',
    secretEnv: ['AMP_API_KEY'],
    command: 'amp',
    args: ['--dangerously-allow-all', '--no-ide'],
    prompt: 'arg',
    hooks: 'none',
    readyDelayMs: 5000,
    processNames: ['amp', 'node'],
    resume: 'amp threads continue <id>',
  },
  auggie: {
    name: 'auggie',
    secretEnv: ['AUGMENT_SESSION_AUTH', 'AUGMENT_API_TOKEN'],
    command: 'auggie',
    args: ['--allow-indexing'],
    prompt: 'arg',
    hooks: 'none',
    readyDelayMs: 5000,
    processNames: ['auggie', 'node'],
    resume: '--resume',
  },
  opencode: {
    name: 'opencode',
    secretEnv: ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'GEMINI_API_KEY', 'GOOGLE_API_KEY', 'OPENROUTER_API_KEY', 'GROQ_API_KEY'],
    command: 'opencode',
    args: [],
    env: { OPENCODE_PERMISSION: '{"*":"allow"}' },
    prompt: 'arg',
    hooks: 'none',
    readyDelayMs: 8000,
    processNames: ['opencode', 'node', 'bun'],
    resume: 'opencode acp',
  },
  copilot: {
    name: 'copilot',
    secretEnv: ['COPILOT_GITHUB_TOKEN', 'GH_TOKEN', 'GITHUB_TOKEN'],
    command: 'copilot',
    args: ['--yolo'],
    prompt: 'arg',
    hooks: 'copilot',
    readyDelayMs: 5000,
    processNames: ['copilot', 'node'],
    resume: '--resume',
  },
  shell: {
    name: 'shell',
    command: 'gt',
    args: ['run-shell'],
    prompt: 'none',
    hooks: 'builtin',
    readyDelayMs: 0,
    processNames: ['node'],
    headless: { args: ['run-shell'], stdin: 'none' },
  },
};

export interface ResolvedRuntime extends RuntimePreset {
  /** True for an agent the user defined in town.toml. */
  custom: boolean;
}

function basename(command: string): string {
  return command.split('/').pop() ?? command;
}

/** Looks a runtime up: town.toml `[agents.<name>]` first, then the presets. */
export function resolveRuntime(name: string, town: Pick<TownConfig, 'agents'>): ResolvedRuntime {
  const custom = town.agents[name];
  if (custom) {
    const parsed = parseWords(custom.command);
    if (parsed.some((w) => typeof w !== 'string')) {
      // shell-quote returns operators (|, >, &&, globs) as objects: gt runs the words itself, with no shell.
      throw new GtError('validation', `town.toml: key agents.${name}.command: shell operators are not supported in ${JSON.stringify(custom.command)}`, {
        hint: `wrap it in a shell: gt config agent set ${name} "sh -c '…'"`,
      });
    }
    const [command, ...args] = parsed as string[];
    if (command === undefined) throw new GtError('validation', `town.toml: key agents.${name}.command: empty command`);
    // A custom agent behaves like the preset it names, or the preset of its command's name.
    const base = PRESETS[custom.like ?? basename(command)];
    const like = base && base.name !== 'shell' ? base : undefined;
    return {
      name,
      command,
      args,
      env: { ...like?.env, ...custom.env },
      prompt: like?.prompt ?? 'none',
      hooks: like?.hooks ?? 'none',
      ...(like?.readyPrompt !== undefined ? { readyPrompt: like.readyPrompt } : {}),
      readyDelayMs: like?.readyDelayMs ?? 2000,
      processNames: like?.processNames ?? [basename(command)],
      ...(like?.secretEnv ? { secretEnv: like.secretEnv } : {}),
      custom: true,
      // Headless: the agent's own arguments, then the preset's headless flags.
      ...(like?.headless ? { headless: { args: [...args, ...like.headless.args.filter((a) => !like.args.includes(a))], stdin: like.headless.stdin } } : {}),
    };
  }
  const preset = PRESETS[name];
  if (!preset) {
    throw new GtError('not_found', `unknown agent runtime ${JSON.stringify(name)}`, {
      hint: `use one of ${[...Object.keys(PRESETS), ...Object.keys(town.agents)].join(', ')}, or define it with gt config agent set ${name} "<command>"`,
    });
  }
  return { ...preset, custom: false };
}

export function startupPrompt(address: string, hooked: boolean, runtime: RuntimePreset): string {
  const prime = ['claude', 'gemini', 'cursor', 'copilot'].includes(runtime.hooks) ? '' : 'Run `gt prime` to learn your role and work. ';
  return hooked
    ? `[gt] You are ${address}. ${prime}Work on the bead on your hook now (\`gt hook\`); when it is finished, commit and run \`gt done\`.`
    : `[gt] You are ${address}. ${prime}Check \`gt hook\` and \`gt mail inbox\`, then wait for instructions.`;
}

export interface HookCommands {
  prime: string;
  signal: (event: string, format?: string) => string;
}

/**
 * gt's hook events in each runtime's own event names. `prime` runs `gt prime
 * --hook`; the rest run `gt signal <event>`. Prompt submit and stop are the
 * turn boundaries where mail is delivered.
 */
const HOOK_EVENTS = {
  claude: {
    SessionStart: 'prime',
    // Holds the compaction once for a memory flush turn (core/memory/flush.ts), then prints the prime.
    PreCompact: 'pre-compact',
    UserPromptSubmit: 'prompt-submit',
    Stop: 'stop',
    Notification: 'notification',
    SessionEnd: 'session-end',
    // Claude Code agent teams: the agent leads one (issue 17 §4). Answered with nothing: never keeps a teammate working.
    TeammateIdle: 'teammate-idle',
    TaskCompleted: 'task-completed',
  },
  gemini: {
    SessionStart: 'prime',
    PreCompress: 'prime',
    BeforeAgent: 'prompt-submit',
    AfterAgent: 'stop',
    Notification: 'notification',
    SessionEnd: 'session-end',
  },
  cursor: { sessionStart: 'prime', preCompact: 'prime', beforeSubmitPrompt: 'prompt-submit', stop: 'stop', sessionEnd: 'session-end' },
  copilot: { sessionStart: 'prime', userPromptSubmitted: 'prompt-submit', sessionEnd: 'session-end' },
} as const;

/** A runtime's hook file: its events, each with gt's command in the runtime's entry format. */
function hookFile(
  kind: keyof typeof HOOK_EVENTS,
  gt: HookCommands,
  entry: (command: string) => unknown,
  top: Record<string, unknown> = {},
): Record<string, unknown> {
  const hooks = Object.fromEntries(
    Object.entries(HOOK_EVENTS[kind]).map(([event, what]) => [event, [entry(what === 'prime' ? gt.prime : gt.signal(what, kind))]]),
  );
  return { ...top, hooks };
}

/** Stands for the session host's hook URL in a settings file until the host knows its port. */
export const HOOK_URL_PLACEHOLDER = '__GT_HOOK_URL__';

/** Claude Code events gt answers over HTTP from the session host (no process per event), with time limits in seconds. */
const CLAUDE_HTTP_HOOKS: Record<string, 'permission' | 'signal'> = {
  UserPromptSubmit: 'signal',
  PreToolUse: 'permission',
  PermissionRequest: 'permission',
  Stop: 'signal',
  StopFailure: 'signal',
  Notification: 'signal',
  SessionEnd: 'signal',
  TeammateIdle: 'signal',
  TaskCompleted: 'signal',
};

/**
 * The settings file gt passes to Claude Code with `--settings` (never written into
 * the customer's repository). SessionStart runs `gt prime` and PreCompact `gt signal
 * pre-compact` (Claude Code takes only commands there); with a hook URL the per-turn events go to the
 * session host over HTTP, else each runs `gt signal`.
 */
export function claudeSettings(gt: HookCommands, http?: { url: string; permissionTimeoutSec: number }): Record<string, unknown> {
  const settings = hookFile('claude', gt, (command) => ({ hooks: [{ type: 'command', command, timeout: 30 }] }));
  if (!http) return settings;
  const hooks = settings.hooks as Record<string, unknown>;
  for (const [event, kind] of Object.entries(CLAUDE_HTTP_HOOKS)) {
    // A permission may wait for a person: the hook outlives the broker's own timeout, which answers first.
    hooks[event] = [{ hooks: [{ type: 'http', url: `${http.url}/${event}`, timeout: kind === 'permission' ? http.permissionTimeoutSec + 60 : 30 }] }];
  }
  return settings;
}

/** Gemini CLI's equivalent, in a system settings file named by env. */
export function geminiSettings(gt: HookCommands, gtBin: string): Record<string, unknown> {
  const settings = hookFile('gemini', gt, (command) => ({ hooks: [{ type: 'command', command }] }));
  // Gemini CLI's BeforeTool hook: the permission broker decides every tool call (time limit in ms, past the broker's default 10 min).
  (settings.hooks as Record<string, unknown>).BeforeTool = [
    { hooks: [{ type: 'command', command: `${gtBin} permission check --format gemini`, timeout: 660_000 }] },
  ];
  return settings;
}

/**
 * Cursor's hooks (`.cursor/hooks.json`) and Copilot CLI's (`.github/hooks/*.json`) are
 * only read from the project, so gt puts them in the worktree — never over an
 * existing file of the repository's own, and excluded from git (info/exclude).
 */
export const cursorHooks = (gt: HookCommands) => hookFile('cursor', gt, (command) => ({ command }), { version: 1 });
export const copilotHooks = (gt: HookCommands) => hookFile('copilot', gt, (command) => ({ type: 'command', bash: command, timeoutSec: 30 }), { version: 1 });

export interface LaunchPlan {
  argv: string[];
  env: Record<string, string>;
  /** Files gt owns that the runtime reads (settings), path → content. */
  files: Record<string, string>;
  /** Hook files the runtime only reads from the project: worktree-relative path → content. */
  worktreeFiles: Record<string, string>;
  /** Text to type once the agent is ready (prompt mode `none`). */
  typeAfterReady?: string;
  stdinLines?: string[];
  /** Run under a session host that serves hooks over HTTP; it puts its URL into these files. */
  hookServer?: { files: string[] };
}

/**
 * The command line and files for one session. `settingsDir` is gt-owned
 * (`.gt/settings/<session>`), `gtBin` the absolute gt launcher.
 */
export function launchPlan(
  runtime: ResolvedRuntime,
  options: {
    headless: boolean;
    prompt: string;
    settingsDir: string;
    gtBin: string;
    permissionTimeoutSec?: number;
    resume?: string;
    /** Codex: put every tool call through the broker with a PreToolUse hook (false when the workdir is a trusted Codex project: see codexTrusts). */
    brokerCodex?: boolean;
  },
): LaunchPlan {
  const { headless, prompt, settingsDir, gtBin } = options;
  const hookCommands: HookCommands = {
    prime: `${gtBin} prime --hook`,
    signal: (event, format) => `${gtBin} signal ${event}${format ? ` --format ${format}` : ''}`,
  };
  const files: Record<string, string> = {};
  const worktreeFiles: Record<string, string> = {};
  const env: Record<string, string> = { ...runtime.env };
  const command = runtime.hooks === 'builtin' ? gtBin : runtime.command;
  if (headless && !runtime.headless) {
    throw new GtError('usage', `the ${runtime.name} runtime has no headless mode`, {
      hint: 'use --backend tmux, or a runtime with a headless mode (claude, codex, gemini, shell)',
    });
  }
  const args = [...(headless && runtime.headless ? runtime.headless.args : runtime.args)];
  let hookServer: LaunchPlan['hookServer'];
  if (runtime.hooks === 'claude') {
    const file = `${settingsDir}/claude-settings.json`;
    files[file] =
      `${JSON.stringify(claudeSettings(hookCommands, { url: HOOK_URL_PLACEHOLDER, permissionTimeoutSec: options.permissionTimeoutSec ?? 600 }), null, 2)}\n`;
    args.push('--settings', file);
    hookServer = { files: [file] };
    if (options.resume) args.push('--resume', options.resume);
  } else if (runtime.hooks === 'gemini') {
    const file = `${settingsDir}/gemini-settings.json`;
    files[file] = `${JSON.stringify(geminiSettings(hookCommands, gtBin), null, 2)}\n`;
    env.GEMINI_CLI_SYSTEM_SETTINGS_PATH = file;
  } else if (runtime.hooks === 'cursor') {
    worktreeFiles['.cursor/hooks.json'] = `${JSON.stringify(cursorHooks(hookCommands), null, 2)}\n`;
  } else if (runtime.hooks === 'copilot') {
    worktreeFiles['.github/hooks/gt.json'] = `${JSON.stringify(copilotHooks(hookCommands), null, 2)}\n`;
  } else if (runtime.hooks === 'codex') {
    // Codex calls its `notify` program at the end of every turn: gt's turn boundary. Its
    // commands run in a login shell by default, whose profile resets PATH and loses gt.
    args.unshift('-c', `notify=${JSON.stringify([gtBin, 'signal', 'stop', '--format', 'codex'])}`, '-c', 'allow_login_shell=false');
    if (options.brokerCodex) args.unshift(...codexBrokerArgs(gtBin, options.permissionTimeoutSec ?? 600));
  }
  const base = { env, files, worktreeFiles, ...(hookServer ? { hookServer } : {}) };
  if (runtime.hooks === 'builtin') return { argv: [command, ...args], ...base };
  if (headless && runtime.headless?.stdin === 'stream-json') {
    const line = JSON.stringify({ type: 'user', message: { role: 'user', content: prompt } });
    return { argv: [command, ...args], ...base, stdinLines: [line] };
  }
  if (headless || runtime.prompt === 'arg') return { argv: [command, ...args, prompt], ...base };
  return { argv: [command, ...args], ...base, typeAfterReady: prompt };
}

/**
 * Codex's PreToolUse hook, given on the command line (a session-flags config
 * layer: nothing written into the user's ~/.codex or the repository), runs
 * `gt permission check --format codex` for every tool call. Codex runs only
 * hooks a person reviewed and trusted; gt wrote this one itself, so it passes
 * `--dangerously-bypass-hook-trust` — which would also run a trusted
 * project's own `.codex` hooks unreviewed, so the caller leaves the broker off
 * for a workdir the user trusted in Codex (codexTrusts). A hook that times out
 * lets the call run, so its limit outlives the broker's own timeout.
 */
export function codexBrokerArgs(gtBin: string, permissionTimeoutSec: number): string[] {
  const command = `${gtBin} permission check --format codex`;
  return [
    '--dangerously-bypass-hook-trust',
    '-c',
    `hooks.PreToolUse=[{matcher="*",hooks=[{type="command",command=${JSON.stringify(command)},timeout=${permissionTimeoutSec + 60}}]}]`,
  ];
}

/**
 * Whether a Codex config (`$CODEX_HOME/config.toml`) trusts `dir` or a folder
 * above it as a project (`[projects."<path>"] trust_level = "trusted"`): Codex
 * then loads that project's own `.codex` config and hooks.
 */
export function codexTrusts(configText: string | undefined, dir: string): boolean {
  return codexTrustedProject(configText, dir) !== undefined;
}

/** The trusted Codex project (its path as config.toml names it) that covers `dir`, if any. */
export function codexTrustedProject(configText: string | undefined, dir: string): string | undefined {
  if (!configText) return undefined;
  let projects: unknown;
  try {
    projects = (parseToml(configText) as { projects?: unknown }).projects;
  } catch {
    // A config Codex cannot read either: it trusts nothing from it.
    return undefined;
  }
  if (projects === null || typeof projects !== 'object') return undefined;
  return Object.entries(projects as Record<string, unknown>).find(([path, entry]) => {
    const trusted = entry !== null && typeof entry === 'object' && (entry as { trust_level?: unknown }).trust_level === 'trusted';
    const base = path.replace(/\/+$/, '');
    return trusted && (dir === base || dir.startsWith(`${base}/`));
  })?.[0];
}

/** A message for an agent's stdin in its stream protocol (headless sessions). */
export function stdinMessage(runtime: RuntimePreset, text: string): string | undefined {
  if (runtime.headless?.stdin !== 'stream-json') return undefined;
  return JSON.stringify({ type: 'user', message: { role: 'user', content: text } });
}
