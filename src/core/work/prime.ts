/**
 * `gt prime`: what an agent reads when its session starts. Every byte is paid
 * for on every start, so it is short: who you are, the work on your hook, what
 * to run when done, unread mail and your last handoff note. (Gas Town's role
 * context is several kilobytes; research/gastown.md §3.5.)
 */
import { visible } from '../../shared/text.js';
import type { Issue } from '../beads/types.js';
import { moleculeProgress, type MoleculeProgress } from '../formulas/molecule.js';
import type { Identity } from '../agents/identity.js';
import { Mailbox, type MailMessage } from '../comms/mail.js';
import type { Town } from '../town/town.js';
import { hookedWork } from './hooked.js';
import { memoryHome, primeMemory } from '../memory/memory.js';
import { hasTeam, teamRoster, type TeamRoster } from '../comms/leader.js';

export interface PrimeInput {
  identity: Identity;
  hooked: Issue[];
  branch?: string;
  mail: MailMessage[];
  handoff?: MailMessage;
  /** What the shell runner will execute for the hooked bead. */
  steps?: RunStep[];
  /** The hooked bead is a molecule: where its steps stand. */
  molecule?: MoleculeProgress;
  /** The Mayor's and crew's memory: MEMORY.md, today's and yesterday's logs, within the prime budget. */
  memory?: { home: string; text: string };
  /** Who the agent works with, for a session that reconnects (resumed, handed off, restarted) and for leaders. */
  team?: TeamRoster;
}

const ROLE_LINES: Record<Identity['role'], string> = {
  polecat: 'You are a polecat: a worker with one bead on your hook and your own git worktree. If work is on your hook, you do it now; no one will ask twice.',
  crew: 'You are crew: a long-lived worker a person directs. Work on your hook first; otherwise wait for instructions.',
  mayor:
    'You are the Mayor: you plan work as beads (`bd create`, `bd dep add`), hand it out (`gt sling <bead> <rig>`), and watch it land (`gt agents`, `gt mail inbox`). You do not write code yourself.',
  witness: 'You are the witness of this rig.',
  refinery: 'You are the refinery of this rig.',
  deacon: 'You are the deacon of this town.',
  human: 'You are the human overseer.',
};

const MAX_DESCRIPTION = 600;

function clip(text: string, max: number): string {
  const trimmed = text.trim();
  return trimmed.length <= max ? trimmed : `${trimmed.slice(0, max).trimEnd()}… (bd show for the rest)`;
}

export function renderPrime(input: PrimeInput): string {
  const { identity, hooked, mail, handoff } = input;
  const out: string[] = [`# gt: you are ${identity.address}`, ROLE_LINES[identity.role]];
  if (hooked.length > 0) {
    for (const bead of hooked) {
      out.push(
        '',
        `## Hooked: ${bead.id} — ${bead.title}`,
        `type ${bead.issue_type}, priority P${bead.priority}${input.branch ? `, branch ${input.branch}` : ''}`,
      );
      if (bead.description?.trim()) out.push(clip(bead.description, MAX_DESCRIPTION));
    }
    if (input.steps?.length) out.push('', 'Steps the shell runner executes:', ...input.steps.map(renderStep));
    if (input.molecule) out.push('', ...renderMolecule(input.molecule));
    if (identity.role === 'polecat') {
      out.push(
        '',
        'Do it now: edit, test, commit in this worktree. Then run `gt done` (it pushes, files the merge request, frees you).',
        'Blocked: `gt done --status ESCALATED -m "why"`. Context full: `gt handoff -m "where I am"`.',
      );
    } else {
      out.push('', 'Work on it now; `bd close <id>` when it is finished.');
    }
  } else if (identity.role === 'polecat') {
    out.push('', 'Nothing is on your hook. Run `gt done --status DEFERRED` to free yourself.');
  } else {
    out.push('', 'Nothing is on your hook.');
  }
  if (input.memory) {
    out.push('', `## Memory (${input.memory.home}/, kept in git; add to today's log with \`gt memory add "…"\`, search with \`gt memory search\`)`);
    if (input.memory.text) out.push(input.memory.text);
  }
  if (input.team && input.team.members.length > 0) out.push('', ...renderTeam(input.team));
  if (handoff) out.push('', `## Handoff note (${handoff.created_at.slice(0, 16)}Z)`, clip(handoff.body || handoff.subject, MAX_DESCRIPTION));
  const unread = mail.filter((m) => !m.read && m.kind !== 'handoff');
  if (unread.length > 0) {
    out.push('', `## Mail: ${unread.length} unread`);
    for (const m of unread.slice(0, 5)) out.push(`- ${m.id} from ${m.from}: ${m.subject}`);
    if (unread.length > 5) out.push(`- … ${unread.length - 5} more`);
    out.push('Read with `gt mail read <id>`.');
  }
  // Titles, descriptions and mail come from other agents: their control characters are shown, not sent.
  return visible(`${out.join('\n')}\n`);
}

const TEAM_LINES = 12;

/** The roster, one short line per agent: every byte of a prime is paid for on every start. */
function renderTeam(team: TeamRoster): string[] {
  const out = [`## Team${team.leader ? ` (leader ${team.leader})` : ''}`];
  for (const m of team.members.slice(0, TEAM_LINES)) {
    const title = m.title && m.title.length > 48 ? `${m.title.slice(0, 47)}…` : m.title;
    out.push(`- ${m.agent} ${m.state}${m.bead ? ` ${m.bead}${title ? ` ${title}` : ''}` : ''}`);
  }
  if (team.members.length > TEAM_LINES) out.push(`- … ${team.members.length - TEAM_LINES} more (gt agents)`);
  return out;
}

/** A hooked molecule: the step to do now (in full), the ones after it (titles), and what a gate means. */
function renderMolecule(mol: MoleculeProgress): string[] {
  const formula = typeof mol.root.metadata?.formula === 'string' ? ` (formula ${mol.root.metadata.formula})` : '';
  const out = [`## Steps: ${mol.closed}/${mol.total} closed${formula}`];
  for (const step of mol.current) {
    out.push(`Now: ${step.id} — ${step.title}`);
    if (step.description?.trim()) out.push(clip(step.description, MAX_DESCRIPTION));
  }
  if (mol.next.length)
    out.push(
      `Then: ${mol.next
        .slice(0, 6)
        .map((s) => s.title)
        .join(' → ')}${mol.next.length > 6 ? ` → … ${mol.next.length - 6} more` : ''}`,
    );
  if (mol.current.length) out.push('Close each step when it is finished (`bd close <step>`); the next one becomes ready.');
  else if (mol.gates.length) {
    out.push(
      `Waiting on ${mol.gates.map((g) => `${g.id} (${typeof g.metadata?.await_type === 'string' ? g.metadata.await_type : 'gate'})`).join(', ')}.`,
      'Run `gt gate wait` now: your session ends, and a fresh one starts at the next step when the gate opens.',
    );
  } else if (mol.next.length === 0) out.push('Every step is closed.');
  return out;
}

/**
 * One thing the shell runner executes with `sh -c`. A fenced block is a
 * script: it runs whole (heredocs, `if`, `cd` and variables span lines) and
 * stops at the first failing command, as under `set -e` — what CI runners do
 * with a `run:` step. A `metadata.run` entry is one command, run as written.
 */
export interface RunStep {
  command: string;
  script: boolean;
}

/** The text `sh -c` is given for a step: a script gets `set -e` in front. */
export function stepText(step: RunStep): string {
  return step.script ? `set -e\n${step.command}` : step.command;
}

function renderStep(step: RunStep): string {
  const lines = step.command.split('\n');
  const more = step.script ? `a ${lines.length}-line script, stops at the first failing command` : `${lines.length} lines`;
  return `  $ ${lines[0] ?? ''}${lines.length > 1 ? ` … (${more})` : ''}`;
}

/**
 * What a bead asks the shell runner to execute: metadata `run` (a string or a
 * list: each entry its own step), else the first fenced block tagged run, sh,
 * bash or shell in the description (one script).
 */
export function runSteps(bead: Pick<Issue, 'metadata' | 'description'>): RunStep[] {
  const run = bead.metadata?.run;
  if (typeof run === 'string' && run.trim()) return [{ command: run, script: false }];
  if (Array.isArray(run)) return run.filter((s): s is string => typeof s === 'string' && s.trim() !== '').map((command) => ({ command, script: false }));
  const match = /```(?:run|sh|bash|shell)[^\n]*\n([\s\S]*?)```/.exec(bead.description ?? '');
  const body = match?.[1]?.replace(/^\s*\n/, '').trimEnd();
  return body ? [{ command: body, script: true }] : [];
}

/** What `gt prime` shows, as data: the rendered text plus the parts a machine reads. */
export interface Prime {
  input: PrimeInput;
  text: string;
  json: Record<string, unknown>;
}

export interface PrimeOptions {
  /** The runtime says this session continues an earlier one (Claude Code's SessionStart `source` resume or compact). */
  resumed?: boolean;
  /** Loads the town's config (a hot command opens the town without it); the roster needs it. Without it there is no roster. */
  loadConfig?: () => Promise<unknown>;
}

/**
 * Whether a prime carries the team roster: a session that picks up where
 * another left off — resumed, compacted, handed off, restarted by the witness —
 * and a leader (the Mayor, crew) starting, which directs the others. A fresh
 * polecat's first start has no need of it.
 */
async function reconnects(town: Town, identity: Identity, options: PrimeOptions, handoff: MailMessage | undefined): Promise<boolean> {
  if (options.resumed || handoff !== undefined || identity.role === 'mayor' || identity.role === 'crew') return true;
  const agent = await town.agent(identity);
  return (agent?.supervision.restarts.length ?? 0) > 0;
}

/**
 * Assembles an agent's prime (design §7.2) — the one place it is put
 * together, for `gt prime`, the session host and the shell runtime: the hooked
 * work with its branch, steps or molecule progress, unread mail, and the
 * handoff note, which is marked read once shown.
 */
export async function assemblePrime(town: Town, identity: Identity, options: PrimeOptions = {}): Promise<Prime> {
  const mailbox = new Mailbox(town.ledger, identity.address);
  const [hooked, inbox] = await Promise.all([hookedWork(town.ledger, identity.address), mailbox.inbox(identity.address)]);
  const handoff = inbox.find((m) => m.kind === 'handoff');
  const first = hooked[0];
  const molecule = first?.issue_type === 'molecule' ? await moleculeProgress(town.ledger, first.id) : undefined;
  // The roster is read only for a session that reconnects and has a team: it loads the config and probes every agent.
  const team =
    options.loadConfig && (await reconnects(town, identity, options, handoff)) && (await hasTeam(town, identity))
      ? await options.loadConfig().then(() => teamRoster(town, identity))
      : undefined;
  const input: PrimeInput = {
    identity,
    hooked,
    mail: inbox.filter((m) => m.kind !== 'handoff'),
    ...(handoff ? { handoff } : {}),
    ...(typeof first?.metadata?.branch === 'string' ? { branch: first.metadata.branch } : {}),
    ...(first ? { steps: runSteps(first) } : {}),
    ...(molecule ? { molecule } : {}),
    ...(identity.role === 'mayor' || identity.role === 'crew' ? { memory: { home: memoryHome(identity), text: primeMemory(town, identity) } } : {}),
    ...(team ? { team } : {}),
  };
  if (handoff && !handoff.read) await mailbox.markRead(handoff.id);
  const text = renderPrime(input);
  const json = {
    agent: identity.address,
    role: identity.role,
    hooked: hooked.map((b) => ({ id: b.id, title: b.title, description: b.description ?? '' })),
    branch: input.branch,
    mail: input.mail,
    handoff: handoff ?? null,
    ...(input.memory ? { memory: input.memory } : {}),
    ...(team ? { team } : {}),
    ...(molecule
      ? {
          molecule: {
            id: molecule.root.id,
            closed: molecule.closed,
            total: molecule.total,
            current: molecule.current.map((s) => ({ id: s.id, title: s.title })),
            next: molecule.next.map((s) => ({ id: s.id, title: s.title })),
            gates: molecule.gates.map((g) => g.id),
          },
        }
      : {}),
    text,
  };
  return { input, text, json };
}
