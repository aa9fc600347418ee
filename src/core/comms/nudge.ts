/**
 * Nudging (design §2.4): a line typed into an agent that its hooks (or, without
 * hooks, its ready prompt on screen) show to be idle, or written to the stdin
 * of a headless stream-protocol agent; otherwise the line waits in its durable
 * inbox for the next turn boundary. Nudges to one agent hold a lock until the
 * next hook event confirms arrival, so two never interleave. The CLI's
 * `gt nudge` and the witness's wake-ups both come through here.
 */
import { lockFile } from '../../shared/paths.js';
import { notFoundError } from '../../shared/errors.js';
import { parseIdentity, type Identity } from '../agents/identity.js';
import { stdinMessage } from '../agents/runtimes.js';
import type { NudgeOptions } from '../town/ports.js';
import type { AgentRecord, Town } from '../town/town.js';
import { Mailbox } from './mail.js';

export type { NudgeOptions } from '../town/ports.js';

export interface NudgeResult {
  agent: string;
  delivery: 'typed' | 'stdin' | 'queued' | 'skipped';
  /** The next hook event arrived (true), did not within the wait (false), or was not awaited (null). */
  confirmed: boolean | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The lock every line typed into one agent's session takes. */
export function nudgeLock(town: Town, agent: Pick<AgentRecord, 'session'>, waitMs: number): Promise<() => void> {
  return town.ports.files.lock(town.path(lockFile(`nudge-${agent.session}`)), { waitMs });
}

/** Idle at its prompt? From the last hook signal when the runtime has hooks, else from the screen. */
async function isIdle(town: Town, agent: AgentRecord): Promise<boolean> {
  // A GUPP violation is an agent idle at its prompt too (the witness's reading of it).
  if (agent.last_signal) return agent.state === 'idle' || agent.state === 'gupp-violation';
  const runtime = town.runtimeFor(parseIdentity(agent.address), agent.runtime);
  if (!runtime.readyPrompt || !agent.backend) return true;
  const prompt = runtime.readyPrompt;
  const screen = await town.ports.backend(agent.backend).capture(agent.session, 5);
  return screen.split('\n').some((line) => line.trimStart().startsWith(prompt));
}

/** Polls for the agent to be idle (two samples in a row, as a turn may just be starting). */
async function waitIdle(town: Town, identity: Identity, ms: number): Promise<boolean> {
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
async function confirmedSince(town: Town, identity: Identity, since: string, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const now = await town.agent(identity);
    if (now?.last_signal_at && now.last_signal_at > since) return true;
    await sleep(100);
  }
  return false;
}

/**
 * Nudges `to` from `from`. The line is typed (tmux), written to stdin
 * (headless), or queued as mail; then, unless `waitSec` is 0, the next hook
 * event is awaited as confirmation (`nudge.confirmed`).
 */
export async function nudgeAgent(town: Town, from: string, to: Identity, text: string, options: NudgeOptions = {}): Promise<NudgeResult> {
  if (options.afterMs) await sleep(options.afterMs);
  const agent = await town.agent(to);
  if (!agent?.active) throw notFoundError(`no agent ${to.address}`, 'see gt agents');
  const waitMs = Math.max(0, (options.waitSec ?? 10) * 1000);
  const release = await nudgeLock(town, agent, 120_000);
  try {
    const current = (await town.agent(to)) ?? agent;
    // An agent on another host: nothing here can type into its session; its inbox is the ledger both hosts share, and
    // its own host delivers the line at its next turn boundary.
    const alive = town.isRemote(current) ? false : await town.sessionAlive(current);
    const runtime = town.runtimeFor(to, current.runtime);
    const line = options.raw ? text : `[nudge from ${from}] ${text}`;
    const since = town.ports.now();
    const stdinLine = current.backend === 'headless' ? stdinMessage(runtime, line) : undefined;
    let delivery: NudgeResult['delivery'];
    if (alive && stdinLine !== undefined) {
      await town.ports.backend('headless').send(current.session, stdinLine);
      delivery = 'stdin';
    } else if (alive && current.backend === 'tmux' && (await waitIdle(town, to, (options.idleWaitSec ?? 10) * 1000))) {
      await town.ports.backend('tmux').send(current.session, line);
      delivery = 'typed';
    } else if (options.ifIdle) {
      delivery = 'skipped';
    } else {
      // Busy (or not running): the durable inbox delivers it at the next turn boundary, once.
      await new Mailbox(town.ledger, from).send(to.address, text, '', { kind: 'nudge' });
      delivery = 'queued';
    }
    const subject = { agent: to.address, ...(current.rig ? { rig: current.rig } : {}) };
    if (delivery === 'typed' || delivery === 'stdin') await town.ledger.emit({ kind: 'nudge.sent', actor: from, ...subject, payload: { delivery } });
    const confirmed = delivery === 'queued' || delivery === 'skipped' || waitMs === 0 ? null : await confirmedSince(town, to, since, waitMs);
    if (confirmed) await town.ledger.emit({ kind: 'nudge.confirmed', actor: from, ...subject, payload: { delivery } });
    return { agent: to.address, delivery, confirmed };
  } finally {
    release();
  }
}
