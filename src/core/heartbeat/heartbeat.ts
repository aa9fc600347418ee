/**
 * The heartbeat (issue 15 §1, OpenClaw's contract in research/peers.md §3):
 * periodic turns of a long-lived agent (the Mayor) that surface what needs
 * the person's attention without spamming them, and cost nothing when there
 * is nothing to do.
 *
 * A tick applies the skip rules in order — quiet hours, an effectively empty
 * HEARTBEAT.md, a busy agent — each without a model call; starts the agent if
 * it is not running; otherwise delivers the message at a turn boundary. The
 * reply of that turn is read later from the runtime's stream or transcript
 * (`settleHeartbeat`): an ack is dropped, anything else is an alert. Every
 * outcome is an event and a committed line in the agent's daily memory log.
 */
import { parseDuration } from '../../shared/duration.js';
import { isWithinWindow, parseActiveHours } from '../../shared/active-hours.js';
import { lockFile, runDir } from '../../shared/paths.js';
import { errorMessage, GtError } from '../../shared/errors.js';
import { parseIdentity, sessionName, type Identity } from '../agents/identity.js';
import { stdinMessage } from '../agents/runtimes.js';
import { startSession } from '../agents/sessions.js';
import { nudgeAgent } from '../comms/nudge.js';
import { Mailbox } from '../comms/mail.js';
import { appendMemoryLog, logFile, memoryHome, wallClock } from '../memory/memory.js';
import type { HeartbeatConfig } from '../town/config.js';
import type { AgentRecord, AgentState, Town } from '../town/town.js';
import { hookedWork } from '../work/hooked.js';
import { enqueueNotification } from '../notify/outbox.js';
import { classifyReply, HEARTBEAT_FILE, isEffectivelyEmpty, marker, renderHeartbeat, wakeLine } from './contract.js';
import { replyFromStream, replyFromTranscript, type TurnReply } from './reply.js';
import { deliveryPath, readState, requeueEvents, takeEvents, updateState, type HeartbeatOutcome, type HeartbeatResult, type PendingTurn } from './state.js';

export type { HeartbeatOutcome } from './state.js';

/** Working, or waiting on a person or a gate: the heartbeat would interrupt, so it waits for the next tick. */
const BUSY_STATES: ReadonlySet<AgentState> = new Set(['starting', 'working', 'waiting-permission', 'waiting-gate']);
/** A heartbeat turn with no reply after this long is recorded as failed, and the next tick may run. */
const REPLY_TIMEOUT_MS = 15 * 60_000;

/** town.toml's `[heartbeat]`, or undefined when there is none or `every = "0m"`. */
export function heartbeatConfig(town: Town): HeartbeatConfig | undefined {
  const config = town.config.heartbeat;
  return config && parseDuration(config.every) > 0 ? config : undefined;
}

export function requireHeartbeatConfig(town: Town): HeartbeatConfig {
  const config = heartbeatConfig(town);
  if (!config)
    throw new GtError('usage', town.config.heartbeat ? 'the heartbeat is off (heartbeat.every = "0m" in town.toml)' : 'no [heartbeat] in town.toml', {
      hint: "gt config set heartbeat.every '\"30m\"' (and write the agent's tasks in mayor/HEARTBEAT.md)",
    });
  return config;
}

export const heartbeatAgent = (config: Pick<HeartbeatConfig, 'agent'>): Identity => parseIdentity(config.agent);

const lock = (town: Town, identity: Identity) => town.ports.files.lock(town.path(lockFile(`heartbeat-${sessionName(identity)}`)), { waitMs: 60_000 });

function newId(now: string): string {
  return `hb-${now.replace(/\D/g, '').slice(0, 14)}-${Math.random().toString(36).slice(2, 6)}`;
}

export interface TickOptions {
  /** Checks that the runtime is installed before a tick starts the agent. */
  checkRuntime?: (runtime: ReturnType<Town['runtimeFor']>) => void;
}

/**
 * One tick: skip rules in order, else the message delivered (or the agent
 * started with it). Returns `sent` (the reply is settled later) or the skip.
 */
export async function heartbeatTick(town: Town, options: TickOptions = {}): Promise<HeartbeatOutcome> {
  const config = requireHeartbeatConfig(town);
  const identity = heartbeatAgent(config);
  await settleHeartbeat(town);
  const release = await lock(town, identity);
  try {
    const state = readState(town, identity);
    const now = town.ports.now();
    const id = newId(now);
    const skip = (reason: string, text?: string) => recordOutcome(town, identity, config, { id, result: 'skipped', reason, ...(text ? { text } : {}) });
    if (!state.enabled) return { id, agent: identity.address, at: now, result: 'skipped', reason: 'disabled' };
    updateState(town, identity, (s) => ({ ...s, last_tick_at: now, wake: false }));
    if (state.pending) return skip('busy', `heartbeat ${state.pending.id} is still waiting for its reply`);
    if (config.active_hours && !isWithinWindow(parseActiveHours(config.active_hours, 'heartbeat.active_hours'), new Date(now))) return skip('quiet-hours');
    const checklist = town.ports.files.read(town.path(memoryHome(identity), HEARTBEAT_FILE));
    if (checklist !== undefined && isEffectivelyEmpty(checklist)) return skip('empty-heartbeat-file');
    const agent = await town.agent(identity);
    const alive = agent ? await town.sessionAlive(agent) : false;
    if (agent && alive && BUSY_STATES.has(agent.state)) return skip('busy', `${identity.address} is ${agent.state}`);

    const zone = config.active_hours?.timezone ?? 'local';
    const clock = wallClock(now, zone);
    const events = takeEvents(town, identity);
    const text = renderHeartbeat({
      id,
      prompt: config.prompt,
      time: `${clock.date} ${clock.time} ${zone === 'local' ? 'local time' : zone} (${now.slice(0, 16)}Z)`,
      events: events.map((e) => e.text),
      checklist,
      logPath: logFile(clock.date),
    });
    let pending: PendingTurn | undefined;
    try {
      pending = await deliver(town, identity, alive ? agent : undefined, agent, { id, text, now, ...options });
    } catch (error) {
      // A runtime that is missing or will not start: an outcome like any other (event, memory line), not a silent daemon error.
      requeueEvents(town, identity, events);
      return recordOutcome(town, identity, config, { id, result: 'failed', reason: 'not-delivered', text: errorMessage(error) });
    }
    if (!pending) {
      requeueEvents(town, identity, events);
      return skip('busy', `${identity.address} did not come to its prompt`);
    }
    const sent = pending;
    updateState(town, identity, (s) => ({ ...s, pending: sent }));
    await town.ledger.emit({
      kind: 'heartbeat.sent',
      agent: identity.address,
      payload: { id, delivery: sent.delivery, backend: sent.backend, events: events.length },
    });
    return { id, agent: identity.address, at: now, result: 'sent', reason: sent.delivery };
  } finally {
    release();
  }
}

/**
 * Delivers the message at a turn boundary: a running headless agent gets it
 * on stdin (a stream protocol queues it until its turn ends); an interactive
 * one idle at its prompt gets a one-line wake-up typed, and the whole message
 * arrives as that turn's context through its prompt hook; an agent that is
 * not running is started with the message as its first prompt.
 */
async function deliver(
  town: Town,
  identity: Identity,
  running: AgentRecord | undefined,
  known: AgentRecord | undefined,
  message: { id: string; text: string; now: string } & TickOptions,
): Promise<PendingTurn | undefined> {
  const runtime = town.runtimeFor(identity, known?.runtime);
  if (!running) {
    message.checkRuntime?.(runtime);
    const backend = known?.backend && (known.backend !== 'tmux' || town.ports.tmuxAvailable) ? known.backend : town.backendKind();
    const record = await startSession(town, identity, {
      runtime,
      backend,
      hooked: (await hookedWork(town.ledger, identity.address)).length > 0,
      prompt: message.text,
      ...(known?.branch ? { branch: known.branch } : {}),
    });
    return { id: message.id, sent_at: message.now, delivery: 'started', backend, ...(record.run ? { run: record.run } : {}), log_offset: 0 };
  }
  const base = { id: message.id, sent_at: message.now, backend: running.backend ?? 'tmux', ...(running.run ? { run: running.run } : {}) } as const;
  if (running.backend === 'headless') {
    const line = stdinMessage(runtime, message.text);
    if (line === undefined)
      throw new GtError('external', `${identity.address} runs ${runtime.name} headless, which takes no message mid-session`, {
        hint: 'run the heartbeat agent in tmux, or with a stream-protocol runtime (claude)',
      });
    const log = running.run ? (town.ports.files.read(town.path(runDir(running.run), 'agent.log')) ?? '') : '';
    await town.ports.backend('headless').send(running.session, line);
    return { ...base, delivery: 'stdin', log_offset: log.length };
  }
  const hooks = runtime.hooks === 'claude';
  const path = deliveryPath(town.root, message.id);
  // Claude Code takes the message as context at its prompt hook; a runtime without one gets it typed, on one line.
  if (hooks) town.ports.files.write(path, message.text, 0o600);
  const typed = hooks ? wakeLine(message.id) : message.text.replace(/\s*\n\s*/g, ' ');
  const result = await nudgeAgent(town, 'deacon', identity, typed, { raw: true, ifIdle: true, idleWaitSec: 5, waitSec: 0 });
  if (result.delivery !== 'typed') {
    if (hooks) town.ports.files.remove(path);
    return undefined;
  }
  return { ...base, delivery: 'typed' };
}

/** The reply of the pending turn, once its turn has ended; undefined while it runs. */
async function turnReply(town: Town, agent: AgentRecord, pending: PendingTurn): Promise<TurnReply | undefined> {
  if (pending.backend === 'headless') {
    const run = pending.run ?? agent.run;
    if (!run) return undefined;
    const log = town.ports.files.read(town.path(runDir(run), 'agent.log')) ?? '';
    return replyFromStream(log.slice(pending.log_offset ?? 0));
  }
  // Interactive: the turn has ended when a Stop came after the message was sent; the reply is in the transcript.
  if (!agent.last_signal_at || agent.last_signal_at <= pending.sent_at) return undefined;
  if (agent.last_signal === 'stop-failure') return { error: agent.last_error ?? 'the turn ended on an error' };
  if (agent.last_signal !== 'stop') return undefined;
  const transcript = (await town.ledger.find(agent.id))?.metadata?.transcript;
  if (typeof transcript !== 'string') return undefined;
  return replyFromTranscript(town.ports.files.read(transcript) ?? '', marker(pending.id));
}

/**
 * Settles the turn in flight, if any: its reply is classified (ack or alert)
 * and recorded; a session that ended or a reply that never came is recorded
 * as failed. Returns the outcome, or undefined while the turn runs.
 */
export async function settleHeartbeat(town: Town): Promise<HeartbeatOutcome | undefined> {
  const config = town.config.heartbeat;
  if (!config) return undefined;
  const identity = heartbeatAgent(config);
  if (!readState(town, identity).pending) return undefined;
  const release = await lock(town, identity);
  try {
    const pending = readState(town, identity).pending;
    if (!pending) return undefined;
    const agent = await town.agent(identity);
    const reply = agent ? await turnReply(town, agent, pending) : undefined;
    let outcome: Omit<HeartbeatOutcome, 'agent' | 'at'> | undefined;
    if (reply?.error !== undefined) outcome = { id: pending.id, result: 'failed', reason: 'error', text: reply.error };
    else if (reply) {
      const verdict = classifyReply(reply.text, config.ack_max_chars);
      outcome =
        verdict.kind === 'ok'
          ? { id: pending.id, result: 'ok', ...(verdict.rest ? { text: verdict.rest } : {}) }
          : { id: pending.id, result: 'alert', text: verdict.text };
    } else if (!agent || !(await town.sessionAlive(agent))) outcome = { id: pending.id, result: 'failed', reason: 'session-ended' };
    else if (Date.parse(town.ports.now()) - Date.parse(pending.sent_at) > REPLY_TIMEOUT_MS) outcome = { id: pending.id, result: 'failed', reason: 'no-reply' };
    if (!outcome) return undefined;
    updateState(town, identity, (s) => {
      const { pending: _settled, ...rest } = s;
      return rest;
    });
    return await recordOutcome(town, identity, config, outcome);
  } finally {
    release();
  }
}

/**
 * Where an alert goes: the notification routes named by `heartbeat.notify`,
 * through the outbox (core/notify), which the daemon delivers. The one place
 * alerts leave the heartbeat. Routes that name no channel are reported, never
 * a reason to lose the outcome (the event and the memory log keep it).
 */
/**
 * An alert goes to `heartbeat.notify`'s channels; when none is configured (or
 * queueing fails) it goes to the person's inbox instead, so an alert is never
 * only an event nobody reads.
 */
async function deliverAlert(
  town: Town,
  config: HeartbeatConfig,
  identity: Identity,
  outcome: HeartbeatOutcome,
): Promise<{ routes: string[]; channels?: string[] }> {
  const [first = '', ...rest] = (outcome.text ?? '').trim().split('\n');
  const title = first.length > 200 ? `${first.slice(0, 199)}…` : first || 'Heartbeat alert';
  const body = [first.length > 200 ? first : '', ...rest].join('\n').trim();
  let channels: string[] = [];
  try {
    const queued = await enqueueNotification(town, {
      routes: config.notify,
      severity: 'high',
      kind: 'heartbeat.alert',
      title,
      body,
      dedupeKey: `heartbeat:${outcome.id}`,
    });
    channels = queued.map((q) => q.channel);
  } catch (error) {
    town.ports.progress(`warning: the heartbeat alert was not queued for ${config.notify.join(', ')}: ${errorMessage(error)}`);
  }
  if (channels.length > 0) return { routes: config.notify, channels };
  await new Mailbox(town.ledger, identity.address).send('human', `HEARTBEAT ALERT ${identity.address}: ${title}`, body || title, { priority: 1 });
  return { routes: [...config.notify, 'mail:human'], channels };
}

function memoryLine(outcome: Pick<HeartbeatOutcome, 'id' | 'result' | 'reason' | 'text'>): string {
  const head = `heartbeat ${outcome.result}`;
  switch (outcome.result) {
    case 'ok':
      return outcome.text ? `${head}: ${outcome.text}` : head;
    case 'alert':
      return `${head}: ${outcome.text ?? ''}`;
    default:
      return `${head} (${outcome.reason ?? 'unknown'})${outcome.text ? `: ${outcome.text}` : ''}`;
  }
}

/** An outcome becomes a committed line in the agent's daily memory log, an event, and the state's `last`. */
async function recordOutcome(
  town: Town,
  identity: Identity,
  config: HeartbeatConfig,
  partial: { id: string; result: HeartbeatResult; reason?: string; text?: string },
): Promise<HeartbeatOutcome> {
  const at = town.ports.now();
  let outcome: HeartbeatOutcome = { ...partial, agent: identity.address, at };
  try {
    const entry = await appendMemoryLog(town, identity, memoryLine(outcome), { at });
    outcome = { ...outcome, memory: { file: entry.file, ...(entry.commit ? { commit: entry.commit } : {}) } };
  } catch (error) {
    // The event still records it; a home that cannot be written is for gt doctor, not a reason to lose the outcome.
    town.ports.progress(`warning: the heartbeat could not write ${identity.address}'s memory log: ${errorMessage(error)}`);
  }
  const routed = outcome.result === 'alert' ? await deliverAlert(town, config, identity, outcome) : undefined;
  await town.ledger.emit({
    kind: `heartbeat.${outcome.result}` as const,
    agent: identity.address,
    payload: {
      id: outcome.id,
      ...(outcome.reason ? { reason: outcome.reason } : {}),
      ...(outcome.text ? { text: outcome.text.slice(0, 4000) } : {}),
      ...(outcome.memory ? { memory: outcome.memory } : {}),
      ...(routed ? { routes: routed.routes, ...(routed.channels ? { channels: routed.channels } : {}) } : {}),
    },
  });
  const replied = outcome.result === 'ok' || outcome.result === 'alert';
  updateState(town, identity, (s) => ({ ...s, last: outcome, ...(replied ? { last_reply: outcome } : {}) }));
  return outcome;
}

/**
 * The deacon's part, once per pass: settle the turn in flight, then tick when
 * one is due (`every` since the last tick, or a `gt heartbeat run` asked for one).
 */
export async function heartbeatPass(town: Town, options: TickOptions = {}): Promise<HeartbeatOutcome[]> {
  const config = heartbeatConfig(town);
  if (!config) return [];
  const identity = heartbeatAgent(config);
  const outcomes: HeartbeatOutcome[] = [];
  const settled = await settleHeartbeat(town);
  if (settled) outcomes.push(settled);
  const state = readState(town, identity);
  if (!state.enabled || state.pending) return outcomes;
  const due = state.wake || !state.last_tick_at || Date.parse(town.ports.now()) - Date.parse(state.last_tick_at) >= parseDuration(config.every);
  if (due) outcomes.push(await heartbeatTick(town, options));
  return outcomes;
}

/** `gt heartbeat run --now`: one tick here, then its reply awaited (up to `timeoutMs`). */
export async function runHeartbeatNow(town: Town, options: TickOptions & { timeoutMs: number }): Promise<HeartbeatOutcome> {
  const sent = await heartbeatTick(town, options);
  if (sent.result !== 'sent') return sent;
  const identity = heartbeatAgent(requireHeartbeatConfig(town));
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    const settled = await settleHeartbeat(town);
    if (settled?.id === sent.id) return settled;
    // The daemon may have settled it meanwhile.
    const last = readState(town, identity).last;
    if (last?.id === sent.id && last.result !== 'sent') return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return sent;
}
