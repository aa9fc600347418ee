/**
 * The town at one instant, as the feed and the dashboard show it (issue 16):
 * agents with their state, hook and last activity, convoys with progress, the
 * merge queue of each rig, what waits on a person (permission asks, gates,
 * escalations, mail), costs today, and the problems a person should look at
 * first. One read of each kind of bead for the whole town, so a frame costs
 * the same with 5 agents or 50.
 */
import { redactSecrets } from '../../shared/secrets.js';
import { plainText } from '../../shared/terminal.js';
import { runDir } from '../../shared/paths.js';
import type { Issue } from '../beads/types.js';
import { readAgents } from '../agents/supervision.js';
import { listEscalations } from '../comms/escalations.js';
import { messageFrom, type MailMessage } from '../comms/mail.js';
import { costReport } from '../governance/costs.js';
import { permissionRequests, type PermissionRequestView } from '../governance/permissions.js';
import { mergeQueue } from '../merge/refinery.js';
import type { DaemonStatus } from '../town/ports.js';
import type { AgentRecord, Town } from '../town/town.js';
import { listConvoys, type ConvoyView } from '../work/convoys.js';
import { listGates, type GateView } from '../work/gates.js';

export interface AgentView {
  address: string;
  role: string;
  rig?: string;
  /** A town across hosts: the machine its session runs on. */
  host?: string;
  runtime?: string;
  backend?: string;
  state: string;
  /** Why it is in that state, as the state machine puts it. */
  reason: string;
  alive: boolean;
  hooked: Array<{ id: string; title: string }>;
  /** The last thing it did (its last signal), and when. */
  last_signal?: string;
  last_activity?: string;
  usd_today: number;
  permission_request?: string;
  last_error?: string;
}

export interface MergeRequestView {
  id: string;
  rig: string;
  bead: string;
  title: string;
  branch: string;
  worker: string;
  status: 'queued' | 'merged' | 'rejected';
  at: string;
  reason?: string;
  /** The failing gate's output (already redacted when it was recorded). */
  output?: string;
}

export interface EscalationView {
  id: string;
  title: string;
  severity: string;
  reason: string;
  at: string;
}

export interface Problem {
  agent: string;
  /** zombie, gupp-violation, stalled, waiting-permission, waiting-gate, escalated. */
  kind: string;
  /** Lower is more urgent. */
  urgency: number;
  since?: string;
  detail: string;
}

export interface TownSnapshot {
  town: string;
  at: string;
  daemon: DaemonStatus;
  mayor?: AgentView;
  agents: AgentView[];
  convoys: ConvoyView[];
  merge_queue: MergeRequestView[];
  permissions: PermissionRequestView[];
  gates: GateView[];
  escalations: EscalationView[];
  mail: MailMessage[];
  costs_today: { usd: number; tokens: number };
  problems: Problem[];
}

/** How urgent each problem kind is (Gas Town's problems view orders zombie, GUPP violation, stalled first). */
const URGENCY: Record<string, number> = {
  'host-lost': 0,
  zombie: 0,
  dead: 0,
  'gupp-violation': 1,
  stalled: 2,
  escalated: 3,
  'waiting-permission': 4,
  'waiting-gate': 5,
};

const DAY_MS = 24 * 3600_000;
const meta = (issue: Issue, key: string) => (typeof issue.metadata?.[key] === 'string' ? issue.metadata[key] : '');

export async function townSnapshot(town: Town, daemon: DaemonStatus, now = Date.now()): Promise<TownSnapshot> {
  const { ledger } = town;
  const today = new Date(now).toISOString().slice(0, 10);
  // Agents are read through the one state machine (core/agents/agent-state.ts), as gt agents and the witness read them.
  const [readings, convoys, permissions, gates, mailIssues, escalated, costs] = await Promise.all([
    readAgents(town),
    listConvoys(town, { all: true }),
    permissionRequests(town),
    listGates(town),
    ledger.list({ types: ['message'], assignee: 'human', excludeStatuses: ['closed'], includeEphemeral: true, limit: 50, sort: 'created' }),
    listEscalations(town, { states: ['open'] }),
    costReport(town, 'agent', { since: today }),
  ]);
  const usdBy = new Map(costs.rows.map((r) => [r.key, r.usd]));

  const agents: AgentView[] = readings.map((r) => {
    const a = r.agent;
    const view: AgentView = {
      address: a.address,
      role: a.role,
      state: r.state,
      reason: r.reason,
      alive: r.probe.session && r.probe.process,
      hooked: r.hooked.map((b) => ({ id: b.id, title: b.title })),
      usd_today: usdBy.get(a.address) ?? 0,
    };
    if (a.rig) view.rig = a.rig;
    if (a.host) view.host = a.host;
    if (a.runtime) view.runtime = a.runtime;
    if (a.backend) view.backend = a.backend;
    if (a.last_signal) view.last_signal = a.last_signal;
    const last = a.last_signal_at ?? a.started_at;
    if (last) view.last_activity = last;
    if (a.permission_request) view.permission_request = a.permission_request;
    if (a.last_error) view.last_error = redactSecrets(a.last_error);
    return view;
  });

  // The merge queue: queued requests of every rig, and those decided in the last 24 hours.
  const since = new Date(now - DAY_MS).toISOString();
  const queued = (await Promise.all(town.rigNames().map((rig) => mergeQueue(town, rig)))).flat();
  const decided = (await ledger.list({ types: ['merge-request'], statuses: ['closed'], includeEphemeral: true, limit: 200, sort: 'updated' })).filter(
    (m) => (m.closed_at ?? '') >= since,
  );
  const mrView = (m: Issue, status: MergeRequestView['status']): MergeRequestView => {
    const view: MergeRequestView = {
      id: m.id,
      rig: meta(m, 'rig'),
      bead: meta(m, 'source_issue'),
      title: m.title,
      branch: meta(m, 'branch'),
      worker: meta(m, 'worker'),
      status,
      at: status === 'queued' ? m.created_at : (m.closed_at ?? m.updated_at),
    };
    if (status === 'rejected') {
      view.reason = meta(m, 'rejected');
      const output = meta(m, 'rejected_output');
      if (output) view.output = redactSecrets(output);
    }
    return view;
  };
  const merge_queue = [
    ...queued.map((m) => mrView(m, 'queued')),
    ...decided.map((m) => mrView(m, m.metadata?.merged_commit ? 'merged' : 'rejected')).sort((a, b) => b.at.localeCompare(a.at)),
  ];

  const escalations: EscalationView[] = escalated.map((e) => ({
    id: e.id,
    title: redactSecrets(e.title),
    severity: e.severity,
    reason: redactSecrets(e.message.split('\n')[0] ?? ''),
    at: e.created_at,
  }));

  const problems: Problem[] = [];
  for (const agent of agents) {
    const kind = agent.state in URGENCY ? agent.state : undefined;
    if (kind) {
      const bead = agent.hooked[0]?.id;
      const detail =
        kind === 'waiting-permission' && agent.permission_request
          ? `${agent.permission_request}: ${agent.reason}`
          : `${bead ? `${bead}: ` : ''}${agent.reason}`;
      problems.push({ agent: agent.address, kind, urgency: URGENCY[kind] ?? 9, ...(agent.last_activity ? { since: agent.last_activity } : {}), detail });
    }
  }
  for (const e of escalations) problems.push({ agent: e.id, kind: 'escalated', urgency: URGENCY.escalated ?? 3, since: e.at, detail: e.title });
  // Most urgent first; among equals, the one waiting longest.
  problems.sort((a, b) => a.urgency - b.urgency || (a.since ?? '').localeCompare(b.since ?? ''));

  const mayor = agents.find((a) => a.address === 'mayor');
  return {
    town: town.config.name,
    at: new Date(now).toISOString(),
    daemon,
    ...(mayor ? { mayor } : {}),
    agents,
    convoys: convoys.filter((c) => c.status === 'open' || (c.landed_at ?? '') >= since),
    merge_queue,
    permissions,
    gates,
    escalations,
    mail: mailIssues.map(messageFrom).map((m) => ({ ...m, body: redactSecrets(m.body), subject: redactSecrets(m.subject) })),
    costs_today: {
      usd: costs.total.usd,
      tokens: costs.total.input_tokens + costs.total.output_tokens + costs.total.cache_read_tokens + costs.total.cache_write_tokens,
    },
    problems,
  };
}

/** The last `count` lines of an agent's session: its screen (tmux keeps a dead pane), else its run's log. Secrets redacted. */
export async function peekAgent(town: Town, agent: AgentRecord, count: number): Promise<string> {
  if (!agent.backend) return '';
  let text: string;
  try {
    text = plainText(await town.ports.backend(agent.backend).capture(agent.session, count));
  } catch {
    // The session is gone: the run's log still has its output, as the terminal was sent it (escape codes and all).
    const log = agent.run ? town.ports.files.read(town.path(runDir(agent.run), 'agent.log')) : undefined;
    text = log
      ? plainText(log)
          .split('\n')
          .slice(-count - 1)
          .join('\n')
      : '';
  }
  return redactSecrets(text);
}
