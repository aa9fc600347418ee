/**
 * What the heartbeat keeps between ticks, per agent, in `.gt/heartbeat/`:
 * `<session>.json` (switched off?, last tick, the turn in flight, the last
 * outcome), `<session>.events.jsonl` (queued system events) and
 * `deliver/<id>.md` (a message waiting for the prompt hook of its turn).
 * Small files, not ledger rows: the session host reads the delivery on the
 * hot path of a prompt, and a file is what costs least there.
 */
import { HEARTBEAT_DIR } from '../../shared/paths.js';
import { sessionName, type Identity } from '../agents/identity.js';
import type { Town } from '../town/town.js';

export type HeartbeatResult = 'sent' | 'skipped' | 'ok' | 'alert' | 'failed';

export interface HeartbeatOutcome {
  id: string;
  agent: string;
  at: string;
  result: HeartbeatResult;
  /** Why it was skipped or failed: quiet-hours, empty-heartbeat-file, busy, disabled, no-reply, session-ended, … */
  reason?: string;
  /** The alert, or what came with an ack. */
  text?: string;
  /** The memory log line that records it, and its commit. */
  memory?: { file: string; commit?: string };
}

export interface PendingTurn {
  id: string;
  sent_at: string;
  /** How it reached the agent: written to its stdin, typed at its prompt, or as the first prompt of a new session. */
  delivery: 'stdin' | 'typed' | 'started';
  backend: 'tmux' | 'headless';
  run?: string;
  /** Headless: the size of the run's agent.log when it was sent; the turn's `result` line comes after it. */
  log_offset?: number;
}

export interface HeartbeatState {
  /** `gt heartbeat disable` switches it off without editing town.toml. */
  enabled: boolean;
  last_tick_at?: string;
  /** `gt heartbeat run`: the daemon runs a tick at its next pass, whatever the interval. */
  wake?: boolean;
  pending?: PendingTurn;
  last?: HeartbeatOutcome;
  /** The last ack or alert (what `gt heartbeat last` shows when skips came after it). */
  last_reply?: HeartbeatOutcome;
}

const statePath = (town: Town, identity: Identity) => town.path(HEARTBEAT_DIR, `${sessionName(identity)}.json`);
const eventsPath = (town: Town, identity: Identity) => town.path(HEARTBEAT_DIR, `${sessionName(identity)}.events.jsonl`);
export const deliveryPath = (root: string, id: string): string => `${root}/${HEARTBEAT_DIR}/deliver/${id}.md`;

export function readState(town: Town, identity: Identity): HeartbeatState {
  const text = town.ports.files.read(statePath(town, identity));
  if (text === undefined) return { enabled: true };
  try {
    return { enabled: true, ...(JSON.parse(text) as Partial<HeartbeatState>) };
  } catch {
    // A state file cut short by a crash: start over rather than stop the heartbeat.
    return { enabled: true };
  }
}

export function writeState(town: Town, identity: Identity, state: HeartbeatState): void {
  town.ports.files.write(statePath(town, identity), `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

export function updateState(town: Town, identity: Identity, change: (state: HeartbeatState) => HeartbeatState): HeartbeatState {
  const next = change(readState(town, identity));
  writeState(town, identity, next);
  return next;
}

export interface QueuedEvent {
  at: string;
  text: string;
}

/** `gt heartbeat event "text"`: a `System:` line for the next heartbeat the agent is sent. */
export function queueEvent(town: Town, identity: Identity, text: string): QueuedEvent {
  const event = { at: town.ports.now(), text: text.replace(/\s+/g, ' ').trim() };
  town.ports.files.append(eventsPath(town, identity), `${JSON.stringify(event)}\n`);
  return event;
}

export function queuedEvents(town: Town, identity: Identity): QueuedEvent[] {
  const lines = (town.ports.files.read(eventsPath(town, identity)) ?? '').split('\n').filter(Boolean);
  const events: QueuedEvent[] = [];
  for (const line of lines) {
    try {
      events.push(JSON.parse(line) as QueuedEvent);
    } catch {
      // a line cut short by a crash
    }
  }
  return events;
}

/** Takes the queued events (they go into the message being sent, once). */
export function takeEvents(town: Town, identity: Identity): QueuedEvent[] {
  const events = queuedEvents(town, identity);
  if (events.length) town.ports.files.remove(eventsPath(town, identity));
  return events;
}

/** Puts events back when the message that took them could not be delivered. */
export function requeueEvents(town: Town, identity: Identity, events: QueuedEvent[]): void {
  if (events.length) town.ports.files.append(eventsPath(town, identity), events.map((e) => `${JSON.stringify(e)}\n`).join(''));
}

/**
 * At a prompt hook: when the submitted prompt is a heartbeat's wake line, the
 * heartbeat's whole message (taken once) as context for that turn; else ''.
 * Costs one substring test on every other prompt.
 */
export function takeHeartbeatDelivery(town: Town, prompt: unknown): string {
  if (typeof prompt !== 'string' || !prompt.includes('[gt heartbeat hb-')) return '';
  const id = /\[gt heartbeat (hb-[a-z0-9-]+)\]/.exec(prompt)?.[1];
  if (!id) return '';
  const path = deliveryPath(town.root, id);
  const text = town.ports.files.read(path);
  if (text === undefined) return '';
  town.ports.files.remove(path);
  return text;
}
