/**
 * What `gt feed` shows, as plain data: the agent tree's rows, the convoys'
 * rows, the event lines and the problems, filtered by search and rig/type.
 * No Ink here, so the rules are tested without a terminal.
 */
import type { TownEvent } from '../../core/events/town-events.js';
import { describeEvent, type Tone } from '../../core/watch/describe.js';
import type { AgentView, Problem, TownSnapshot } from '../../core/watch/snapshot.js';

export const PANES = ['agents', 'convoys', 'events'] as const;
export type Pane = (typeof PANES)[number];

export interface Row {
  /** The agent address, convoy id or event id the row stands for (headings have none). */
  key?: string;
  text: string;
  tone: Tone;
  heading?: boolean;
  agent?: AgentView;
}

export interface Filter {
  /** Free text: rows containing it (case-insensitive). */
  search: string;
  rig?: string;
  /** An event kind or noun (`mr`, `agent.state`). */
  type?: string;
}

export function ago(iso: string | undefined, now: number): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.round(s / 60)}m` : s < 86400 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86400)}d`;
}

export function stateTone(state: string): Tone {
  if (['dead', 'zombie', 'stalled', 'gupp-violation', 'host-lost'].includes(state)) return 'bad';
  if (state.startsWith('waiting')) return 'warn';
  if (state === 'working' || state === 'starting') return 'good';
  return 'dim';
}

const STATE_SYMBOL: Record<string, string> = {
  working: '●',
  starting: '◐',
  idle: '○',
  done: '✓',
  'waiting-permission': '?',
  'waiting-gate': '⏸',
  stalled: '⚠',
  'gupp-violation': '!',
  zombie: 'Z',
  dead: '✗',
};

const ROLE_ORDER = ['mayor', 'deacon', 'witness', 'refinery', 'crew', 'polecat'];
const matches = (text: string, search: string) => search === '' || text.toLowerCase().includes(search.toLowerCase());

/** Rigs → roles → agents, each agent with its state, hooked bead, last activity and spend today. */
export function agentRows(s: TownSnapshot, filter: Filter, now: number): Row[] {
  const rows: Row[] = [];
  const agents = s.agents.filter(
    (a) => (!filter.rig || a.rig === filter.rig) && matches(`${a.address} ${a.state} ${a.hooked.map((h) => h.id).join(' ')}`, filter.search),
  );
  const rigs = [...new Set(agents.map((a) => a.rig ?? ''))].sort();
  for (const rig of rigs) {
    rows.push({ text: rig || 'town', tone: 'info', heading: true });
    const inRig = agents
      .filter((a) => (a.rig ?? '') === rig)
      .sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role) || a.address.localeCompare(b.address));
    let role = '';
    for (const agent of inRig) {
      if (agent.role !== role && (agent.role === 'crew' || agent.role === 'polecat'))
        rows.push({ text: ` ${agent.role === 'crew' ? 'crew' : 'polecats'}`, tone: 'dim', heading: true });
      role = agent.role;
      const name = agent.address.split('/').at(-1) ?? agent.address;
      const bead = agent.hooked[0]?.id ?? '';
      const cost = agent.usd_today ? ` $${agent.usd_today.toFixed(2)}` : '';
      // A town across hosts: which machine runs it.
      const host = agent.host ? ` @${agent.host}` : '';
      rows.push({
        key: agent.address,
        text: `  ${STATE_SYMBOL[agent.state] ?? '•'} ${name.padEnd(10)} ${agent.state.padEnd(8)} ${ago(agent.last_activity, now).padStart(3)} ${bead}${cost}${host}`,
        tone: stateTone(agent.state),
        agent,
      });
    }
  }
  return rows;
}

/** A text progress bar, `width` cells wide. */
export function bar(done: number, total: number, width: number): string {
  const full = total ? Math.round((done / total) * width) : 0;
  return `${'█'.repeat(full)}${'░'.repeat(Math.max(0, width - full))}`;
}

export function convoyRows(s: TownSnapshot, filter: Filter, now: number): Row[] {
  return s.convoys
    .filter((c) => matches(`${c.id} ${c.name}`, filter.search))
    .map((c) => ({
      key: c.id,
      text: `${c.status === 'open' ? '▶' : '✓'} ${c.name.slice(0, 18).padEnd(18)} ${bar(c.closed, c.total, 8)} ${c.closed}/${c.total}${c.landed_at ? ` landed ${ago(c.landed_at, now)}` : ''}`,
      tone: c.status === 'open' ? ('info' as const) : ('good' as const),
    }));
}

export function eventMatches(event: TownEvent, filter: Filter): boolean {
  if (filter.rig && event.rig !== filter.rig) return false;
  if (filter.type && event.kind !== filter.type && !event.kind.startsWith(`${filter.type.replace(/\.\*$/, '')}.`)) return false;
  return true;
}

/** `[HH:MM:SS] SYMBOL text`: one event as the feed (and `gt feed --plain`) prints it. */
export function eventText(event: TownEvent): { text: string; tone: Tone } {
  const line = describeEvent(event);
  return { text: `[${event.at.slice(11, 19)}] ${line.symbol} ${line.text}`, tone: line.tone };
}

export function eventRows(events: TownEvent[], filter: Filter): Row[] {
  return events
    .filter((e) => eventMatches(e, filter))
    .map((e) => ({ key: String(e.id), ...eventText(e) }))
    .filter((r) => matches(r.text, filter.search))
    .reverse();
}

export function problemRows(problems: Problem[], now: number): Row[] {
  return problems.map((p) => ({
    key: p.agent,
    text: `${STATE_SYMBOL[p.kind] ?? '⚠'} ${p.kind.padEnd(18)} ${p.agent.padEnd(24)} ${ago(p.since, now).padStart(4)}  ${p.detail}`,
    tone: p.urgency <= 2 ? ('bad' as const) : ('warn' as const),
  }));
}

/** Keeps a selection inside a list and the list's window around it. */
export function scrollWindow(length: number, selected: number, height: number): { start: number; selected: number } {
  const sel = Math.max(0, Math.min(selected, length - 1));
  const start = Math.max(0, Math.min(sel - Math.floor(height / 2), length - height));
  return { start, selected: sel };
}
