/**
 * One line per town event for people: a symbol, a tone (what colour it gets)
 * and a sentence. The feed and the dashboard show events the same way.
 * Symbols are one terminal cell wide (no emoji), so columns line up over SSH.
 */
import { redactSecrets } from '../../shared/secrets.js';
import type { TownEvent } from '../events/town-events.js';

export type Tone = 'good' | 'bad' | 'warn' | 'info' | 'dim';

export interface EventLine {
  symbol: string;
  tone: Tone;
  text: string;
}

const SYMBOLS: Record<string, [string, Tone]> = {
  'bead.slung': ['→', 'info'],
  'bead.unslung': ['←', 'dim'],
  'session.started': ['▶', 'info'],
  'session.ended': ['■', 'dim'],
  'session.died': ['✗', 'bad'],
  'agent.state': ['·', 'dim'],
  'agent.woken': ['↺', 'warn'],
  'agent.restarted': ['↻', 'warn'],
  'agent.stalled': ['⚠', 'bad'],
  'agent.resumed': ['↻', 'info'],
  'mail.sent': ['✉', 'info'],
  'mail.delivered': ['✉', 'dim'],
  'nudge.sent': ['⚡', 'info'],
  'nudge.confirmed': ['⚡', 'dim'],
  'work.done': ['✓', 'good'],
  'mr.queued': ['⇢', 'info'],
  'mr.merged': ['✓', 'good'],
  'mr.rejected': ['✗', 'bad'],
  'convoy.landed': ['◆', 'good'],
  'gate.opened': ['⊙', 'good'],
  'gate.escalated': ['⚠', 'bad'],
  'permission.asked': ['?', 'warn'],
  'permission.decided': ['✓', 'info'],
  'escalation.raised': ['!', 'bad'],
  'budget.stopped': ['$', 'bad'],
};

const str = (value: unknown) => (typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value));

export function describeEvent(event: TownEvent): EventLine {
  const [symbol, tone] = SYMBOLS[event.kind] ?? ['•', 'info'];
  const p = event.payload;
  const who = event.agent ?? event.actor;
  const bead = event.bead ?? '';
  let text: string;
  switch (event.kind) {
    case 'bead.slung':
      text = `${bead} → ${who}${p.title ? `: ${str(p.title)}` : ''}`;
      break;
    case 'bead.unslung':
      text = `${bead} taken off ${who}`;
      break;
    case 'session.started':
      text = `${who} started (${str(p.runtime)}, ${str(p.backend)})`;
      break;
    case 'session.ended':
      text = `${who} ended${p.reason ? ` (${str(p.reason)})` : ''}`;
      break;
    case 'session.died':
      text = `${who} died${bead ? ` with ${bead} on its hook` : ''}`;
      break;
    case 'agent.state':
      text = `${who}: ${str(p.from) || '?'} → ${str(p.state)}`;
      break;
    case 'agent.stalled':
      text = `${who} stalled on ${bead || 'its work'}`;
      break;
    case 'mail.sent':
      text = `${str(p.from) || event.actor} → ${str(p.to) || who}: ${str(p.subject)}`;
      break;
    case 'mail.delivered':
      text = `${who} got mail from ${str(p.from)}: ${str(p.subject)}`;
      break;
    case 'nudge.sent':
    case 'nudge.confirmed':
      text = `${event.actor} nudged ${who}${event.kind === 'nudge.confirmed' ? ' (it reacted)' : ''}`;
      break;
    case 'work.done':
      text = `${who} finished ${bead}${p.status ? ` (${str(p.status)})` : ''}`;
      break;
    case 'mr.queued':
      text = `${bead} queued to merge (${str(p.branch)})`;
      break;
    case 'mr.merged':
      text = `${bead} merged${p.commit ? ` as ${str(p.commit).slice(0, 10)}` : ''}`;
      break;
    case 'mr.rejected':
      text = `${bead} rejected: ${str(p.reason)}`;
      break;
    case 'convoy.landed':
      text = `convoy ${str(p.name) || bead} landed (${str(p.total)} beads)`;
      break;
    case 'gate.opened':
    case 'gate.escalated':
      text = `gate ${bead} ${event.kind === 'gate.opened' ? 'opened' : 'escalated'}${p.reason ? `: ${str(p.reason)}` : ''}`;
      break;
    case 'permission.asked':
      text = `${who} asks: ${str(p.tool)} ${str(p.summary)}`;
      break;
    case 'permission.decided':
      text = `${bead}: ${str(p.decision)} by ${str(p.decided_by) || event.actor}`;
      break;
    case 'team.formed':
      text = `${who} leads a Claude Code team${p.team ? ` (${str(p.team)})` : ''}${p.teammate ? `: ${str(p.teammate)} and others` : ''}`;
      break;
    case 'escalation.raised':
      text = `${str(p.severity) || 'escalation'}: ${bead ? `${bead} ` : ''}${str(p.reason)}`;
      break;
    default:
      text = [who, bead, ...Object.entries(p).map(([k, v]) => `${k}=${str(v)}`)].filter(Boolean).join(' ');
  }
  return { symbol, tone, text: redactSecrets(text) };
}
