import type { Command } from 'commander';
import { join } from 'node:path';
import { isChannelSecretKey, withoutChannelSecrets } from '../../../core/notify/vocabulary.js';
import { getKey, parseConfig, parseToml, renderToml, rigSchema, setKey, townSchema } from '../../../core/town/config.js';
import { PRESETS, resolveRuntime } from '../../../core/agents/runtimes.js';
import { RIG_FILE, TOWN_FILE } from '../../../core/town/town.js';
import { townFiles as nodeTownFiles } from '../../../app/index.js';
import { agentConfigError } from '../../../core/governance/agent-writes.js';
import { GtError, notFoundError, validationError } from '../../../shared/errors.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

interface Target {
  file: string;
  /** The agent session asking (GT_AGENT), if any: it reads the config and never writes it. */
  agent: string | undefined;
  raw: Record<string, unknown>;
  validate: (text: string) => unknown;
}

function target(ctx: GtContext, rig?: string): Target {
  const root = ctx.townRoot();
  const file = rig ? join(root, rig, RIG_FILE) : join(root, TOWN_FILE);
  const text = nodeTownFiles.read(file);
  if (text === undefined) throw notFoundError(`${file} does not exist`, rig ? `no rig ${rig}; see gt rig list` : 'create a town with gt install');
  return {
    file,
    agent: ctx.io.env.GT_AGENT || undefined,
    raw: parseToml(text, file),
    validate: (t) => (rig ? parseConfig(rigSchema, t, file) : parseConfig(townSchema, t, file)),
  };
}

/**
 * The config as it would be with `raw`. An invalid one names the change that
 * made it so (`set merge.push`), not the file, which is still as it was —
 * unless the file already fails as it is: then fixing the file is the advice.
 */
function validated(t: Target, raw: Record<string, unknown>, change: string): unknown {
  try {
    return t.validate(renderToml(raw));
  } catch (error) {
    if (!(error instanceof GtError) || error.kind !== 'validation' || !isValid(t)) throw error;
    throw new GtError('validation', `cannot ${change}: ${error.message.replace(`${t.file}: `, '')}`, {
      hint: `${t.file} is unchanged; see gt config --help for the keys and their values`,
    });
  }
}

/** Validates the whole file as it would be, then writes it atomically: a bad value changes nothing. */
function save(t: Target, raw: Record<string, unknown>, change: string): void {
  if (t.agent) throw agentConfigError(t.agent, t.file);
  validated(t, raw, change);
  // An atomic write makes a new file: give it the owner-only mode install gave the config.
  nodeTownFiles.write(t.file, renderToml(raw), 0o600);
}

function isValid(t: Target): boolean {
  try {
    t.validate(renderToml(t.raw));
    return true;
  } catch {
    return false;
  }
}

export default function register(program: Command, ctx: GtContext): void {
  const config = program
    .command('config')
    .description('Town (town.toml) and rig (rig.toml) settings; agent runtimes')
    .addHelpText(
      'after',
      `
Keys (town.toml): name, default_agent, role_agents.<mayor|crew|polecat|witness|refinery|deacon>,
  agents.<name>.command|env|like, sessions.backend (auto|tmux|headless), sessions.pass_env (["GITHUB_TOKEN"]: secrets every
  session gets besides its runtime's own), daemon.interval ("5s").
Keys (rig.toml, with --rig): default_branch, prefix, agent, role_agents.<role>, merge.test,
  merge.test_timeout ("10m"), merge.push (true|false).

Examples:
  gt config show --json
  gt config get default_agent
  gt config set role_agents.polecat shell
  gt config set merge.test "npm test" --rig app
  gt config agent set mybot "mybot --yes" --like claude
  gt config default-agent codex`,
    );

  config
    .command('show')
    .description('The effective town config (defaults filled in)')
    .option('--rig <rig>', 'show rig.toml instead')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const t = target(ctx, (opts as { rig?: string }).rig);
        // A channel's token or password given by value is in town.toml, never on a screen or in --json.
        const effective = withoutChannelSecrets(t.validate(renderToml(t.raw)) as Record<string, unknown>);
        ctx.emit(effective, () => renderToml(effective).trimEnd());
      }),
    );

  config
    .command('get <key>')
    .description('One value (dotted key)')
    .option('--rig <rig>', 'read rig.toml')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (key: unknown, opts: unknown) => {
        const t = target(ctx, (opts as { rig?: string }).rig);
        const effective = withoutChannelSecrets(t.validate(renderToml(t.raw)) as Record<string, unknown>);
        const value = getKey(effective, key as string);
        if (value === undefined) throw notFoundError(`${t.file}: key ${key as string} is not set`);
        ctx.emit({ key, value }, () => (typeof value === 'string' ? value : JSON.stringify(value)));
      }),
    );

  config
    .command('set <key> <value>')
    .description('Set a value (TOML syntax, or a plain string)')
    .option('--rig <rig>', 'write rig.toml')
    .action(
      action(ctx, async (key: unknown, value: unknown, opts: unknown) => {
        const t = target(ctx, (opts as { rig?: string }).rig);
        try {
          save(t, setKey(t.raw, key as string, value as string), `set ${key as string}`);
        } catch (error) {
          // `merge.test true` or `name 42` where the key wants a string: take the words as a string.
          try {
            save(t, setKey(t.raw, key as string, JSON.stringify(value)), `set ${key as string}`);
          } catch {
            throw error;
          }
        }
        // A channel's secret given by value is echoed as [redacted], alone or inside a table.
        const secret =
          isChannelSecretKey(key as string) || ((key as string).startsWith('notify') && /\b(token|password|smtp_url|url)\s*=/.test(value as string));
        const shown = secret ? '[redacted]' : value;
        ctx.emit({ key, value: shown }, () => `${key as string} = ${shown as string}`);
      }),
    );

  config
    .command('unset <key>')
    .description('Remove a value (back to its default)')
    .option('--rig <rig>', 'write rig.toml')
    .action(
      action(ctx, async (key: unknown, opts: unknown) => {
        const t = target(ctx, (opts as { rig?: string }).rig);
        save(t, setKey(t.raw, key as string, undefined), `unset ${key as string}`);
        ctx.emit({ key }, () => `unset ${key as string}`);
      }),
    );

  config
    .command('default-agent [name]')
    .description('Show or set the default runtime')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (name: unknown) => {
        const t = target(ctx);
        let raw = t.raw;
        if (typeof name === 'string') {
          const town = t.validate(renderToml(raw)) as { agents: Record<string, { command: string }> };
          resolveRuntime(name, { agents: town.agents });
          raw = setKey(raw, 'default_agent', JSON.stringify(name));
          save(t, raw, 'set default_agent');
        }
        const effective = t.validate(renderToml(raw)) as { default_agent: string };
        ctx.emit({ default_agent: effective.default_agent }, () => effective.default_agent);
      }),
    );

  const agent = config.command('agent').description('Agent runtimes: the presets and your own');
  agent
    .command('list')
    .description('Presets and custom agents')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async () => {
        const t = target(ctx);
        const town = t.validate(renderToml(t.raw)) as { agents: Record<string, { command: string; like?: string }>; default_agent: string };
        const rows = [
          ...Object.values(PRESETS).map((p) => ({
            name: p.name,
            command: [p.command, ...p.args].join(' '),
            custom: false,
            hooks: p.hooks,
            headless: p.headless !== undefined,
            installed: p.hooks === 'builtin' || ctx.commandExists(p.command),
          })),
          ...Object.entries(town.agents).map(([name]) => {
            const r = resolveRuntime(name, { agents: town.agents });
            return {
              name,
              command: [r.command, ...r.args].join(' '),
              custom: true,
              hooks: r.hooks,
              headless: r.headless !== undefined,
              installed: ctx.commandExists(r.command),
            };
          }),
        ];
        ctx.emit(rows, () =>
          table([
            ['AGENT', 'COMMAND', 'HOOKS', 'HEADLESS', 'INSTALLED'],
            ...rows.map((r) => [
              `${r.name}${r.name === town.default_agent ? ' (default)' : ''}`,
              r.command,
              r.hooks,
              r.headless ? 'yes' : 'no',
              r.installed ? 'yes' : 'no',
            ]),
          ]),
        );
      }),
    );
  agent
    .command('set <name> <command>')
    .description('Define or change a custom agent')
    .option('--like <preset>', 'behave like this preset (prompt, hooks, readiness)')
    .action(
      action(ctx, async (name: unknown, command: unknown, opts: unknown) => {
        const like = (opts as { like?: string }).like;
        if (like !== undefined && !PRESETS[like])
          throw validationError(`unknown preset ${JSON.stringify(like)}`, `use one of ${Object.keys(PRESETS).join(', ')}`);
        if (PRESETS[name as string]) throw validationError(`${name as string} is a built-in preset`, 'give your agent another name');
        const t = target(ctx);
        let raw = setKey(t.raw, `agents.${name as string}.command`, JSON.stringify(command));
        if (like) raw = setKey(raw, `agents.${name as string}.like`, JSON.stringify(like));
        // The command must make a runnable agent before anything is written.
        resolveRuntime(name as string, validated(t, raw, `set agent ${name as string}`) as { agents: Parameters<typeof resolveRuntime>[1]['agents'] });
        save(t, raw, `set agent ${name as string}`);
        ctx.emit({ name, command, like }, () => `agent ${name as string}: ${command as string}`);
      }),
    );
  agent
    .command('remove <name>')
    .description('Remove a custom agent')
    .action(
      action(ctx, async (name: unknown) => {
        const t = target(ctx);
        if (getKey(t.raw, `agents.${name as string}`) === undefined) throw notFoundError(`no custom agent ${name as string}`);
        save(t, setKey(t.raw, `agents.${name as string}`, undefined), `remove agent ${name as string}`);
        ctx.emit({ name }, () => `removed agent ${name as string}`);
      }),
    );
}
