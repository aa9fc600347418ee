import type { Command } from 'commander';
import { heartbeatAgent, heartbeatConfig, requireHeartbeatConfig, runHeartbeatNow } from '../../../core/heartbeat/heartbeat.js';
import { HEARTBEAT_FILE, isEffectivelyEmpty } from '../../../core/heartbeat/contract.js';
import { queueEvent, queuedEvents, readState, updateState, type HeartbeatOutcome } from '../../../core/heartbeat/state.js';
import { memoryHome } from '../../../core/memory/memory.js';
import { checkRuntime } from '../../../core/work/work.js';
import { describeWindow, isWithinWindow, parseActiveHours } from '../../../shared/active-hours.js';
import { parseDuration } from '../../../shared/duration.js';
import { usageError } from '../../../shared/errors.js';
import { action, type GtContext } from '../context.js';

function describeOutcome(o: HeartbeatOutcome | undefined): string {
  if (!o) return 'none yet';
  const why = o.reason ? ` (${o.reason})` : '';
  const text = o.text ? `: ${o.text.length > 200 ? `${o.text.slice(0, 200)}…` : o.text}` : '';
  return `${o.at.slice(0, 19)}Z ${o.result}${why}${text} [${o.id}]`;
}

export default function register(program: Command, ctx: GtContext): void {
  const heartbeat = program
    .command('heartbeat')
    .description("Periodic turns of the Mayor (OpenClaw's heartbeat): status, run, last, enable, disable, event")
    .addHelpText(
      'after',
      `
Settings in town.toml (the daemon, gt up, runs the ticks):
  [heartbeat]
  every = "30m"                 # "0m" turns it off
  agent = "mayor"               # or <rig>/crew/<name>
  active_hours = { start = "08:00", end = "24:00", timezone = "local" }
  ack_max_chars = 300
  notify = ["default"]
  prompt = "…"                  # default: read HEARTBEAT.md, follow it, reply HEARTBEAT_OK if nothing needs attention

The agent's tasks are in its home: mayor/HEARTBEAT.md. Empty (headings only) = no tick costs a model call.

Examples:
  gt heartbeat status
  gt heartbeat run --now        # one tick here, waits for the reply
  gt heartbeat event "The deploy finished" && gt heartbeat run
  gt heartbeat last --json`,
    );

  heartbeat
    .command('status')
    .description('Settings, whether a tick would run now, the turn in flight and the last outcome')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async () => {
        const town = await ctx.town();
        // A read: a town without a heartbeat has one that is off, not an error.
        if (!heartbeatConfig(town)) {
          const why = town.config.heartbeat ? 'heartbeat.every = "0m" in town.toml' : 'no [heartbeat] in town.toml';
          ctx.emit({ configured: false, enabled: false, reason: why }, () => `heartbeat: off (${why}); turn it on with gt config set heartbeat.every '"30m"'`);
          return;
        }
        const config = requireHeartbeatConfig(town);
        const identity = heartbeatAgent(config);
        const state = readState(town, identity);
        const now = new Date(town.ports.now());
        const window = config.active_hours ? parseActiveHours(config.active_hours, 'heartbeat.active_hours') : undefined;
        const checklist = town.ports.files.read(town.path(memoryHome(identity), HEARTBEAT_FILE));
        const file = checklist === undefined ? 'missing' : isEffectivelyEmpty(checklist) ? 'empty' : 'tasks';
        const next = state.last_tick_at ? new Date(Date.parse(state.last_tick_at) + parseDuration(config.every)).toISOString() : 'at the next daemon pass';
        const data = {
          configured: true,
          agent: identity.address,
          enabled: state.enabled,
          every: config.every,
          active_hours: config.active_hours ?? null,
          in_active_hours: window ? isWithinWindow(window, now) : true,
          ack_max_chars: config.ack_max_chars,
          notify: config.notify,
          heartbeat_file: file,
          last_tick_at: state.last_tick_at ?? null,
          next_tick: state.enabled ? next : null,
          pending: state.pending ?? null,
          last: state.last ?? null,
          last_reply: state.last_reply ?? null,
          queued_events: queuedEvents(town, identity).length,
        };
        ctx.emit(data, () =>
          [
            `heartbeat of ${identity.address}: ${state.enabled ? `every ${config.every}` : 'disabled (gt heartbeat enable)'}`,
            `active hours: ${window ? `${describeWindow(window)} (${data.in_active_hours ? 'inside now' : 'quiet now'})` : 'all day'}`,
            `${HEARTBEAT_FILE}: ${file === 'tasks' ? 'has tasks' : file === 'empty' ? 'empty (ticks are skipped, no model call)' : 'missing (the prompt runs alone)'}`,
            `next tick: ${data.next_tick ?? '-'}`,
            `in flight: ${state.pending ? `${state.pending.id} since ${state.pending.sent_at.slice(0, 19)}Z (${state.pending.delivery})` : 'none'}`,
            `last: ${describeOutcome(state.last)}`,
            ...(state.last_reply && state.last_reply.id !== state.last?.id ? [`last reply: ${describeOutcome(state.last_reply)}`] : []),
            `queued events: ${data.queued_events}`,
          ].join('\n'),
        );
      }),
    );

  heartbeat
    .command('run')
    .description('Ask the daemon for a tick at its next pass; --now runs one here and waits for the reply')
    .option('--now', 'run the tick in this process and wait for its outcome')
    .option('--timeout <duration>', 'with --now: how long to wait for the reply', '10m')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as { now?: boolean; timeout: string };
        // A tick starts the heartbeat agent (often a leader) with the caller's environment: never an agent's.
        await ctx.forPeople('running a heartbeat');
        const town = await ctx.townForSessions();
        const config = requireHeartbeatConfig(town);
        const identity = heartbeatAgent(config);
        if (!options.now) {
          updateState(town, identity, (s) => ({ ...s, wake: true }));
          ctx.emit({ agent: identity.address, requested: true }, () => 'The daemon runs a heartbeat at its next pass (start it with gt up).');
          return;
        }
        let timeoutMs: number;
        try {
          timeoutMs = parseDuration(options.timeout);
        } catch {
          throw usageError(`--timeout ${JSON.stringify(options.timeout)} is not a duration`, 'e.g. --timeout 5m');
        }
        ctx.io.stderr(`heartbeat: ticking ${identity.address}…\n`);
        const outcome = await runHeartbeatNow(town, { timeoutMs, checkRuntime: (runtime) => checkRuntime(runtime, ctx.runtimeProbe) });
        ctx.emit(outcome, () => describeOutcome(outcome));
      }),
    );

  heartbeat
    .command('last')
    .description('The last outcome (and the last reply, ack or alert)')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async () => {
        const town = await ctx.town();
        const state = readState(town, heartbeatAgent(requireHeartbeatConfig(town)));
        ctx.emit({ last: state.last ?? null, last_reply: state.last_reply ?? null }, () =>
          [`last: ${describeOutcome(state.last)}`, `last reply: ${describeOutcome(state.last_reply)}`].join('\n'),
        );
      }),
    );

  for (const [name, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    heartbeat
      .command(name)
      .description(enabled ? 'Turn the heartbeat back on' : 'Stop ticking (town.toml unchanged; gt heartbeat enable resumes)')
      .option('--json', 'machine-readable output')
      .action(
        action(ctx, async () => {
          await ctx.forPeople(`${name === 'enable' ? 'enabling' : 'disabling'} the heartbeat`);
          const town = await ctx.town();
          const identity = heartbeatAgent(requireHeartbeatConfig(town));
          updateState(town, identity, (s) => ({ ...s, enabled }));
          ctx.emit({ agent: identity.address, enabled }, () => `Heartbeat of ${identity.address} ${enabled ? 'enabled' : 'disabled'}.`);
        }),
      );
  }

  heartbeat
    .command('event <text...>')
    .description('Queue a "System:" line for the next heartbeat the agent is sent')
    .option('--wake', 'and ask the daemon for a tick at its next pass')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (words: unknown, opts: unknown) => {
        const text = (words as string[]).join(' ').trim();
        if (text === '') throw usageError('an event needs text', 'gt heartbeat event "The nightly build failed"');
        // Its text reaches the heartbeat agent as a "System:" line: an agent's words must not pass for the system's.
        await ctx.forPeople('queueing a heartbeat event');
        const town = await ctx.town();
        const identity = heartbeatAgent(requireHeartbeatConfig(town));
        const event = queueEvent(town, identity, text);
        if ((opts as { wake?: boolean }).wake) updateState(town, identity, (s) => ({ ...s, wake: true }));
        ctx.emit({ agent: identity.address, ...event }, () => `Queued for ${identity.address}'s next heartbeat.`);
      }),
    );
}
