/**
 * The permission broker (design §2.9): every runtime's "may I run this tool?"
 * becomes one decision from one policy — rules in rig.toml, then town.toml,
 * then gt's built-in rules. `ask` waits for a person (`gt permission
 * approve|deny`) and is denied and escalated when the wait times out.
 * Every decision is logged with who decided and by which rule.
 */
import { posix } from 'node:path';
import { parse as parseWords } from 'shell-quote';
import { GtError, notFoundError } from '../../shared/errors.js';
import { redactData } from '../../shared/secrets.js';
import { single } from '../beads/ledger.js';
import { ISSUE_ID_PATTERN } from '../beads/rules.js';
import type { Issue } from '../beads/types.js';
import { parseDuration } from '../../shared/duration.js';
import type { Decision, PermissionRule, PermissionsConfig } from '../town/config.js';
import { colourByName } from '../agents/agent-colour.js';
import { parseIdentity, workdirOf, type Identity } from '../agents/identity.js';
import { closeAskMail, leaderOf, mailAsk } from '../comms/leader.js';
import { raiseEscalation } from '../comms/escalations.js';
import { readRunLogs } from '../agents/run-logs.js';
import type { Town } from '../town/town.js';

export const PERMISSION_LABEL = 'gt:permission';
const RANK: Record<Decision, number> = { allow: 0, ask: 1, deny: 2 };
const DEFAULT_TIMEOUT = '10m';

export interface ToolRequest {
  tool: string;
  input: Record<string, unknown>;
  /** The agent's working directory when it asked. */
  cwd: string;
  session?: string;
}

export interface Verdict {
  action: Decision;
  /** Which rule decided: `rig.toml permissions.rules[0]`, `builtin force-push`, `town.toml permissions.default`. */
  rule: string;
  reason: string;
}

/** How a decision was made: by the policy, a person (a caller that is no agent session), a leader, or the timeout. */
export type DecidedVia = 'policy' | 'person' | 'leader' | 'timeout';

export interface PermissionOutcome extends Verdict {
  /** The request bead, when a person was asked. */
  request?: string;
  /** `policy`, the person who answered, or `timeout`. */
  decided_by: string;
  decided_via?: DecidedVia;
}

/** Tools that write the file named in their input (Claude Code's and Gemini CLI's names). */
const WRITE_TOOLS = new Set(['Edit', 'Write', 'MultiEdit', 'NotebookEdit', 'write_file', 'replace', 'edit']);
const PATH_KEYS = ['file_path', 'notebook_path', 'path', 'absolute_path'];

function globRegex(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    's',
  );
}

/**
 * An unquoted newline ends a command as `;` does; shell-quote reads it as a
 * space, so `ls\ngit push -f` was one command `ls git push -f`.
 */
function newlinesAsSeparators(line: string): string {
  let out = '';
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '\\' && quote !== "'") {
      out += c + (line[i + 1] ?? '');
      i++;
      continue;
    }
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '\n') {
      out += ';';
      continue;
    }
    out += c;
  }
  return out;
}

/** Words that open a compound command (`if git push -f; then`, `! git push`, `{ git push; }`): the command follows them. */
const RESERVED = new Set(['if', 'then', 'else', 'elif', 'do', 'while', 'until', '{', '!', 'time']);

/** The simple commands of a shell line (split at `&&`, `||`, `;`, `|`, newlines), each as its words. */
export function simpleCommands(line: string): string[][] {
  const commands: string[][] = [[]];
  for (const token of parseWords(newlinesAsSeparators(line), (key) => `$${key}`)) {
    if (typeof token === 'string') (commands[commands.length - 1] as string[]).push(token);
    else if ('op' in token && token.op === 'glob') (commands[commands.length - 1] as string[]).push(token.pattern);
    else if ('op' in token) commands.push([]);
  }
  // `FOO=1 git push` runs git: leading assignments and reserved words are not the command.
  return commands
    .map((words) => words.slice(words.findIndex((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w) && !RESERVED.has(w))))
    .filter((words) => words.length > 0 && words[0] !== undefined);
}

function commandOf(request: ToolRequest): string | undefined {
  const command = request.input.command;
  return typeof command === 'string' ? command : undefined;
}

function pathOf(request: ToolRequest): string | undefined {
  for (const key of PATH_KEYS) {
    const value = request.input[key];
    if (typeof value === 'string' && value !== '') return posix.resolve(request.cwd, value);
  }
  return undefined;
}

/** git's own options that take a value as the next word (`git -C repo push`). */
const GIT_VALUE_OPTIONS = new Set(['-C', '-c', '--git-dir', '--work-tree', '--namespace', '--exec-path', '--config-env']);

/** The subcommand of a git command line and the words after it, with git's own options before it. */
function gitSubcommand(words: string[]): { options: string[]; name: string | undefined; args: string[] } {
  let i = 1;
  while (i < words.length && (words[i] as string).startsWith('-')) i += GIT_VALUE_OPTIONS.has(words[i] as string) ? 2 : 1;
  return { options: words.slice(1, i), name: words[i], args: words.slice(i + 1) };
}

/** Shells and builtins that run a string as commands: `bash -c "…"`, `eval "…"`. */
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'busybox']);

/** The command lines a simple command runs in turn: the string of `bash -c` or `eval`. */
function nestedLines(words: string[]): string[] {
  const command = unwrapCommand(words);
  if (command[0] === 'eval') return [command.slice(1).join(' ')];
  if (command[0] !== undefined && SHELLS.has(command[0])) {
    const flag = command.findIndex((w, i) => i > 0 && /^-[a-z]*c[a-z]*$/i.test(w));
    if (flag > 0 && command[flag + 1] !== undefined) return [command[flag + 1] as string];
  }
  return [];
}

/**
 * Why a git command rewrites or deletes published history, or pushes around
 * gt's bare repository: force (--force, -f among short flags,
 * --force-with-lease, `+refspec`), deletion (--delete, -d, `:branch`),
 * --mirror, --prune, `git send-pack`, a push to a URL or path instead of
 * origin, a change of the push URL, or an alias that runs push. Undefined:
 * none. The early, friendly refusal only: the structural guard is the bare
 * repository the agents' origin pushes to (rigs.ts, protectRepository).
 */
export function gitPushProblem(words: string[]): string | undefined {
  const command = unwrapCommand(words);
  if (command[0] !== 'git' && command[0] !== 'git-send-pack' && command[0] !== 'git-receive-pack') return undefined;
  if (command[0] !== 'git') return `${command[0]} writes refs of another repository directly`;
  const { options, name, args } = gitSubcommand(command);
  // Configuration through --config-env reaches git where -c is not seen (GIT_CONFIG_* variables: see pushProblem).
  if (options.some((o) => o.startsWith('--config-env'))) return "it configures git from the environment (push URLs, hooks and aliases are gt's to set)";
  if (options.some((o, i) => options[i - 1] === '-c' && /^(alias\.|url\.|remote\..*url=|core\.hookspath=)/i.test(o)))
    return 'it changes where git pushes (push URL or alias)';
  // The worktree shares refs and config with gt's bare repository: its protections, hooks and branches are gt's.
  if (name === 'update-ref' || name === 'symbolic-ref') return "it moves a ref of gt's repository directly (commits and gt done move your branch)";
  if (name === 'branch' && args.some((a) => /^(-[a-zA-Z]*[DdfMmCc][a-zA-Z]*|--delete|--force|--move|--copy)$/.test(a)))
    return "it deletes, moves or forces a branch of gt's repository";
  if (
    name === 'config' &&
    !readsConfigArgs(args) &&
    args.some((a) => /^(receive\.|core\.hookspath|include\.|includeif\.|transfer\.|uploadpack\.|gc\.)/i.test(a))
  )
    return "it changes the protections or hooks of gt's repository";
  if (name === 'send-pack') return 'git send-pack writes refs of another repository directly';
  const readsConfig = readsConfigArgs(args);
  if (name === 'config' && !readsConfig && args.some((a) => /^(alias\..*|remote\..*\.(push)?url|url\..*\.(push)?insteadof)$/i.test(a)))
    return 'it changes where git pushes (push URL or alias)';
  if (name === 'remote' && ['set-url', 'add', 'rename', 'remove', 'rm'].includes(args[0] ?? '')) return 'it changes where git pushes (remotes)';
  if (name !== 'push') return undefined;
  const positional = args.filter((a) => !a.startsWith('-'));
  if (args.some((w) => w.startsWith('--force') || w === '--mirror' || w === '--delete' || w === '--prune' || /^-[a-z]*[fd][a-z]*$/i.test(w)))
    return 'it forces, deletes or mirrors';
  if (positional.slice(1).some((w) => (w.startsWith('+') && w.length > 1) || w.startsWith(':'))) return 'a +refspec forces and a :refspec deletes';
  const repository = positional[0];
  // Only origin, by name: a URL, a path or a variable ($U) could be any repository.
  if (repository !== undefined && repository !== 'origin') return "agents push to origin only (gt's bare repository)";
  if (args.some((a) => a.startsWith('--repo'))) return "agents push to origin only (gt's bare repository)";
  return undefined;
}

/** Config keys whose value git runs as a command (or that pull in config which may): git runs them for gt and the person too. */
const RUNS_COMMANDS =
  /^(core\.(fsmonitor|sshcommand|pager|editor|hookspath|askpass|gitproxy|attributesfile|worktree)|filter\.|diff\.|merge\.|credential|include\.|includeif\.|alias\.|gpg\.|sequence\.editor|uploadpack\.|receive\.|receivepack\.|protocol\.|pager\.|remote\.|url\.|interactive\.difffilter|web\.browser|browser\.|man\.|sendemail\.|ssh\.|http\.|transfer\.|gc\.|submodule\.|rebase\.|instaweb\.|mergetool\.|difftool\.|extensions\.)/i;
/** The persistent git settings an agent may write itself (its worktree shares gt's repository config). */
const AGENT_CONFIG_KEYS = new Set(['user.name', 'user.email', 'pull.rebase', 'pull.ff', 'color.ui']);
const CONFIG_VALUE_OPTIONS = new Set(['-f', '--file', '--blob', '--type', '--default', '--comment', '--value']);
const CONFIG_WRITE_OPTIONS = /^(--add|--replace-all|--unset|--unset-all|--rename-section|--remove-section|-e|--edit|--fixed-value)$/;

/**
 * Why a git command runs something through configuration: a `-c` or
 * `git config` write of a key whose value git runs (core.fsmonitor,
 * core.pager, filter.*, alias.*…) — a worktree shares `.repo.git/config`, so
 * every git gt runs for the person would run it too. An agent writes only
 * user.name/email and a few harmless keys. Undefined: none.
 */
export function gitConfigProblem(words: string[]): string | undefined {
  const command = unwrapCommand(words);
  if (command[0] !== 'git') return undefined;
  const { options, name, args } = gitSubcommand(command);
  const given = options.filter((_, i) => options[i - 1] === '-c').find((o) => RUNS_COMMANDS.test(o) && !/^core\.pager=(cat|less)?$/i.test(o));
  if (given) return `git -c ${given.split('=')[0]} runs a command of the agent's choosing`;
  if (name !== 'config' || readsConfigArgs(args)) return undefined;
  const sub = ['set', 'unset', 'rename-section', 'remove-section', 'edit'].includes(args[0] ?? '') ? args[0] : undefined;
  const rest = sub ? args.slice(1) : args;
  const positional = rest.filter((a, i) => !a.startsWith('-') && !CONFIG_VALUE_OPTIONS.has(rest[i - 1] ?? ''));
  const writes = sub !== undefined || positional.length >= 2 || rest.some((a) => CONFIG_WRITE_OPTIONS.test(a));
  if (!writes) return undefined;
  const key = positional[0]?.toLowerCase();
  const otherFile = rest.some((a) => /^(-f|--file|--blob|--system)$/.test(a) || a.startsWith('--file='));
  if (key !== undefined && AGENT_CONFIG_KEYS.has(key) && !otherFile && !['rename-section', 'remove-section', 'edit'].includes(sub ?? '')) return undefined;
  return `git config ${key ?? 'writes'}: an agent's worktree shares gt's repository config, and an agent sets only ${[...AGENT_CONFIG_KEYS].join(', ')}`;
}

/** Every git command of a shell line that configures git to run something (gitConfigProblem). */
function configProblem(line: string, depth = 0): string | undefined {
  for (const words of simpleCommands(line)) {
    const problem =
      gitConfigProblem(words) ??
      (depth < 3
        ? nestedLines(words)
            .map((nested) => configProblem(nested, depth + 1))
            .find((p) => p !== undefined)
        : undefined);
    if (problem) return problem;
  }
  return undefined;
}

/** `git config` reading, not writing. */
function readsConfigArgs(args: string[]): boolean {
  return (
    args.some((a) => /^(--get|--get-all|--get-regexp|--get-urlmatch|--list|-l|--show-origin|--show-scope)$/.test(a)) || args[0] === 'get' || args[0] === 'list'
  );
}

/** Every git command a shell line runs, `bash -c "…"` and `eval` included, whatever wraps it. */
function pushProblem(line: string, depth = 0): string | undefined {
  // Configuration from the environment (GIT_CONFIG_COUNT/KEY_n/VALUE_n…) reaches every git the line runs.
  if (/\bGIT_CONFIG_(COUNT|KEY_\d+|VALUE_\d+|PARAMETERS|GLOBAL|SYSTEM)\s*=/.test(line) && /\bgit\b/.test(line))
    return "it configures git from the environment (push URLs, hooks and aliases are gt's to set)";
  for (const words of simpleCommands(line)) {
    const problem =
      gitPushProblem(words) ??
      (depth < 3
        ? nestedLines(words)
            .map((nested) => pushProblem(nested, depth + 1))
            .find((p) => p !== undefined)
        : undefined);
    if (problem) return problem;
  }
  return undefined;
}

/** Runs its arguments as a command: `env -u X FOO=1 cmd`, `command cmd`, `exec cmd`… */
const WRAPPERS = new Set([
  'env',
  'command',
  'exec',
  'nohup',
  'time',
  'sudo',
  'nice',
  'builtin',
  'timeout',
  'setsid',
  'stdbuf',
  'ionice',
  'chrt',
  'taskset',
  'xargs',
  'doas',
  'flock',
]);
const WRAPPER_OPERAND = new Set(['timeout', 'flock', 'taskset', 'chrt']);
const WRAPPER_VALUE_FLAGS = new Set(['-u', '--unset', '-C', '--chdir', '-n', '-g', '-p', '-k', '--kill-after', '-s', '--signal', '-I', '-L', '-P', '-E', '-d']);

/** A simple command without its wrappers, the program named by its base name: `env -u X /usr/bin/gt …` → `gt …`. */
export function unwrapCommand(words: string[]): string[] {
  let rest = words;
  // `FOO=1 git …`: assignments before a command are its environment, not the command.
  while (rest[0] !== undefined && /^[A-Za-z_][A-Za-z0-9_]*=/.test(rest[0])) rest = rest.slice(1);
  while (rest[0] !== undefined && WRAPPERS.has(posix.basename(rest[0]))) {
    const wrapper = posix.basename(rest[0]);
    rest = rest.slice(1);
    while (rest[0] !== undefined && (rest[0].startsWith('-') || /^[A-Za-z_][A-Za-z0-9_]*=/.test(rest[0])))
      rest = rest.slice(WRAPPER_VALUE_FLAGS.has(rest[0]) ? 2 : 1);
    // Wrappers whose first operand is not the command: `timeout 30 cmd`, `flock FILE cmd`, `taskset MASK cmd`, `chrt PRIO cmd`.
    if (WRAPPER_OPERAND.has(wrapper)) rest = rest.slice(1);
  }
  return rest[0] === undefined ? [] : [posix.basename(rest[0]), ...rest.slice(1)];
}

/** Metadata only a person writes: decisions on permission requests, and the voucher of a command gate. */
const PERSON_KEYS = /\b(decision|decided_by|decided_via|decision_reason|command_approved_by|command_approved)\b/;

const METADATA_FLAGS = new Set(['--metadata', '--set-metadata', '--unset-metadata']);

/** `gt permission approve|deny`, or a bd write of a permission request or of the keys a person's decision sets. */
function decidesForAPerson(words: string[]): boolean {
  let w = unwrapCommand(words);
  if (w[0] === 'gt') {
    const args = w.slice(1).filter((a) => !a.startsWith('-'));
    if (args[0] === 'permission' && (args[1] === 'approve' || args[1] === 'deny')) return true;
    if (args[0] !== 'bd') return false;
    w = w.slice(w.indexOf('bd'));
  }
  if (w[0] !== 'bd') return false;
  const args = w.slice(1);
  const typed = args.some((a, i) => a === 'permission' && (args[i - 1] === '-t' || args[i - 1] === '--type')) || args.includes('--type=permission');
  const metadata = args.filter((a, i) => METADATA_FLAGS.has(args[i - 1] ?? '') || [...METADATA_FLAGS].some((f) => a.startsWith(`${f}=`)));
  return typed || metadata.some((a) => PERSON_KEYS.test(a));
}

/** `gt permission approve|deny …`: the command that checks who answers. */
function answersWithGt(words: string[]): boolean {
  const w = unwrapCommand(words);
  const args = w.slice(1).filter((a) => !a.startsWith('-'));
  return w[0] === 'gt' && args[0] === 'permission' && (args[1] === 'approve' || args[1] === 'deny');
}

/** A command that drops or changes the agent's identity (GT_AGENT), or its whole environment. */
function changesIdentity(line: string): boolean {
  return /\bGT_AGENT\s*=|\bunset\b[^;&|\n]*\bGT_AGENT\b|(-u|--unset)[\s=]+GT_AGENT\b|\benv\s+(-[a-zA-Z]*i\b|--ignore-environment\b)/.test(line);
}

/**
 * What no agent writes (design §9): the policy (town.toml, rig.toml), gt's
 * state (`.gt/`: the ledger, runs, settings), the formulas a person installed,
 * the rigs' repositories, and every workspace but its own. Undefined: none of
 * these. `root` is the town root, `worktree` the agent's own workspace.
 */
export function protectedArea(path: string, root: string | undefined, worktree: string): string | undefined {
  if (root === undefined) return undefined;
  const rel = posix.relative(root, path);
  if (rel.startsWith('..') || posix.isAbsolute(rel)) return undefined;
  const parts = rel === '' ? [] : rel.split('/');
  const [top, second, third] = parts;
  if (top === 'town.toml') return 'the town config (town.toml)';
  if (top === '.gt') return "gt's state (.gt/: the ledger, logs, settings)";
  if (top === 'formulas') return 'the formulas a person installed';
  if (second === 'rig.toml') return `the rig config (${top}/rig.toml)`;
  if (second === '.repo.git') return `the repository of ${top}`;
  // A workspace: its own agent writes in it; nobody else (a witness's workspace, the rig, holds the others).
  const workspace =
    top === 'mayor'
      ? 'mayor'
      : second === 'refinery'
        ? `${top}/refinery`
        : (second === 'polecats' || second === 'crew') && third !== undefined
          ? `${top}/${second}/${third}`
          : undefined;
  if (workspace !== undefined) {
    if (`${root}/${workspace}` !== worktree) return `the workspace of another agent (${workspace})`;
    const [first, next] = parts.slice(workspace.split('/').length);
    // What runs outside the broker: the worktree's link to gt's repository (`gitdir: …`, hooks, config),
    // and the runtimes' project settings (hooks a next session loads).
    if (first === '.git') return "the worktree's .git (its link to gt's repository)";
    if (
      (first === '.claude' && next !== undefined && /^settings.*\.json$/.test(next)) ||
      first === '.codex' ||
      first === '.gemini' ||
      (first === '.cursor' && next === 'hooks.json') ||
      (first === '.github' && next === 'hooks')
    )
      return `the runtime settings of the workspace (${first}/${next ?? ''})`;
    return undefined;
  }
  // The directories that hold workspaces (the town root, a rig, its polecats/ or crew/).
  if (top === undefined) return 'the town root';
  if (second === undefined) return `${top} in the town root`;
  if ((second === 'polecats' || second === 'crew') && third === undefined) return `${top}/${second}`;
  return undefined;
}

/**
 * The runtimes' own configuration in the agent's HOME: what a next session
 * loads before gt's hook sees a tool call (Codex's trusted projects and
 * config, Claude Code's and Gemini CLI's settings and hooks); and gt's own
 * compile cache (~/.cache/gt, src/bin/launch.ts), whose compiled code the
 * person's next gt would run. Undefined: none.
 */
export function runtimeConfigArea(path: string, home: string | undefined): string | undefined {
  if (home === undefined) return undefined;
  const rel = posix.relative(home, path);
  if (rel.startsWith('..') || posix.isAbsolute(rel)) return undefined;
  const [top, second] = rel.split('/');
  if (top === '.codex' || top === '.gemini' || top === '.claude.json' || (top === '.claude' && second !== undefined && /^settings.*\.json$/.test(second)))
    return `the runtime configuration in HOME (~/${rel})`;
  if (top === '.cache' && second === 'gt') return `gt's compile cache in HOME (~/${rel})`;
  return undefined;
}

/** What no agent writes: protectedArea, and the runtimes' configuration in its HOME. */
function guardedArea(path: string, scope: Scope): string | undefined {
  return protectedArea(path, scope.root, scope.worktree) ?? runtimeConfigArea(path, scope.home);
}

/** Programs that do not write the files they are given (gt and bd write through their own checks). */
const READ_ONLY = new Set([
  'cat',
  'less',
  'more',
  'head',
  'tail',
  'grep',
  'egrep',
  'fgrep',
  'rg',
  'ls',
  'stat',
  'file',
  'wc',
  'diff',
  'cmp',
  'test',
  '[',
  'echo',
  'printf',
  'readlink',
  'realpath',
  'du',
  'sha1sum',
  'sha256sum',
  'md5sum',
  'jq',
  'which',
  'type',
  'pwd',
  'true',
  'false',
  'basename',
  'dirname',
  'gt',
  'bd',
]);
const WRITE_REDIRECTS = new Set(['>', '>>', '>|', '&>', '&>>', '<>', '>&']);

/**
 * The protected area a shell line writes, as far as the line can be read:
 * a redirection into one, or a path in one given to a program that may write
 * (anything but READ_ONLY), relative paths taken from the directory the line
 * has `cd`-ed to. `$GT_ROOT` is the town root.
 */
function bashWritesProtected(line: string, cwd: string, scope: Scope): string | undefined {
  const { root, real } = scope;
  if (root === undefined) return undefined;
  // Variables the line can tell: $GT_ROOT, $PWD, $HOME, and those the line itself assigns (`R=../../rig.toml; sed -i … $R`).
  const assigned = new Map<string, string>();
  for (const match of line.matchAll(/(?:^|[\s;&|(])([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|[^\s;&|)]+)/g)) {
    assigned.set(match[1] as string, (match[2] as string).replace(/^["']|["']$/g, ''));
  }
  const home = scope.home ?? '/nonexistent-home';
  const known = (key: string) =>
    key === 'GT_ROOT' ? root : key === 'PWD' ? cwd : key === 'HOME' ? home : (assigned.get(key)?.replace(/^~(?=\/|$)/, home) ?? `$${key}`);
  const tokens = parseWords(newlinesAsSeparators(line), known);
  let dir = cwd;
  let words: string[] = [];
  let redirect = false;
  const outer: string[][] = [];
  const area = (word: string): string | undefined => {
    if (/[*?[]/.test(word)) {
      // A glob names what it matches: each way its patterns can name a protected file is checked.
      for (const candidate of globCandidates(posix.resolve(dir, word.replace(/^~(?=\/|$)/, home)))) {
        // gt's names by themselves only where the path is unknown ($X/rig.tom?): build/* in a worktree is no rig.toml.
        const hit = word.includes('$') ? literalArea(candidate) : guardedArea(real(candidate), scope);
        if (hit) return hit;
      }
    }
    return literalArea(word);
  };
  const literalArea = (word: string) =>
    guardedArea(real(posix.resolve(dir, word.replace(/^~(?=\/|$)/, home))), scope) ??
    // Names no agent has reason to write, wherever the line says they are (a path it cannot resolve;
    // a word with spaces is text, like a commit message, not a path).
    (!/\s/.test(word) && /(^|\/)(town\.toml|rig\.toml|ledger\.db)$|(^|\/)\.gt(\/|$)|\.repo\.git(\/|$)/.test(word) ? `gt's own files (${word})` : undefined);
  const endCommand = (): string | undefined => {
    const command = unwrapCommand(
      words.slice(
        Math.max(
          0,
          words.findIndex((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w) && !RESERVED.has(w)),
        ),
      ),
    );
    words = [];
    if (command[0] === 'cd') {
      dir = posix.resolve(dir, command[1] ?? dir);
      return undefined;
    }
    if (command[0] === undefined || READ_ONLY.has(command[0])) return undefined;
    for (const arg of command.slice(1)) {
      const value = arg.startsWith('-') ? arg.slice(arg.indexOf('=') + 1 || arg.length) : arg;
      const hit = value === '' ? undefined : area(value);
      if (hit) return hit;
    }
    return undefined;
  };
  for (const token of tokens) {
    if (typeof token === 'string' || ('op' in token && token.op === 'glob')) {
      const word = typeof token === 'string' ? token : (token as { pattern: string }).pattern;
      if (redirect) {
        redirect = false;
        const hit = area(word);
        if (hit) return hit;
        continue;
      }
      words.push(word);
    } else if ('op' in token && WRITE_REDIRECTS.has(token.op)) {
      redirect = true;
    } else if ('op' in token && token.op === '(' && words[words.length - 1] === '$') {
      // `$(…)`: its command is checked on its own, and what it prints is a word of the command around it.
      outer.push(words.slice(0, -1));
      words = [];
    } else if ('op' in token && token.op === ')' && outer.length > 0) {
      const inner = words;
      const hit = endCommand();
      if (hit) return hit;
      words = [...(outer.pop() as string[]), ...inner];
    } else if ('op' in token) {
      const hit = endCommand();
      if (hit) return hit;
    }
  }
  return endCommand();
}

/** The names gt protects, and the directories that lead to them, that a glob may stand for. */
const PROTECTED_NAMES = [
  'town.toml',
  'rig.toml',
  '.gt',
  '.repo.git',
  'ledger.db',
  'formulas',
  '.git',
  'polecats',
  'crew',
  'refinery',
  'mayor',
  '.claude',
  '.codex',
  '.gemini',
  '.claude.json',
  'settings.json',
  'settings.local.json',
  '.cursor',
  '.github',
  'hooks.json',
  'hooks',
];

/** A glob segment as a regular expression (`*`, `?`, `[…]`, `[!…]`). */
function segmentRegex(segment: string): RegExp {
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    const close = c === '[' ? segment.indexOf(']', i + 2) : -1;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (close > 0) {
      out += `[${segment
        .slice(i + 1, close)
        .replace(/^!/, '^')
        .replace(/\\/g, '\\\\')}]`;
      i = close;
    } else out += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  try {
    return new RegExp(`^${out}$`, 's');
  } catch {
    return /^/; // not a pattern the shell reads either: taken as matching anything, the safe side
  }
}

/**
 * The paths a glob path stands for that matter here: each glob segment
 * replaced by every protected name it matches (`../../rig.tom?` → rig.toml,
 * `.repo.gi?` → .repo.git), or kept as written. At most 256 combinations.
 */
function globCandidates(path: string): string[] {
  let paths = [''];
  for (const segment of path.split('/').slice(1)) {
    // As the shell globs: a name that starts with a dot only by a pattern that does (`.g?`, not `*`).
    const matches = (name: string) => (!name.startsWith('.') || segment.startsWith('.')) && segmentRegex(segment).test(name);
    const options = /[*?[]/.test(segment) ? [...PROTECTED_NAMES.filter(matches), segment] : [segment];
    paths = paths.flatMap((p) => options.map((o) => `${p}/${o}`)).slice(0, 256);
  }
  return paths;
}

/** Where a rule looks: the agent's own workspace and the town root. */
interface Scope {
  worktree: string;
  root: string | undefined;
  /** Resolves symbolic links (finding 10 of issue 12: a link in the worktree must not lead out of it). */
  real: (path: string) => string;
  /** The agent's HOME, for `~` and `$HOME` in a shell line. */
  home?: string;
  /** The agent is a leader (town.toml permissions.leaders): it answers others' requests with gt permission. */
  leader?: boolean;
}

interface BuiltinRule {
  id: string;
  action: Decision;
  reason: string | ((request: ToolRequest, scope: Scope) => string);
  /** Part of the trust model (design §9): holds even with builtin_rules = false. */
  always?: boolean;
  matches: (request: ToolRequest, scope: Scope) => boolean;
}

/**
 * The files a Codex `apply_patch` writes (`*** Add File:`, `*** Update File:`,
 * `*** Delete File:`, `*** Move to:` lines, in whichever input field the
 * patch arrives), resolved from the agent's directory like a Write's path.
 */
export function patchPaths(request: ToolRequest, real: (path: string) => string = (path) => path): string[] {
  const paths: string[] = [];
  for (const value of Object.values(request.input)) {
    if (typeof value !== 'string' || !value.includes('*** ')) continue;
    for (const match of value.matchAll(/^\*\*\* (?:Add File|Update File|Delete File|Move to): *(.+?) *$/gm))
      paths.push(real(posix.resolve(request.cwd, match[1] as string)));
  }
  return paths;
}

function protectedTarget(request: ToolRequest, scope: Scope): string | undefined {
  for (const path of patchPaths(request, scope.real)) {
    const hit = guardedArea(path, scope);
    if (hit) return hit;
  }
  if (WRITE_TOOLS.has(request.tool)) {
    const path = pathOf(request);
    return path === undefined ? undefined : guardedArea(path, scope);
  }
  const line = commandOf(request);
  return line === undefined ? undefined : bashWritesProtected(line, request.cwd, scope);
}

const BUILTIN_RULES: BuiltinRule[] = [
  {
    id: 'force-push',
    action: 'deny',
    reason: (request) =>
      `${pushProblem(commandOf(request) ?? '') ?? 'a force push'}: force pushes rewrite shared history; gt done and the refinery publish work`,
    matches: (request) => {
      const line = commandOf(request);
      return line !== undefined && pushProblem(line) !== undefined;
    },
  },
  {
    id: 'person-decides',
    action: 'deny',
    always: true,
    reason: 'only a person (or a leader) answers permission requests and vouches for command gates',
    matches: (request, scope) => {
      const line = commandOf(request);
      // A leader answers through `gt permission`, which checks it (never its own request); never by writing the ledger.
      return line !== undefined && simpleCommands(line).some((words) => decidesForAPerson(words) && !(scope.leader && answersWithGt(words)));
    },
  },
  {
    id: 'agent-identity',
    action: 'deny',
    always: true,
    reason: "an agent's commands run as that agent: GT_AGENT stays as gt set it",
    matches: (request) => {
      const line = commandOf(request);
      return line !== undefined && changesIdentity(line);
    },
  },
  {
    id: 'outside-worktree',
    action: 'deny',
    reason: 'an agent writes only inside its own worktree',
    matches: (request, { worktree, real }) => {
      const outside = (path: string) => path !== worktree && !path.startsWith(`${worktree}/`);
      if (patchPaths(request, real).some(outside)) return true;
      if (!WRITE_TOOLS.has(request.tool)) return false;
      const path = pathOf(request);
      return path !== undefined && path !== worktree && !path.startsWith(`${worktree}/`);
    },
  },
  {
    id: 'git-runs-commands',
    action: 'deny',
    always: true,
    reason: (request) => `${configProblem(commandOf(request) ?? '') ?? 'it configures git to run a command'}`,
    matches: (request) => {
      const line = commandOf(request);
      return line !== undefined && configProblem(line) !== undefined;
    },
  },
  {
    // After outside-worktree, which names the simpler reason when both match; this one holds with builtin_rules = false too.
    id: 'protected-files',
    action: 'deny',
    always: true,
    reason: (request, scope) => `an agent never writes ${protectedTarget(request, scope) ?? "gt's own files"}: a person changes them`,
    matches: (request, scope) => protectedTarget(request, scope) !== undefined,
  },
];

function ruleMatches(rule: PermissionRule, request: ToolRequest, role: string, worktree: string): boolean {
  if (rule.role !== undefined && rule.role !== role) return false;
  if (!globRegex(rule.tool).test(request.tool)) return false;
  if (rule.command !== undefined) {
    const line = commandOf(request);
    if (line === undefined) return false;
    const pattern = globRegex(rule.command);
    const matches = (words: string[]) => pattern.test(words.join(' '));
    // An "always allow" answers for the command it names, never for what a line adds to it (`npm test; curl … | sh`).
    const commands = simpleCommands(line);
    // (A `*` may span `&&` and `;` in a whole line, so "always allow" matches a whole line only as written.)
    // An exact rule ("always allow" of the line asked) is that line, its `*` and all: `rm -rf build/*` is not `rm -rf build/ ~/.ssh`.
    if (rule.exact) return line.trim() === rule.command && (rule.path === undefined || pathMatches(rule.path, request, worktree));
    const whole = rule.over_ask ? line.trim() === rule.command : pattern.test(line.trim());
    if (!whole && !(rule.over_ask ? commands.length > 0 && commands.every(matches) : commands.some(matches))) return false;
  }
  return rule.path === undefined || pathMatches(rule.path, request, worktree);
}

function pathMatches(pattern: string, request: ToolRequest, worktree: string): boolean {
  const path = pathOf(request);
  return path !== undefined && globRegex(posix.resolve(worktree, pattern)).test(path);
}

export interface PolicyLayer {
  /** `rig.toml` or `town.toml`: named in every decision. */
  source: string;
  config: PermissionsConfig;
}

/**
 * The decision of a policy for one request. Every matching rule counts and
 * the strictest wins (deny > ask > allow), so a rig cannot loosen what the
 * town forbids; with no match the first layer that sets `default` decides.
 * `realpath` resolves symbolic links (the broker passes the file system's).
 */
export function evaluatePolicy(
  layers: PolicyLayer[],
  identity: Identity,
  workspace: string,
  asked: ToolRequest,
  realpath: (path: string) => string = (path) => path,
  home?: string,
  options: { leader?: boolean } = {},
): Verdict {
  const relative = workdirOf(identity);
  const worktree = realpath(workspace);
  const scope: Scope = {
    worktree,
    root: worktree.endsWith(`/${relative}`) ? worktree.slice(0, -relative.length - 1) : undefined,
    real: realpath,
    ...(home ? { home } : {}),
    leader: options.leader === true,
  };
  // Rules match where a path really leads: every symbolic link resolved.
  const request: ToolRequest = { ...asked, cwd: realpath(asked.cwd), input: { ...asked.input } };
  for (const key of PATH_KEYS) {
    const value = asked.input[key];
    if (typeof value === 'string' && value !== '') request.input[key] = realpath(posix.resolve(asked.cwd, value));
  }
  let best: Verdict | undefined;
  let answered: Verdict | undefined;
  const consider = (verdict: Verdict) => {
    if (!best || RANK[verdict.action] > RANK[best.action]) best = verdict;
  };
  for (const layer of layers) {
    layer.config.rules.forEach((rule, index) => {
      if (ruleMatches(rule, request, identity.role, worktree)) {
        if (rule.action === 'allow' && rule.over_ask) {
          answered ??= {
            action: 'allow',
            rule: `${layer.source} permissions.rules[${index}]`,
            reason: rule.reason ?? `always allowed${rule.added_by ? ` by ${rule.added_by}` : ''}${rule.request ? ` (${rule.request})` : ''}`,
          };
          return;
        }
        consider({
          action: rule.action,
          rule: `${layer.source} permissions.rules[${index}]`,
          reason: rule.reason ?? `${rule.action} ${rule.tool}${rule.command ? ` ${rule.command}` : ''}${rule.path ? ` ${rule.path}` : ''}`,
        });
      }
    });
  }
  const builtins = layers.find((l) => l.config.builtin_rules !== undefined)?.config.builtin_rules ?? true;
  for (const rule of BUILTIN_RULES) {
    if ((builtins || rule.always) && rule.matches(request, scope)) {
      consider({ action: rule.action, rule: `builtin ${rule.id}`, reason: typeof rule.reason === 'string' ? rule.reason : rule.reason(request, scope) });
    }
  }
  // "Always allow" answers an ask (a rule's or the default's) once and for all; a deny still wins.
  if (answered && best?.action !== 'deny') return answered;
  if (best) return best;
  const fallback = layers.find((l) => l.config.default !== undefined);
  return fallback
    ? {
        action: fallback.config.default as Decision,
        rule: `${fallback.source} permissions.default`,
        reason: `no rule matched; the default is ${fallback.config.default}`,
      }
    : { action: 'allow', rule: 'default', reason: 'no rule matched; gt allows by default' };
}

/** The policy that applies to an identity: its rig's rules, then the town's. */
export function policyLayers(town: Town, identity: Identity): PolicyLayer[] {
  const layers: PolicyLayer[] = [];
  if (identity.rig) layers.push({ source: `${identity.rig}/rig.toml`, config: town.rig(identity.rig).permissions });
  layers.push({ source: 'town.toml', config: town.config.permissions });
  return layers;
}

export function permissionTimeoutMs(layers: PolicyLayer[]): number {
  return parseDuration(layers.find((l) => l.config.timeout !== undefined)?.config.timeout ?? DEFAULT_TIMEOUT);
}

/** bd commands that only read. */
const BD_READS = new Set([
  'show',
  'view',
  'list',
  'ready',
  'blocked',
  'search',
  'stats',
  'status',
  'events',
  'history',
  'export',
  'doctor',
  'cook',
  'comments',
]);

/**
 * The permission requests a shell line's bd commands would write (update,
 * close, delete, comment…): IDs are looked up, since a request's ID does not
 * say what it is. An agent's tool call never writes one (issue 12, finding 2).
 */
async function requestsWritten(town: Town, request: ToolRequest): Promise<string[]> {
  const line = commandOf(request);
  if (line === undefined) return [];
  const ids = new Set<string>();
  for (const words of simpleCommands(line)) {
    let command = unwrapCommand(words);
    if (command[0] === 'gt' && command.includes('bd')) command = command.slice(command.indexOf('bd'));
    if (command[0] !== 'bd') continue;
    const args = command.slice(1).filter((a) => !a.startsWith('-'));
    if (args[0] === undefined || (BD_READS.has(args[0]) && args[1] !== 'add')) continue;
    for (const arg of args.slice(1)) if (ISSUE_ID_PATTERN.test(arg)) ids.add(arg);
  }
  const found: string[] = [];
  for (const id of ids) if ((await town.ledger.find(id))?.issue_type === 'permission') found.push(id);
  return found;
}

/** One line of a session's permission log (`.gt/runs/<run>/permissions.jsonl`). */
export interface PermissionLogEntry extends PermissionOutcome {
  at: string;
  agent: string;
  tool: string;
  input: Record<string, unknown>;
  cwd: string;
}

/** A rule "always allow" would add, in the policy's own terms. */
export interface SuggestedRule {
  action: 'allow';
  tool: string;
  command?: string;
  path?: string;
  /** The command is the whole line as asked, not a pattern. */
  exact?: true;
}

/** A word that reads as a subcommand (`test` in `npm test`), not an argument (a file, a flag, a value). */
const SUBCOMMAND = /^[a-z][a-z0-9:-]*$/;

/**
 * The rules a leader may add with "always allow", narrowest first: the exact
 * command line (or file), then the program with its subcommand and any
 * arguments (`npm test *`), or the file's folder (`src/*`), or the tool.
 */
export function suggestRules(request: ToolRequest, worktree: string): SuggestedRule[] {
  const tool = request.tool;
  const line = commandOf(request)?.trim();
  if (line !== undefined && line !== '') {
    const rules: SuggestedRule[] = [{ action: 'allow', tool, command: line, exact: true }];
    const commands = simpleCommands(line);
    const words = commands[0];
    if (commands.length === 1 && words !== undefined) {
      const head = words.slice(0, words[1] !== undefined && SUBCOMMAND.test(words[1]) ? 2 : 1).join(' ');
      if (head !== line && !/[*\n]/.test(head)) rules.push({ action: 'allow', tool, command: `${head} *` });
    }
    return rules;
  }
  const path = pathOf(request);
  if (path !== undefined) {
    const relative = path.startsWith(`${worktree}/`) ? path.slice(worktree.length + 1) : path;
    const rules: SuggestedRule[] = [{ action: 'allow', tool, path: relative }];
    const dir = posix.dirname(relative);
    if (dir !== '.' && dir !== '/') rules.push({ action: 'allow', tool, path: `${dir}/*` });
    return rules;
  }
  return [{ action: 'allow', tool }];
}

/** A rule as one line: `allow Bash command "npm test *"`. */
export function ruleText(rule: Pick<PermissionRule, 'action' | 'tool' | 'command' | 'path'>): string {
  return `${rule.action} ${rule.tool}${rule.command !== undefined ? ` command ${JSON.stringify(rule.command)}` : ''}${rule.path !== undefined ? ` path ${JSON.stringify(rule.path)}` : ''}`;
}

/** Where "always allow" writes for an agent: its rig's policy, or the town's for an agent of no rig (the Mayor). */
export function policyFileOf(agent: string): string {
  const rig = parseIdentity(agent).rig;
  return rig ? `${rig}/rig.toml` : 'town.toml';
}

function summary(request: ToolRequest): string {
  const command = commandOf(request);
  const text = command ?? pathOf(request) ?? JSON.stringify(request.input);
  return `${request.tool}: ${text.length > 120 ? `${text.slice(0, 117)}…` : text}`;
}

export interface BrokerOptions {
  /** Where the decision is logged: the session's run folder. */
  runDir?: string;
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Decides a tool request for an agent. An `ask` records a request bead, shows
 * the agent as waiting-permission, and waits for `gt permission approve|deny`
 * or the timeout (then: deny, and escalate).
 */
export async function brokerPermission(town: Town, identity: Identity, request: ToolRequest, options: BrokerOptions = {}): Promise<PermissionOutcome> {
  const layers = policyLayers(town, identity);
  const worktree = town.path(workdirOf(identity));
  const requests = isLeader(town, identity.address) ? [] : await requestsWritten(town, request);
  const verdict: Verdict =
    requests.length > 0
      ? {
          action: 'deny',
          rule: 'builtin person-decides',
          reason: `${requests.join(', ')} ${requests.length === 1 ? 'is a permission request' : 'are permission requests'}: only a person (or a leader) answers them`,
        }
      : evaluatePolicy(layers, identity, worktree, request, (path) => town.ports.files.realpath(path), town.ports.baseEnv.HOME, {
          leader: isLeader(town, identity.address),
        });
  let outcome: PermissionOutcome = { ...verdict, decided_by: 'policy', decided_via: 'policy' };
  if (verdict.action === 'ask') outcome = await askHuman(town, identity, request, verdict, permissionTimeoutMs(layers), options);
  const entry: PermissionLogEntry = redactData({
    at: town.ports.now(),
    agent: identity.address,
    tool: request.tool,
    input: request.input,
    cwd: request.cwd,
    ...outcome,
  });
  if (options.runDir) town.ports.files.append(`${options.runDir}/permissions.jsonl`, `${JSON.stringify(entry)}\n`);
  return outcome;
}

async function askHuman(
  town: Town,
  identity: Identity,
  request: ToolRequest,
  verdict: Verdict,
  timeout: number,
  options: BrokerOptions,
): Promise<PermissionOutcome> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const { ledger, ports } = town;
  const deadline = Date.now() + timeout;
  // What a person is shown holds no secret a command line spelled out.
  const input = redactData(request.input);
  const suggested = suggestRules({ ...request, input }, town.path(workdirOf(identity)));
  const colour = await agentColourOf(town, identity);
  const bead = await ledger.create({
    title: summary({ ...request, input }),
    type: 'permission',
    prefix: 'hq',
    labels: [PERMISSION_LABEL],
    priority: 1,
    description: `${identity.address} asks to run ${request.tool} in ${request.cwd}.\nInput:\n${JSON.stringify(input, null, 2)}`,
    metadata: {
      agent: identity.address,
      tool: request.tool,
      input,
      cwd: request.cwd,
      rule: verdict.rule,
      reason: verdict.reason,
      expires_at: new Date(deadline).toISOString(),
      suggested,
      ...(colour ? { colour } : {}),
      ...(request.session ? { session: request.session } : {}),
    },
    townEvent: (id) => ({
      kind: 'permission.asked',
      actor: identity.address,
      agent: identity.address,
      bead: id,
      ...(identity.rig ? { rig: identity.rig } : {}),
      payload: {
        tool: request.tool,
        rule: verdict.rule,
        reason: verdict.reason,
        summary: summary(request),
        suggested: suggested.map(ruleText),
        ...(colour ? { colour } : {}),
      },
    }),
  });
  await tellLeaders(town, identity, bead.id, { ...request, input }, verdict, suggested, colour, deadline);
  const agent = await town.agent(identity);
  if (agent) await town.saveAgentState(agent, { state: 'waiting-permission', permission_request: bead.id, last_signal_at: ports.now() });
  try {
    for (;;) {
      const current = await ledger.find(bead.id);
      if (!current) return { action: 'deny', rule: verdict.rule, reason: 'the permission request was deleted', request: bead.id, decided_by: 'unknown' };
      if (current.status === 'closed') return outcomeOf(current, verdict);
      if (Date.now() >= deadline) break;
      await sleep(Math.min(options.pollMs ?? 250, Math.max(1, deadline - Date.now())));
    }
    const reason = `nobody answered within ${Math.round(timeout / 1000)} s`;
    try {
      single(
        await ledger.update([bead.id], {
          status: 'closed',
          closeReason: `denied: ${reason}`,
          setMetadata: { decision: 'deny', decided_by: 'timeout', decided_via: 'timeout' },
          expect: { statuses: ['open'] },
          townEvent: {
            kind: 'permission.decided',
            actor: 'timeout',
            agent: identity.address,
            bead: bead.id,
            ...(identity.rig ? { rig: identity.rig } : {}),
            payload: { decision: 'deny', decided_by: 'timeout', decided_via: 'timeout', reason },
          },
        }),
      );
    } catch {
      // Answered in the last instant: that answer stands.
      const current = await ledger.find(bead.id);
      if (current?.status === 'closed') return outcomeOf(current, verdict);
    }
    await closeAskMail(town, bead.id, `denied: ${reason}`).catch(() => undefined);
    const [hooked] = await ledger.list({ statuses: ['hooked', 'in_progress'], assignee: identity.address, limit: 1 });
    // One open escalation per piece of work (or per agent when it has none), however often it asks again.
    await raiseEscalation(town, {
      message: `${identity.address} asked for ${summary(request)} and nobody answered within ${Math.round(timeout / 1000)} s; it was denied (request ${bead.id}).\nApprove the same request next time with gt permission approve, or add a rule to town.toml [permissions].`,
      headline: `PERMISSION TIMEOUT ${bead.id}: ${identity.address}`,
      severity: 'high',
      source: 'permission',
      reason: 'permission-timeout',
      ...((hooked?.id ?? agent?.id) ? { subject: hooked?.id ?? agent?.id } : {}),
      raisedBy: identity.address,
      agent: identity.address,
      blocks: false,
      ...(identity.rig ? { rig: identity.rig } : {}),
    });
    return { action: 'deny', rule: verdict.rule, reason, request: bead.id, decided_by: 'timeout', decided_via: 'timeout' };
  } finally {
    if (agent)
      await town.saveAgentState({ ...agent, state: 'waiting-permission' }, { state: 'working', last_signal_at: ports.now(), permission_request: null });
  }
}

/**
 * Who is asked: the agent's leader (its dispatcher) when that leader may
 * answer — a person, or an agent town.toml lists in permissions.leaders —
 * else the person's inbox (`human`).
 */
export async function askRecipients(town: Town, identity: Identity): Promise<string[]> {
  const leader = await leaderOf(town, identity);
  return leader !== undefined && leader !== identity.address && isLeader(town, leader) ? [leader] : ['human'];
}

/** The ask in the leader's mailbox: what, where, and the three answers with the rules "always allow" would add. */
async function tellLeaders(
  town: Town,
  identity: Identity,
  id: string,
  request: ToolRequest,
  verdict: Verdict,
  suggested: SuggestedRule[],
  colour: string | undefined,
  deadline: number,
): Promise<void> {
  const what = commandOf(request) ?? pathOf(request) ?? JSON.stringify(request.input);
  const file = policyFileOf(identity.address);
  const body = [
    `${identity.address}${colour ? ` (${colour})` : ''} asks to run ${request.tool} in ${request.cwd}:`,
    `  ${what.length > 600 ? `${what.slice(0, 599)}…` : what}`,
    `Asked by ${verdict.rule}: ${verdict.reason}.`,
    `Answer before ${new Date(deadline).toISOString().slice(0, 16)}Z (then it is denied):`,
    `  gt permission approve ${id}`,
    `  gt permission deny ${id} --reason "what to do instead"   (the agent reads the reason)`,
    `  gt permission approve ${id} --always [--rule N]   adds to ${file}, audited:`,
    ...suggested.map((rule, i) => `    ${i + 1}. ${ruleText(rule)}`),
  ].join('\n');
  try {
    await mailAsk(town, identity.address, await askRecipients(town, identity), `PERMISSION ${id}: ${summary(request)}`, body, id);
  } catch (error) {
    // The request stands (gt permission list, the feed, the dashboard show it); the mail is a courtesy.
    town.ports.progress(`warning: could not mail the permission ask ${id}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The agent's colour in the swarm view (agents/agent-colour.ts), as kept on its agent record: `red (#e06c75)`. */
async function agentColourOf(town: Town, identity: Identity): Promise<string | undefined> {
  const colour = colourByName((await town.agent(identity))?.colour);
  return colour ? `${colour.name} (${colour.hex})` : undefined;
}

function outcomeOf(issue: Issue, verdict: Verdict): PermissionOutcome {
  const m = issue.metadata ?? {};
  const action: Decision = m.decision === 'allow' ? 'allow' : 'deny';
  const by = typeof m.decided_by === 'string' ? m.decided_by : 'unknown';
  const why = typeof m.decision_reason === 'string' && m.decision_reason !== '' ? `: ${m.decision_reason}` : '';
  const via = typeof m.decided_via === 'string' ? { decided_via: m.decided_via as DecidedVia } : {};
  const added = m.rule_added as RuleAdded | undefined;
  const always = added && typeof added.rule === 'string' ? ` (always: ${added.rule} added to ${added.file})` : '';
  return {
    action,
    rule: verdict.rule,
    reason: `${action === 'allow' ? 'approved' : 'denied'} by ${by}${why}${always}`,
    request: issue.id,
    decided_by: by,
    ...via,
  };
}

export interface PermissionRequestView {
  id: string;
  agent: string;
  tool: string;
  input: unknown;
  cwd: string;
  rule: string;
  status: 'waiting' | 'allowed' | 'denied';
  decided_by?: string;
  decided_via?: string;
  created_at: string;
  expires_at?: string;
  /** The agent's colour in the swarm view. */
  colour?: string;
  /** What "always allow" would add (gt permission approve --always --rule N, 1-based). */
  suggested: SuggestedRule[];
  rule_added?: RuleAdded;
}

function viewOf(issue: Issue): PermissionRequestView {
  const m = issue.metadata ?? {};
  const s = (k: string) => (typeof m[k] === 'string' ? m[k] : '');
  const view: PermissionRequestView = {
    id: issue.id,
    agent: s('agent'),
    tool: s('tool'),
    input: m.input ?? {},
    cwd: s('cwd'),
    rule: s('rule'),
    status: issue.status !== 'closed' ? 'waiting' : m.decision === 'allow' ? 'allowed' : 'denied',
    created_at: issue.created_at,
    suggested: Array.isArray(m.suggested) ? (m.suggested as SuggestedRule[]) : [],
  };
  if (s('colour')) view.colour = s('colour');
  if (m.rule_added && typeof m.rule_added === 'object') view.rule_added = m.rule_added as RuleAdded;
  if (s('decided_by')) view.decided_by = s('decided_by');
  if (s('decided_via')) view.decided_via = s('decided_via');
  if (s('expires_at')) view.expires_at = s('expires_at');
  return view;
}

export async function permissionRequests(town: Town, options: { all?: boolean } = {}): Promise<PermissionRequestView[]> {
  const issues = await town.ledger.list({
    types: ['permission'],
    labelsAll: [PERMISSION_LABEL],
    limit: 0,
    sort: 'created',
    includeEphemeral: true,
    ...(options.all ? {} : { statuses: ['open'] }),
  });
  return issues.map(viewOf);
}

/** A leader answers permission requests like a person: town.toml `permissions.leaders`. */
export function isLeader(town: Town, agent: string): boolean {
  try {
    return (town.config.permissions.leaders ?? []).includes(agent);
  } catch {
    return false;
  }
}

/**
 * Who may answer a permission request: a person (a caller that is no agent
 * session: no GT_AGENT) or a leader. An agent, the asking one included, may not.
 */
export function decider(town: Town, agent: string | undefined): { by: string; via: 'person' | 'leader' } {
  if (!agent) return { by: town.ledger.actor, via: 'person' };
  if (isLeader(town, agent)) return { by: agent, via: 'leader' };
  throw new GtError('conflict', `${agent} is an agent session, and agents do not answer permission requests`, {
    hint: "a person answers from a terminal that is no agent's session (or the dashboard); leaders are listed in town.toml permissions.leaders",
  });
}

/** The rule an "always allow" added to the policy (governance/always-allow.ts), recorded with the decision. */
export interface RuleAdded {
  file: string;
  rule: string;
}

/** A person's (or a leader's) answer to a waiting request. */
export async function answerPermission(
  town: Town,
  idText: string,
  action: 'allow' | 'deny',
  who: { by: string; via: 'person' | 'leader' },
  reason?: string,
  always?: RuleAdded,
): Promise<PermissionRequestView> {
  const { ledger } = town;
  const by = who.by;
  const id = await ledger.resolveAs(idText, notFoundError(`no permission request ${JSON.stringify(idText)}`, 'see the waiting ones with gt permission list'));
  const issue = await ledger.find(id);
  if (!issue || issue.issue_type !== 'permission') throw notFoundError(`${idText} is not a permission request`, 'see the waiting ones with gt permission list');
  // A leader decides others' requests, never its own: no agent approves what it asked for.
  if (who.via === 'leader' && issue.metadata?.agent === by && action === 'allow') {
    throw new GtError('conflict', `${by} asked for ${id} itself, and no agent approves its own request`, { hint: 'a person (or another leader) answers it' });
  }
  if (issue.status === 'closed') {
    const view = viewOf(issue);
    throw new GtError('conflict', `permission request ${id} was already ${view.status}${view.decided_by ? ` by ${view.decided_by}` : ''}`);
  }
  try {
    const updated = single(
      await ledger.update([id], {
        status: 'closed',
        closeReason: `${action === 'allow' ? 'approved' : 'denied'} by ${by}${reason ? `: ${reason}` : ''}`,
        setMetadata: {
          decision: action,
          decided_by: by,
          decided_via: who.via,
          ...(reason ? { decision_reason: reason } : {}),
          ...(always ? { rule_added: always } : {}),
        },
        expect: { statuses: ['open'] },
        townEvent: [
          {
            kind: 'permission.decided',
            actor: by,
            bead: id,
            ...(typeof issue.metadata?.agent === 'string' ? { agent: issue.metadata.agent } : {}),
            payload: { decision: action, decided_by: by, decided_via: who.via, ...(reason ? { reason } : {}), ...(always ? { always: true } : {}) },
          },
          // A change of the policy is its own event: who added which rule to which file, answering which request.
          ...(always
            ? [
                {
                  kind: 'permission.rule_added' as const,
                  actor: by,
                  bead: id,
                  ...(typeof issue.metadata?.agent === 'string' ? { agent: issue.metadata.agent } : {}),
                  payload: { file: always.file, rule: always.rule, added_by: by, via: who.via },
                },
              ]
            : []),
        ],
      }),
    );
    await closeAskMail(town, id, `${action === 'allow' ? 'approved' : 'denied'} by ${by}`).catch(() => undefined);
    return viewOf(updated);
  } catch (error) {
    // Only the ledger's "changed under you" is another's answer; a refusal (an agent session's write guard) says itself.
    if (error instanceof GtError && error.kind === 'conflict' && error.message.includes('changed under you'))
      throw new GtError('conflict', `permission request ${id} was answered by someone else a moment ago`, { hint: `see it with gt permission list --all` });
    throw error;
  }
}

/** Every logged decision of the town's sessions, oldest first. */
export function permissionLog(town: Town, options: { agent?: string; since?: string } = {}): PermissionLogEntry[] {
  return readRunLogs<PermissionLogEntry>(town, 'permissions.jsonl').filter(
    (e) => (!options.agent || e.agent === options.agent) && (!options.since || e.at >= options.since),
  );
}
