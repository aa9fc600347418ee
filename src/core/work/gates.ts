/**
 * Gates (research/beads.md §5): a gate bead blocks a step until its condition
 * holds — `human` (someone approves), `timer` (its timeout elapsed), `bead`
 * (another bead closed), `command` (a command exits 0, re-checked on every
 * check). A gate past its timeout that is not a timer escalates once.
 *
 * A command gate runs code, so the daemon runs it only when someone it may come
 * from vouched for that exact command (design §9): the person who poured the
 * formula, or a formula a person installed (the town's formulas/ or gt's
 * built-ins) whose vars cannot add shell syntax. It runs in its rig's
 * worktree with a scrubbed environment (no keys, no tokens). Any other command
 * gate waits for a person to open it with `gt gate approve`.
 */
import { parseDuration } from '../../shared/duration.js';
import { conflictError, notFoundError } from '../../shared/errors.js';
import { scrubbedEnv, shellQuote } from '../../shared/shell.js';
import type { Issue } from '../beads/types.js';
import { raiseEscalation } from '../comms/escalations.js';
import type { CookedFormula } from '../formulas/formula.js';
import type { Town } from '../town/town.js';
import { rigOf } from './stranded.js';

export interface GateView {
  id: string;
  title: string;
  type: string;
  status: 'waiting' | 'open' | 'resolved';
  await_id?: string;
  command?: string;
  timeout?: string;
  created_at: string;
  escalated: boolean;
}

export interface GateOutcome {
  gate: string;
  result: 'resolved' | 'waiting' | 'escalated';
  detail: string;
}

function viewOf(issue: Issue): GateView {
  const m = issue.metadata ?? {};
  const s = (k: string) => (typeof m[k] === 'string' ? m[k] : undefined);
  const view: GateView = {
    id: issue.id,
    title: issue.title,
    type: s('await_type') ?? 'human',
    status: issue.status === 'closed' ? 'resolved' : 'waiting',
    created_at: issue.created_at,
    escalated: m.escalated === true,
  };
  for (const key of ['await_id', 'command', 'timeout'] as const) {
    const value = s(key);
    if (value !== undefined) view[key] = value;
  }
  return view;
}

export async function listGates(town: Town, options: { all?: boolean } = {}): Promise<GateView[]> {
  const issues = await town.ledger.list({
    types: ['gate'],
    limit: 0,
    sort: 'created',
    includeEphemeral: true,
    ...(options.all ? {} : { excludeStatuses: ['closed'] }),
  });
  return issues.map(viewOf);
}

async function gateIssue(town: Town, idText: string): Promise<Issue> {
  const id = await town.ledger.resolveAs(idText, notFoundError(`no gate ${JSON.stringify(idText)}`, 'see gt gate list'));
  const issue = await town.ledger.find(id);
  if (!issue || issue.issue_type !== 'gate') throw notFoundError(`${idText} is not a gate`, 'see gt gate list');
  return issue;
}

/** A person opens a gate (any type). */
export async function approveGate(town: Town, idText: string, by: string, reason?: string): Promise<GateView> {
  const issue = await gateIssue(town, idText);
  if (issue.status === 'closed') throw conflictError(`gate ${issue.id} is already resolved`);
  await town.ledger.close([issue.id], {
    reason: `approved by ${by}${reason ? `: ${reason}` : ''}`,
    townEvent: (id) => ({
      kind: 'gate.opened',
      actor: by,
      bead: id,
      ...rigEvent(town, id),
      payload: { type: typeof issue.metadata?.await_type === 'string' ? issue.metadata.await_type : 'human', reason: `approved by ${by}` },
    }),
  });
  return viewOf((await town.ledger.find(issue.id)) as Issue);
}

/**
 * Evaluates every waiting gate once: resolved ones are closed (which unblocks
 * their step), the others stay; a non-timer gate past its timeout escalates
 * to the Mayor once. `run` executes the gh CLI for GitHub gates; command gates
 * run here, vouched for, in their rig's worktree with a scrubbed environment.
 */
export type GateRunner = (command: string) => Promise<{ code: number; stdout: string }>;

/** A GitHub gate through the gh CLI: resolved, failed (escalate) or still waiting. */
async function githubGate(gate: GateView, run: GateRunner): Promise<{ resolved?: string; failed?: string; waiting?: string }> {
  const id = gate.await_id ?? '';
  const command = gate.type === 'gh:run' ? `gh run view ${shellQuote(id)} --json status,conclusion` : `gh pr view ${shellQuote(id)} --json state`;
  const result = await run(command);
  if (result.code === 127) return { waiting: 'gh is not installed' };
  if (result.code !== 0) return { waiting: `\`${command}\` exited ${result.code}` };
  let answer: { status?: string; conclusion?: string; state?: string };
  try {
    answer = JSON.parse(result.stdout) as typeof answer;
  } catch {
    return { waiting: `gh answered something that is not JSON` };
  }
  if (gate.type === 'gh:run') {
    if (answer.status !== 'completed') return { waiting: `run ${id} is ${answer.status ?? 'unknown'}` };
    return answer.conclusion === 'success' ? { resolved: `run ${id} succeeded` } : { failed: `run ${id} ended ${answer.conclusion ?? 'without a conclusion'}` };
  }
  if (answer.state === 'MERGED') return { resolved: `PR ${id} merged` };
  return answer.state === 'CLOSED' ? { failed: `PR ${id} was closed without merging` } : { waiting: `PR ${id} is ${answer.state ?? 'unknown'}` };
}

/** Who vouched for a command gate's command, when the approval is for the command it has now. */
function commandApproval(issue: Issue): string | undefined {
  const m = issue.metadata ?? {};
  return typeof m.command_approved_by === 'string' && m.command_approved === m.command ? m.command_approved_by : undefined;
}

/**
 * Who vouches for the command gates of a formula being poured: a person
 * pouring it, else a formula a person installed (town `formulas/` or a
 * built-in) when every var is a plain word, so none can add shell syntax to a
 * command. Undefined: its command gates wait for a person.
 */
export function commandGateVoucher(cooked: CookedFormula, caller: { person: boolean; actor: string }, townRoot: string | undefined): string | undefined {
  if (caller.person) return caller.actor;
  // Every file it is made of: a parent from anywhere else (an agent's ~/.gt/formulas, a rig's repository) vouches for nothing.
  const installed = cooked.sources.every((source) => source.startsWith('builtin:') || (townRoot !== undefined && source.startsWith(`${townRoot}/formulas/`)));
  const plain = Object.values(cooked.vars).every((value) => /^[\w.,:@%+=/-]*$/.test(value));
  return installed && plain ? `formula ${cooked.source}` : undefined;
}

export async function checkGates(town: Town, run: GateRunner): Promise<GateOutcome[]> {
  const outcomes: GateOutcome[] = [];
  const now = Date.parse(town.ports.now());
  for (const issue of await town.ledger.list({ types: ['gate'], excludeStatuses: ['closed'], limit: 0, sort: 'created', includeEphemeral: true })) {
    const gate = viewOf(issue);
    const timeoutMs = gate.timeout ? parseDuration(gate.timeout) : undefined;
    const overdue = timeoutMs !== undefined && now - Date.parse(gate.created_at) >= timeoutMs;
    let resolved: string | undefined;
    let failed: string | undefined;
    let waiting: string | undefined;
    if (gate.type === 'gh:run' || gate.type === 'gh:pr') {
      const github = await githubGate(gate, run);
      resolved = github.resolved;
      failed = github.failed;
      waiting = github.waiting;
    } else if (gate.type === 'timer') {
      if (timeoutMs === undefined) {
        outcomes.push({ gate: gate.id, result: 'waiting', detail: 'a timer gate needs a timeout' });
        continue;
      }
      if (overdue) resolved = `timer of ${gate.timeout} elapsed`;
    } else if (gate.type === 'bead' && gate.await_id) {
      const other = await town.ledger.find(gate.await_id);
      if (other?.status === 'closed') resolved = `${gate.await_id} closed`;
    } else if (gate.type === 'command' && gate.command) {
      const vouched = commandApproval(issue);
      const rig = rigOf(town, gate.id);
      if (!vouched) waiting = 'not run: no person and no installed formula vouches for this command (open it with gt gate approve)';
      else if (!rig) waiting = "not run: a command gate runs in its rig's worktree, and this gate belongs to no rig";
      else {
        const result = await town.ports.shell.run(gate.command, { cwd: town.path(rig, 'refinery'), env: scrubbedEnv(town.ports.baseEnv), timeoutMs: 60_000 });
        if (result.code === 0) resolved = `\`${gate.command}\` exited 0 (vouched for by ${vouched})`;
      }
    }
    if (resolved) {
      await town.ledger.close([gate.id], {
        reason: resolved,
        townEvent: (id) => ({ kind: 'gate.opened', bead: id, ...rigEvent(town, id), payload: { type: gate.type, reason: resolved } }),
      });
      outcomes.push({ gate: gate.id, result: 'resolved', detail: resolved });
    } else if ((failed || (overdue && gate.type !== 'timer')) && !gate.escalated) {
      const why = failed ?? `waited past ${gate.timeout}`;
      await town.ledger.update([gate.id], {
        setMetadata: { escalated: true },
        townEvent: { kind: 'gate.escalated', bead: gate.id, ...rigEvent(town, gate.id), payload: { type: gate.type, reason: why } },
      });
      await raiseEscalation(town, {
        message: `The ${gate.type} gate ${gate.id}: ${why}.\nOpen it with gt gate approve ${gate.id}, or look at what it waits for.`,
        headline: `GATE ${failed ? 'FAILED' : 'TIMEOUT'} ${gate.id}: ${gate.title}`,
        severity: 'high',
        source: 'gate',
        reason: failed ? 'gate-failed' : 'gate-timeout',
        subject: gate.id,
        raisedBy: 'deacon',
        // The gate itself holds its step back; the escalation only tells of it.
        blocks: false,
        ...rigEvent(town, gate.id),
      });
      outcomes.push({ gate: gate.id, result: 'escalated', detail: why });
    } else {
      outcomes.push({ gate: gate.id, result: 'waiting', detail: waiting ?? gate.type });
    }
  }
  return outcomes;
}

/** The rig of a gate, for its events (from its ID's prefix). */
function rigEvent(town: Town, id: string): { rig?: string } {
  const rig = rigOf(town, id);
  return rig ? { rig } : {};
}
