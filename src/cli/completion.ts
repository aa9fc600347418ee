/**
 * Shell completions for gt and bd, generated from the commander program
 * itself (every command, subcommand and flag as registered), so they never
 * drift from the CLI. Values that live in the town — rig names, agent
 * addresses, bead IDs — come at TAB time from the hidden `<tool> __complete
 * <kind>`, which reads the ledger and prints one `value<TAB>description` per line.
 */
import type { Command, Option } from 'commander';
import type { CommandEntry } from './dispatch.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** What the town supplies at TAB time. */
export const DYNAMIC_KINDS = ['rigs', 'agents', 'beads', 'mail', 'escalations'] as const;
export type DynamicKind = (typeof DYNAMIC_KINDS)[number];

export interface FlagSpec {
  names: string[];
  description: string;
  /** The flag takes a value: its fixed choices, or the kinds the town supplies (empty: free text). */
  value?: { choices: string[]; kinds: DynamicKind[] };
}

export interface CommandSpec {
  /** The words that lead here: [] for the tool itself, ['mail', 'send'] for `gt mail send`. */
  path: string[];
  description: string;
  subcommands: Array<{ name: string; aliases: string[]; description: string }>;
  flags: FlagSpec[];
  /** What positional arguments complete to. */
  args: DynamicKind[];
}

/** Loads every command module of a table onto `program` once (entries that share a module register it once). */
export async function registerAll<C>(program: Command, table: Array<CommandEntry<C>>, ctx: C): Promise<void> {
  const seen = new Set<unknown>();
  const present = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
  for (const entry of table) {
    if (entry.names.every((n) => present.has(n))) continue;
    const module = await entry.load();
    if (seen.has(module.default)) continue;
    seen.add(module.default);
    module.default(program, ctx);
    for (const c of program.commands) for (const n of [c.name(), ...c.aliases()]) present.add(n);
  }
}

/** A positional argument's kinds by its name (and, for mail, where it is). */
function argKinds(path: string[], name: string): DynamicKind[] {
  if (path[0] === 'sling') return ['beads', 'rigs', 'agents'];
  if (path[0] === 'mail' && ['id', 'ids'].includes(name)) return ['mail'];
  if (path[0] === 'escalations' && ['id', 'ids'].includes(name)) return ['escalations'];
  if (['bead', 'beads', 'id', 'ids', 'issue', 'depends-on', 'mr', 'gate', 'convoy', 'title'].includes(name)) return name === 'title' ? [] : ['beads'];
  if (name === 'rig') return ['rigs'];
  if (['agent', 'to', 'polecat', 'address'].includes(name)) return ['agents'];
  return [];
}

/** A flag value's kinds by its placeholder (`--rig <rig>`, `--agent <address>`, `--bead <id>`). */
function valueKinds(placeholder: string): DynamicKind[] {
  if (placeholder === 'rig') return ['rigs'];
  if (placeholder === 'address') return ['agents'];
  if (['id', 'bead', 'parent', 'issue'].includes(placeholder)) return ['beads'];
  return [];
}

/** Every command of a program as a flat list of specs, the tool itself first. */
export function completionSpec(program: Command, hidden: ReadonlySet<string>): CommandSpec[] {
  const specs: CommandSpec[] = [];
  const globals = program.options.filter((o) => !o.hidden);
  const walk = (command: Command, path: string[]) => {
    const own: readonly Option[] = command.options;
    const flags: FlagSpec[] = [...own, ...(path.length > 0 ? globals.filter((g) => g.long !== '--version' && !own.some((o) => o.long === g.long)) : [])]
      .filter((o) => !o.hidden)
      .map((o) => {
        const placeholder = /[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1];
        return {
          names: [o.short, o.long].filter((n): n is string => typeof n === 'string'),
          description: o.description,
          ...(placeholder !== undefined ? { value: { choices: o.argChoices ?? [], kinds: valueKinds(placeholder.replace(/\.\.\.$/, '')) } } : {}),
        };
      });
    flags.push({ names: ['-h', '--help'], description: 'show help' });
    const subcommands = command.commands.filter((c) => !hidden.has(c.name()) && !(c as unknown as { _hidden?: boolean })._hidden);
    const args = command.registeredArguments.flatMap((a) => argKinds(path, a.name().replace(/\.\.\.$/, '')));
    specs.push({
      path,
      description: command.description(),
      subcommands: subcommands.map((c) => ({ name: c.name(), aliases: c.aliases(), description: firstSentence(c.description()) })),
      flags,
      args: [...new Set(args)],
    });
    for (const sub of subcommands) walk(sub, [...path, sub.name()]);
  };
  walk(program, []);
  // Aliases (`bd new`) lead to the same spec as their command.
  return specs;
}

function firstSentence(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 70 ? `${line.slice(0, 67)}…` : line;
}

/** Single-quoted for sh, bash, zsh and fish alike (fish reads `\'` inside single quotes; the others need '"'"'). */
function quoted(text: string, shell: Shell): string {
  return shell === 'fish' ? `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : `'${text.replace(/'/g, `'"'"'`)}'`;
}

const fn = (tool: string) => `_${tool}_completion`;

/**
 * The table both bash and zsh scripts read: `<fn>_spec PATH` sets subs (names
 * and aliases), flags, valued (flags that take a value, `--flag=kinds|choices`)
 * and args (the kinds positional arguments complete to).
 */
function specFunction(tool: string, specs: CommandSpec[]): string {
  const cases = specs.map((s) => {
    const subs = s.subcommands.flatMap((c) => [c.name, ...c.aliases]).join(' ');
    const flags = s.flags.flatMap((f) => f.names).join(' ');
    const valued = s.flags
      .filter((f) => f.value)
      .flatMap((f) => f.names.map((n) => `${n}=${f.value?.kinds.join(',') ?? ''}|${f.value?.choices.join(',') ?? ''}`))
      .join(' ');
    const aliasPaths = aliasesOf(specs, s.path).map((p) => quoted(p.join(' '), 'bash'));
    return `    ${[quoted(s.path.join(' '), 'bash'), ...aliasPaths].join('|')}) subs=${quoted(subs, 'bash')}; flags=${quoted(flags, 'bash')}; valued=${quoted(valued, 'bash')}; args=${quoted(s.args.join(' '), 'bash')} ;;`;
  });
  return `${fn(tool)}_spec() {
  subs=''; flags=''; valued=''; args=''
  case "$1" in
${cases.join('\n')}
    *) return 1 ;;
  esac
}`;
}

/** Paths that reach the same command through an alias (`new` for `create`). */
function aliasesOf(specs: CommandSpec[], path: string[]): string[][] {
  if (path.length === 0) return [];
  const parent = specs.find((s) => s.path.join(' ') === path.slice(0, -1).join(' '));
  const entry = parent?.subcommands.find((c) => c.name === path[path.length - 1]);
  return (entry?.aliases ?? []).map((alias) => [...path.slice(0, -1), alias]);
}

/**
 * The shared walk, in the subset of shell both bash and zsh run: from the
 * words before the cursor to the command path, and what the word under the
 * cursor completes to (printed one per line).
 */
function candidatesFunction(tool: string): string {
  const f = fn(tool);
  return `${f}_values() {
  local kind
  for kind in $(printf '%s' "$1" | tr ',' ' '); do
    command ${tool} __complete "$kind" 2>/dev/null | cut -f1
  done
}
# Prints the candidates for the word $cur, given the words before it ($@).
${f}_candidates() {
  local cmdpath='' word skip='' subs flags valued args entry kinds choices
  ${f}_spec ''
  for word in "$@"; do
    if [ -n "$skip" ]; then skip=''; continue; fi
    case "$word" in
      -*=*) continue ;;
      -*)
        for entry in $valued; do
          case "$entry" in "$word="*) skip=1 ;; esac
        done
        continue ;;
    esac
    case " $subs " in
      *" $word "*)
        cmdpath="\${cmdpath:+$cmdpath }$word"
        ${f}_spec "$cmdpath" || return 0 ;;
    esac
  done
  if [ -n "$prev_value" ]; then
    for entry in $valued; do
      case "$entry" in
        "$prev_value="*)
          kinds="\${entry#*=}"; choices="\${kinds#*|}"; kinds="\${kinds%%|*}"
          printf '%s\\n' $(printf '%s' "$choices" | tr ',' ' ')
          [ -n "$kinds" ] && ${f}_values "$kinds"
          return 0 ;;
      esac
    done
  fi
  case "$cur" in
    -*) printf '%s\\n' $flags ;;
    *)
      if [ -n "$subs" ]; then printf '%s\\n' $subs; fi
      if [ -n "$args" ]; then ${f}_values "$(printf '%s' "$args" | tr ' ' ',')"; fi ;;
  esac
}`;
}

export function bashScript(tool: string, specs: CommandSpec[]): string {
  const f = fn(tool);
  return `# ${tool} completion for bash (generated by \`${tool} completion bash\`).
# Install: echo 'source <(${tool} completion bash)' >> ~/.bashrc
${specFunction(tool, specs)}
${candidatesFunction(tool)}
${f}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev_value=''
  local prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in -*) prev_value="$prev" ;; esac
  [ "$COMP_CWORD" -le 1 ] && prev_value=''
  local out
  out="$(${f}_candidates "\${COMP_WORDS[@]:1:COMP_CWORD-1}")"
  local IFS=$'\\n'
  COMPREPLY=($(compgen -W "$out" -- "$cur"))
}
complete -o default -F ${f} ${tool}
`;
}

export function zshScript(tool: string, specs: CommandSpec[]): string {
  const f = fn(tool);
  return `#compdef ${tool}
# ${tool} completion for zsh (generated by \`${tool} completion zsh\`).
# Install: echo 'source <(${tool} completion zsh)' >> ~/.zshrc   (after compinit)
${specFunction(tool, specs)}
${candidatesFunction(tool)}
${f}() {
  setopt localoptions shwordsplit
  local cur="\${words[CURRENT]}" prev_value=''
  local prev="\${words[CURRENT-1]}"
  case "$prev" in -*) prev_value="$prev" ;; esac
  [ "$CURRENT" -le 2 ] && prev_value=''
  local -a candidates
  candidates=("\${(@f)$(${f}_candidates "\${(@)words[2,CURRENT-1]}")}")
  compadd -- "\${(@)candidates:#}"
}
if (( $+functions[compdef] )); then compdef ${f} ${tool}; fi
`;
}

export function fishScript(tool: string, specs: CommandSpec[]): string {
  const f = `__${tool}_completion`;
  const q = (t: string) => quoted(t, 'fish');
  const lines = [
    `# ${tool} completion for fish (generated by \`${tool} completion fish\`).`,
    `# Install: ${tool} completion fish > ~/.config/fish/completions/${tool}.fish`,
    `function ${f}_subs --argument-names path`,
    '  switch $path',
    ...specs.map(
      (s) =>
        `    case ${[s.path.join(' '), ...aliasesOf(specs, s.path).map((p) => p.join(' '))].map(q).join(' ')}\n      echo ${q(s.subcommands.flatMap((c) => [c.name, ...c.aliases]).join(' '))}`,
    ),
    '  end',
    'end',
    `function ${f}_valued --argument-names path`,
    '  switch $path',
    ...specs.map(
      (s) =>
        `    case ${[s.path.join(' '), ...aliasesOf(specs, s.path).map((p) => p.join(' '))].map(q).join(' ')}\n      echo ${q(
          s.flags
            .filter((fl) => fl.value)
            .flatMap((fl) => fl.names)
            .join(' '),
        )}`,
    ),
    '  end',
    'end',
    '# The command path of the words typed so far (flags and their values skipped).',
    `function ${f}_path`,
    '  set -l path ""',
    '  set -l skip 0',
    '  for word in (commandline -opc)[2..-1]',
    '    if test $skip = 1',
    '      set skip 0',
    '      continue',
    '    end',
    "    if string match -q -- '-*' $word",
    `      if contains -- $word (string split ' ' -- (${f}_valued "$path")); and not string match -q -- '*=*' $word`,
    '        set skip 1',
    '      end',
    '      continue',
    '    end',
    `    if contains -- $word (string split ' ' -- (${f}_subs "$path"))`,
    '      set path (string trim -- "$path $word")',
    '    end',
    '  end',
    '  echo $path',
    'end',
    `function ${f}_is --argument-names wanted`,
    `  test (${f}_path) = "$wanted"`,
    'end',
    `function ${f}_values`,
    '  for kind in $argv',
    `    command ${tool} __complete $kind 2>/dev/null`,
    '  end',
    'end',
    `complete -c ${tool} -f`,
  ];
  for (const s of specs) {
    const cond = `-n ${q(`${f}_is ${q(s.path.join(' '))}`)}`;
    for (const sub of s.subcommands)
      for (const name of [sub.name, ...sub.aliases]) lines.push(`complete -c ${tool} ${cond} -a ${q(name)} -d ${q(sub.description)}`);
    for (const flag of s.flags) {
      const names = flag.names.map((n) => (n.startsWith('--') ? `-l ${q(n.slice(2))}` : `-s ${q(n.slice(1))}`)).join(' ');
      const value = flag.value
        ? `${flag.value.choices.length || flag.value.kinds.length ? ` -x -a ${q([flag.value.choices.join(' '), flag.value.kinds.length ? `(${f}_values ${flag.value.kinds.join(' ')})` : ''].filter((p) => p !== '').join(' '))}` : ' -r'}`
        : '';
      lines.push(`complete -c ${tool} ${cond} ${names}${value} -d ${q(flag.description)}`);
    }
    if (s.args.length) lines.push(`complete -c ${tool} ${cond} -a ${q(`(${f}_values ${s.args.join(' ')})`)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: Shell, tool: string, specs: CommandSpec[]): string {
  return shell === 'bash' ? bashScript(tool, specs) : shell === 'zsh' ? zshScript(tool, specs) : fishScript(tool, specs);
}
