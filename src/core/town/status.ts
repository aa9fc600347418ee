/** `gt status`: the town at a glance — daemon, agents, rigs with their merge queues, beads. */
import { listEscalations, type Escalation } from '../comms/escalations.js';
import { mergeQueue } from '../merge/refinery.js';
import { readAgents } from '../agents/supervision.js';
import { daemonHealth, type DaemonHealth } from './daemon-health.js';
import type { DaemonStatus } from './ports.js';
import type { Town } from './town.js';

export interface TownStatus {
  town: string;
  root: string;
  daemon: DaemonStatus & { health: DaemonHealth };
  rigs: Array<{ name: string; prefix: string; merge_queue: number }>;
  /** `by_state`: how many agents are in each state of the state machine (agent-state.ts). */
  agents: { total: number; running: number; by_state: Record<string, number> };
  beads: { open: number; in_progress: number; hooked: number; ready: number; closed: number };
  /** Open and acked escalations, most severe first: what a person must look at. */
  escalations: Escalation[];
}

export async function townStatus(town: Town, daemon: DaemonStatus): Promise<TownStatus> {
  const agents = await readAgents(town);
  const running = agents.filter((a) => a.probe.session && a.probe.process).length;
  const byState: Record<string, number> = {};
  for (const agent of agents) byState[agent.state] = (byState[agent.state] ?? 0) + 1;
  const rigs = await Promise.all(
    town.rigNames().map(async (name) => ({ name, prefix: town.rig(name).prefix, merge_queue: (await mergeQueue(town, name)).length })),
  );
  const stats = await town.ledger.stats();
  return {
    town: town.config.name,
    root: town.root,
    daemon: { ...daemon, health: daemonHealth(town, daemon) },
    rigs,
    agents: { total: agents.length, running, by_state: byState },
    beads: {
      open: stats.open_issues,
      in_progress: stats.in_progress_issues,
      hooked: stats.hooked_issues,
      ready: stats.ready_issues,
      closed: stats.closed_issues,
    },
    escalations: await listEscalations(town),
  };
}
