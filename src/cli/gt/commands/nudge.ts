import type { Command } from 'commander';
import { parseIdentity } from '../../../core/agents/identity.js';
import { Mailbox } from '../../../core/comms/mail.js';
import { stdinMessage } from '../../../core/agents/runtimes.js';
import type { AgentRecord, Town } from '../../../core/town/town.js';
import { notFoundError } from '../../../shared/errors.js';
import { action, type GtContext } from '../context.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Idle at its prompt? From the last hook signal when the runtime has hooks, else from the screen. */
async function isIdle(town: Town, agent: AgentRecord): Promise<boolean> {
  if (agent.last_signal) return agent.state === 'idle';
  const runtime = town.runtimeFor(parseIdentity(agent.address), agent.runtime);
  if (!runtime.readyPrompt || !agent.backend) return true;
  const screen = await town.ports.backend(agent.backend).capture(agent.session, 5);
  return screen.split('\n').some((line) => line.trimStart().startsWith(runtime.readyPrompt as string));
}

/** Polls for the agent to be idle (two samples in a row, as a turn may just be starting). */
async function waitIdle(town: Town, identity: ReturnType<typeof parseIdentity>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  let streak = 0;
  for (;;) {
    const agent = await town.agent(identity);
    streak = agent && (await isIdle(town, agent)) ? streak + 1 : 0;
    if (streak >= 2) return true;
    if (Date.now() >= deadline) return false;
    await sleep(150);
  }
}

/** Waits for a hook signal newer than `since`: the proof that typed text reached the agent. */
async function confirmed(town: Town, agent: AgentRecord, since: string, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const now = await town.agent(parseIdentity(agent.address));
    if (now?.last_signal_at && now.last_signal_at > since) return true;
    await sleep(100);
  }
  return false;
}

export default function register(program: Command, ctx: GtContext): void {
  program.command('nudge <agent> <message...>')
    .description('Wake an agent: typed at its prompt when it is idle, else queued for its next turn boundary. Nudges to one agent never interleave')
    .option('--wait <seconds>', 'how long to wait for the next hook event to confirm arrival', '10')
    .option('--no-wait', 'do not wait for confirmation')
    .option('--idle-wait <seconds>', 'how long to wait for a busy agent to go idle before queueing', '10')
    .option('--after-ms <ms>', 'wait this long first (used when a session starts)', '0')
    .option('--raw', 'type the message as is, without the "[nudge from …]" prefix')
    .option('--if-idle', 'only wake an idle agent; do nothing when it is busy (mail already waits for its next turn)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt nudge app/polecats/nux "check your mail"\n  gt nudge mayor "convoy landed" --json')
    .action(action(ctx, async (address: unknown, words: unknown, opts: unknown) => {
      const options = opts as { wait: string | boolean; afterMs: string; idleWait: string; raw?: boolean; ifIdle?: boolean };
      const text = (words as string[]).join(' ');
      const identity = parseIdentity(address as string);
      const town = await ctx.town();
      const me = await ctx.me();
      await sleep(Number(options.afterMs) || 0);
      const agent = await town.agent(identity);
      if (!agent?.active) throw notFoundError(`no agent ${identity.address}`, 'see gt agents');
      const waitMs = options.wait === false ? 0 : Math.max(0, Number(options.wait) * 1000);
      const release = await town.ports.files.lock(town.path('.gt', 'locks', `nudge-${agent.session}.lock`), { waitMs: 120_000 });
      try {
        const current = (await town.agent(identity)) as AgentRecord;
        const alive = await town.sessionAlive(current);
        const runtime = town.runtimeFor(identity, current.runtime);
        const line = options.raw ? text : `[nudge from ${me.address}] ${text}`;
        let delivery: 'typed' | 'stdin' | 'queued' | 'skipped';
        const since = town.ports.now();
        if (alive && current.backend === 'headless' && stdinMessage(runtime, line)) {
          await town.ports.backend('headless').send(current.session, stdinMessage(runtime, line) as string);
          delivery = 'stdin';
        } else if (alive && current.backend === 'tmux' && (await waitIdle(town, identity, Number(options.idleWait) * 1000))) {
          await town.ports.backend('tmux').send(current.session, line);
          delivery = 'typed';
        } else if (options.ifIdle) {
          delivery = 'skipped';
        } else {
          // Busy (or not running): the durable inbox delivers it at the next turn boundary, once.
          await new Mailbox(town.ledger, me.address).send(identity.address, text, '', { kind: 'nudge' });
          delivery = 'queued';
        }
        const ok = delivery === 'queued' || delivery === 'skipped' || waitMs === 0 ? null : await confirmed(town, current, since, waitMs);
        const result = { agent: identity.address, delivery, confirmed: ok };
        ctx.emit(result, () => `${delivery === 'skipped' ? 'Busy, not woken:' : delivery === 'queued' ? 'Queued for the next turn boundary of' : delivery === 'stdin' ? 'Sent to the stdin of' : 'Typed into the prompt of'} ${identity.address}${ok === true ? '; its next hook event confirmed it' : ok === false ? `; no hook event within ${waitMs / 1000}s to confirm it` : ''}`);
      } finally {
        release();
      }
    }));
}
