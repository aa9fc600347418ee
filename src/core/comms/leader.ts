/**
 * The leader's mailbox (issue 17 §3): an agent's dispatcher — the Mayor, the
 * crew member or the person who slung its work — hears when the agent's turn
 * ends and when it asks for a permission, in its ordinary inbox.
 *
 * Idle notes are coalesced per agent: a leader holds at most one unread idle
 * note from each agent, the newest (a note it has not read yet is replaced,
 * not added to). A swarm of 30 agents finishing 10 turns each leaves 30 lines,
 * one per agent, saying what each did last — not 300 — and a leader agent is
 * woken only by the first of them, the rest ride along with it. One note per
 * agent rather than one digest per leader: a note is never rewritten after it
 * may have been delivered (delivery reads a message, then takes it), so none is
 * lost, and acking one agent's note leaves the others' in place.
 */
import { parseIdentity, type Identity } from '../agents/identity.js';
import { readAgents, type AgentReading } from '../agents/supervision.js';
import type { Issue } from '../beads/types.js';
import type { Town } from '../town/town.js';
import { HOOK_STATUSES, hookedWork } from '../work/hooked.js';
import { wakeForMail } from './delivery.js';
import { MAIL_LABEL, Mailbox, PENDING_LABEL, READ_LABEL } from './mail.js';

/**
 * Who dispatched a bead: `dispatcher` (who slung it, or queued it when the
 * daemon started it later), else `hooked_by`. Undefined for the daemon, for
 * the agent itself, and for anything that is not an address.
 */
export function dispatcherOf(bead: Pick<Issue, 'metadata'>, agent?: string): string | undefined {
  const m = bead.metadata ?? {};
  const by = typeof m.dispatcher === 'string' ? m.dispatcher : typeof m.hooked_by === 'string' ? m.hooked_by : undefined;
  if (by === undefined) return undefined;
  try {
    const address = parseIdentity(by).address;
    return address === 'deacon' || address === agent || ['witness', 'refinery'].includes(parseIdentity(by).role) ? undefined : address;
  } catch {
    return undefined;
  }
}

/** The leader of an agent: the dispatcher of the work on its hook; undefined when it has none. */
export async function leaderOf(town: Town, identity: Identity): Promise<string | undefined> {
  const [bead] = await hookedWork(town.ledger, identity.address);
  return bead ? dispatcherOf(bead, identity.address) : undefined;
}

/** What a runtime said last in a turn (Claude Code's Stop `last_assistant_message`, Codex's notify, Gemini's AfterAgent). */
export function turnSummary(input: Record<string, unknown>): string | undefined {
  for (const key of ['last_assistant_message', 'last-assistant-message', 'prompt_response']) {
    const value = input[key];
    if (typeof value !== 'string') continue;
    const line = value
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '');
    if (line !== undefined) return line.length > 140 ? `${line.slice(0, 139)}…` : line;
  }
  return undefined;
}

export const IDLE_KIND = 'idle';

/**
 * An agent's turn ended with nothing pending: its leader gets (or has
 * replaced) one unread note from it, `idle: <summary>`, and a leader agent
 * that had no other idle note waiting is woken to read it. Agents without
 * work on their hook, or whose work nobody but themselves or the daemon
 * dispatched, tell nobody.
 */
export async function noteTurnEnd(town: Town, identity: Identity, input: Record<string, unknown>): Promise<string | undefined> {
  if (identity.role !== 'polecat' && identity.role !== 'crew' && identity.role !== 'mayor') return undefined;
  const [bead] = await hookedWork(town.ledger, identity.address);
  const leader = bead ? dispatcherOf(bead, identity.address) : undefined;
  if (!bead || !leader) return undefined;
  const waiting = await town.ledger.list({
    types: ['message'],
    assignee: leader,
    labelsAll: [MAIL_LABEL, PENDING_LABEL],
    excludeStatuses: ['closed'],
    metadataFields: { kind: IDLE_KIND },
    includeEphemeral: true,
    limit: 0,
  });
  const unread = waiting.filter((m) => !m.labels.includes(READ_LABEL));
  const mine = unread.filter((m) => m.sender === identity.address);
  const summary = turnSummary(input) ?? 'its turn ended';
  const mailbox = new Mailbox(town.ledger, identity.address);
  const sent = await mailbox.send(leader, `idle: ${identity.address} (${bead.id}): ${summary}`, '', { kind: IDLE_KIND, priority: 3, thread: bead.id });
  // Replaced, not added to: the older note is closed once the newer one exists (no moment with neither).
  if (mine.length > 0)
    await town.ledger.close(
      mine.map((m) => m.id),
      { reason: `superseded by ${sent.id}`, force: true },
    );
  const leaderIdentity = parseIdentity(leader);
  if (leaderIdentity.role !== 'human' && unread.length === mine.length)
    await wakeForMail(town, leaderIdentity, identity.address, sent.subject).catch(() => 'inbox');
  return sent.id;
}

/** Sends a permission ask to its leaders' inboxes and wakes a leader agent; returns the addresses told. */
export async function mailAsk(town: Town, from: string, to: string[], subject: string, body: string, request: string): Promise<string[]> {
  const mailbox = new Mailbox(town.ledger, from);
  const told: string[] = [];
  for (const address of new Set(to)) {
    await mailbox.send(address, subject, body, { kind: 'protocol', priority: 1, permission: request });
    const identity = parseIdentity(address);
    if (identity.role !== 'human') await wakeForMail(town, identity, from, subject).catch(() => 'inbox');
    told.push(address);
  }
  return told;
}

/** An answered ask is no longer news: its mail is closed in every inbox it reached. */
export async function closeAskMail(town: Town, request: string, how: string): Promise<void> {
  const mails = await town.ledger.list({
    types: ['message'],
    labelsAll: [MAIL_LABEL],
    excludeStatuses: ['closed'],
    metadataFields: { permission: request },
    includeEphemeral: true,
    limit: 0,
  });
  if (mails.length > 0)
    await town.ledger.close(
      mails.map((m) => m.id),
      { reason: how, force: true },
    );
}

/** One agent of a team, as a reconnecting agent reads it in its prime. */
export interface TeamMember {
  agent: string;
  state: string;
  bead?: string;
  title?: string;
}

/** Who an agent works with: its leader, the agents that leader dispatched, and those it dispatched itself. */
export interface TeamRoster {
  leader?: string;
  members: TeamMember[];
}

/**
 * Whether an agent has a team at all, from the ledger alone (no session is
 * probed, no config loaded): work hooked by its leader for another agent, a
 * leader that is an agent, or work it dispatched itself. A prime pays for the
 * roster only then.
 */
export async function hasTeam(town: Town, identity: Identity): Promise<boolean> {
  const dispatchedBy = async (leader: string) => {
    for (const key of ['dispatcher', 'hooked_by']) {
      const beads = await town.ledger.list({ statuses: HOOK_STATUSES, metadataFields: { [key]: leader }, includeEphemeral: true, limit: 0 });
      if (beads.some((b) => b.assignee !== identity.address && dispatcherOf(b, b.assignee) === leader)) return true;
    }
    return false;
  };
  const leader = await leaderOf(town, identity);
  if (leader !== undefined && (leader !== 'human' || (await dispatchedBy(leader)))) return true;
  return dispatchedBy(identity.address);
}

/**
 * The roster of an agent's team, read through the one state machine (so the
 * states are the ones `gt agents` shows): the agents whose work the same
 * leader dispatched, and the agents whose work this one dispatched. Empty when
 * the agent has neither a leader nor a team of its own.
 */
export async function teamRoster(town: Town, identity: Identity): Promise<TeamRoster> {
  const readings = await readAgents(town);
  const leaderOfReading = (r: AgentReading) => (r.hooked[0] ? dispatcherOf(r.hooked[0], r.agent.address) : undefined);
  const me = readings.find((r) => r.agent.address === identity.address);
  const leader = me ? leaderOfReading(me) : await leaderOf(town, identity);
  const members = readings
    .filter((r) => r.agent.address !== identity.address)
    .filter((r) => {
      const theirs = leaderOfReading(r);
      return theirs !== undefined && (theirs === identity.address || (leader !== undefined && theirs === leader) || r.agent.address === leader);
    })
    .map((r) => ({
      agent: r.agent.address,
      state: r.state,
      ...(r.hooked[0] ? { bead: r.hooked[0].id, title: r.hooked[0].title } : {}),
    }));
  // The leader itself, when it is an agent of this town, with its state.
  const leaderReading = leader !== undefined ? readings.find((r) => r.agent.address === leader) : undefined;
  if (leaderReading && !members.some((m) => m.agent === leader))
    members.unshift({
      agent: leaderReading.agent.address,
      state: leaderReading.state,
      ...(leaderReading.hooked[0] ? { bead: leaderReading.hooked[0].id, title: leaderReading.hooked[0].title } : {}),
    });
  return { ...(leader !== undefined ? { leader } : {}), members };
}
