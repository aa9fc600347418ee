/**
 * The swarm view (issue 17 §1): which agents one view shows, and how each
 * pane is titled and coloured. A view is kept per scope — a rig, a convoy, or
 * the whole town — and the daemon keeps it in step with the town: a polecat
 * that finishes leaves it, a new sling joins it. The panes are the agents' own
 * (tmux moves them; it never starts a second copy of an agent).
 */
import { usageError } from '../../shared/errors.js';
import type { AgentRecord, Town } from '../town/town.js';
import { convoyView } from '../work/convoys.js';
import { agentColour, type AgentColour } from '../agents/agent-colour.js';

export type SwarmScope = { kind: 'rig'; rig: string } | { kind: 'convoy'; convoy: string } | { kind: 'all' };

/** A scope as the view's window records it (`@gt_swarm`) and names it. */
export function scopeKey(scope: SwarmScope): string {
  return scope.kind === 'all' ? 'all' : scope.kind === 'rig' ? `rig:${scope.rig}` : `convoy:${scope.convoy}`;
}

export function parseScopeKey(key: string): SwarmScope | undefined {
  if (key === 'all') return { kind: 'all' };
  const [kind, value] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
  if (!value) return undefined;
  if (kind === 'rig') return { kind: 'rig', rig: value };
  if (kind === 'convoy') return { kind: 'convoy', convoy: value };
  return undefined;
}

/** The window name of a view: the rig, the convoy's ID, or "all". */
export function scopeWindowName(scope: SwarmScope): string {
  return scope.kind === 'all' ? 'all' : scope.kind === 'rig' ? scope.rig : scope.convoy;
}

/**
 * `gt swarm [rig | convoy | --all]`: a rig by name, else a convoy by ID; with
 * neither, the rig of the current directory, else the whole town.
 */
export async function resolveScope(town: Town, target: string | undefined, options: { all?: boolean; cwdRig?: string }): Promise<SwarmScope> {
  if (options.all) {
    if (target) throw usageError('give a rig or convoy, or --all, not both');
    return { kind: 'all' };
  }
  if (target === undefined) return options.cwdRig ? { kind: 'rig', rig: options.cwdRig } : { kind: 'all' };
  if (town.rigNames().includes(target)) return { kind: 'rig', rig: target };
  try {
    return { kind: 'convoy', convoy: (await convoyView(town, target)).id };
  } catch {
    throw usageError(`${JSON.stringify(target)} is neither a rig nor a convoy`, `rigs: ${town.rigNames().join(', ') || 'none'}; convoys: gt convoy list`);
  }
}

export interface SwarmMember {
  address: string;
  /** The session its pane was started for (the pane's `@gt_session`). */
  session: string;
  colour: AgentColour;
  title: string;
  bead?: string;
  state: string;
}

/** A pane's title: `name · bead · state` (a polecat's name, else its address). */
export function paneTitle(agent: Pick<AgentRecord, 'address' | 'name' | 'role' | 'state'>, bead: string | undefined, extra = ''): string {
  const name = agent.role === 'polecat' && agent.name ? agent.name : agent.address;
  return `${name} · ${bead ?? '-'} · ${agent.state}${extra}`;
}

function member(agent: AgentRecord, bead: string | undefined, taken: string[]): SwarmMember {
  return {
    address: agent.address,
    session: agent.session,
    colour: agentColour(agent.address, taken, agent.colour),
    title: paneTitle(agent, bead, agent.team_lead_at ? ' · team lead' : ''),
    ...(bead ? { bead } : {}),
    state: agent.state,
  };
}

/**
 * The agents a view shows, in address order, with their titles and colours:
 * every agent with a tmux session in the scope (the Mayor only as the leader),
 * and the Mayor itself when its session runs on tmux.
 */
export async function swarmMembers(town: Town, scope: SwarmScope): Promise<{ leader?: SwarmMember; members: SwarmMember[] }> {
  // Whether each has a pane now is tmux's to say: the view shows those that do.
  const agents = (await town.agents()).filter((a) => a.backend === 'tmux');
  // One query for every agent's bead (not one per agent: the daemon asks every pass).
  const work = await town.ledger.list({ statuses: ['hooked', 'in_progress'], limit: 0, sort: 'created' });
  const beadOf = new Map<string, string>();
  for (const bead of work) if (bead.assignee && !beadOf.has(bead.assignee) && bead.issue_type !== 'agent') beadOf.set(bead.assignee, bead.id);
  let inScope: (agent: AgentRecord) => boolean = () => true;
  if (scope.kind === 'rig') inScope = (a) => a.rig === scope.rig;
  if (scope.kind === 'convoy') {
    const tracked = new Set((await convoyView(town, scope.convoy)).beads.map((b) => b.id));
    inScope = (a) => tracked.has(beadOf.get(a.address) ?? '');
  }
  const taken = agents.flatMap((a) => (a.colour ? [a.colour] : []));
  const mayor = agents.find((a) => a.role === 'mayor');
  const members = agents
    .filter((a) => a.role !== 'mayor' && inScope(a))
    .sort((a, b) => a.address.localeCompare(b.address))
    .map((a) => member(a, beadOf.get(a.address), taken));
  return { ...(mayor ? { leader: member(mayor, beadOf.get(mayor.address), taken) } : {}), members };
}
