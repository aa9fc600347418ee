/**
 * The work loop (design §7): sling → prime → work → done, plus handoff, the
 * hook itself, and the never-lose-work rule for polecats.
 */
import { GtError, conflictError, notFoundError, usageError, validationError } from '../../shared/errors.js';
import { single } from '../beads/ledger.js';
import { NON_WORK_TYPES } from '../beads/rules.js';
import type { Issue, IssueDetails } from '../beads/types.js';
import { agentBeadId, parseIdentity, polecatBranch, polecatIdentity, sessionName, validateName, type Identity } from '../agents/identity.js';
import { Mailbox } from '../comms/mail.js';
import { closeEscalation, getEscalation, mayAnswerEscalation, raiseEscalation } from '../comms/escalations.js';
import { checkBudgets } from '../governance/costs.js';
import { createConvoy } from './convoys.js';
import { nextPolecatName } from '../agents/names.js';
import { endOwnSession, startSession, stopSession } from '../agents/sessions.js';
import type { BackendKind } from '../town/ports.js';
import type { ResolvedRuntime } from '../agents/runtimes.js';
import type { AgentRecord, Town } from '../town/town.js';
import { protectRepository } from '../town/push-guard.js';
import {
  branchExists,
  checkpoint,
  checkpointHeld,
  checkpointsPushed,
  currentBranch,
  describeHeld,
  describeUnsaved,
  dirtyFiles,
  headCommit,
  heldWork,
  ignoredFiles,
  unsavedWork,
  type HeldWork,
  type UnsavedWork,
} from '../town/worktree.js';

import { HOOK_STATUSES, hookedWork } from './hooked.js';
import { admit, type Admission } from '../scheduler/admission.js';
import { ensureNotBackedOff, RuntimeBackedOff } from '../scheduler/backoff.js';
import { QUEUE_KEYS, QUEUE_LABEL, enqueue, listQueue, placeIn, runtimeForTarget, type QueuePlace } from '../scheduler/queue.js';
import { polecatFitness, reclaimPolecat } from './polecats.js';
import { readAgents } from '../agents/supervision.js';
import { resumePoint, rigHost } from '../hosts/placement.js';

export interface SlingOptions {
  runtime?: string;
  backend?: string;
  force?: boolean;
  /** Hook only; do not start a session. */
  noStart?: boolean;
  /** Several beads get a convoy of their own unless this is false (or one already tracks them). */
  convoy?: boolean;
  /** Started by the dispatcher, which has decided under the scheduler lock that it fits: not queued again. */
  scheduled?: boolean;
}

export interface SlingResult {
  bead: string;
  title: string;
  agent: string;
  runtime: string;
  backend: BackendKind | 'none';
  session: string;
  worktree: string;
  branch?: string;
  spawned: boolean;
  took_over_from?: string;
  /** The convoy this sling created for its beads. */
  convoy?: string;
  /** Past capacity: the bead waits in the dispatch queue (no agent, no session yet). */
  queued?: QueuePlace & { reason: string };
}

interface Undo {
  steps: Array<{ what: string; run: () => Promise<unknown> }>;
}

async function rollback(town: Town, undo: Undo): Promise<void> {
  for (const step of undo.steps.reverse()) {
    try {
      await step.run();
    } catch (error) {
      town.ports.progress(`warning: could not undo ${step.what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** What is installed (`which`, `<command> --version`), so a missing or too old runtime is refused before anything is created. */
export interface RuntimeProbe {
  exists(command: string): boolean;
  /** The first version number `<command> --version` prints; undefined when it prints none. */
  version(command: string): string | undefined;
}

function versionAtLeast(found: string, wanted: string): boolean {
  const a = found.split('.').map(Number);
  const b = wanted.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** Refuses a runtime whose command is not installed or older than gt needs, naming it and what to do. */
export function checkRuntime(runtime: ResolvedRuntime, probe: RuntimeProbe): void {
  if (runtime.hooks === 'builtin') return;
  if (!probe.exists(runtime.command)) {
    throw new GtError('external', `the ${runtime.name} runtime needs \`${runtime.command}\`, which is not installed (not found on PATH)`, {
      hint: runtime.custom
        ? `fix its command with gt config agent set ${runtime.name} "<command>"`
        : `install it, or pick another runtime with --agent (e.g. --agent shell)`,
    });
  }
  if (runtime.minVersion) {
    const found = probe.version(runtime.command);
    if (found === undefined || !versionAtLeast(found, runtime.minVersion)) {
      throw new GtError(
        'external',
        `the ${runtime.name} runtime needs \`${runtime.command}\` ${runtime.minVersion} or later; ${found === undefined ? `\`${runtime.command} --version\` printed no version` : `found ${found}`}`,
        {
          hint: `update it (e.g. npm install -g ${runtime.package ?? runtime.command}@latest), or pick another runtime with --agent`,
        },
      );
    }
  }
}

/**
 * Puts beads on workers' hooks and starts their sessions. A rig target spawns
 * (or reuses) one polecat per bead; an agent target takes exactly one bead.
 * Any failure undoes everything this call created.
 */
export async function slingBeads(town: Town, beadTexts: string[], target: string, options: SlingOptions, probe: RuntimeProbe): Promise<SlingResult[]> {
  if (beadTexts.length === 0) throw usageError('name at least one bead to sling');
  const toAgent = target.includes('/') || target === 'mayor';
  if (toAgent && beadTexts.length > 1)
    throw usageError(`an agent takes one bead at a time; got ${beadTexts.length}`, 'sling them to the rig to spread them over polecats');
  const identity = toAgent ? parseIdentity(target) : undefined;
  const rigName = identity ? identity.rig : validateName('rig', target);
  // A town across hosts: a rig placed on another host is that host's to spawn on; its daemon claims the work from the queue.
  const placedOn = rigName && town.hostName && !options.scheduled ? await rigHost(town, rigName) : undefined;
  const remote = placedOn !== undefined && placedOn !== town.hostName ? placedOn : undefined;
  if (remote && options.noStart)
    throw usageError(`rig ${rigName} runs on host ${remote}: --no-start hooks work only on the host that runs it`, `run it there, or sling without --no-start`);
  if (rigName && !remote) town.rig(rigName);
  if (identity && identity.role !== 'polecat' && identity.role !== 'crew' && identity.role !== 'mayor') {
    throw usageError(`cannot sling work to ${identity.address}`, 'sling to a rig, a polecat, a crew member or the mayor');
  }
  // Check every bead before touching anything.
  const beads: IssueDetails[] = [];
  const answered: Array<{ id: string; bead: string }> = [];
  for (const text of beadTexts) {
    const [bead] = await town.ledger.show([text]);
    if (!bead) throw notFoundError(`no bead ${text}`);
    // A molecule's root is work: its worker walks the steps (gt sling <formula> pours one).
    if (NON_WORK_TYPES.includes(bead.issue_type) && bead.issue_type !== 'molecule')
      throw validationError(`${bead.id} is a ${bead.issue_type}, not work that can be slung`);
    if (bead.status === 'closed') throw conflictError(`${bead.id} is closed`, `reopen it first: bd reopen ${bead.id}`);
    // Slinging an escalated bead again is the answer to its escalation: it is closed once the sling succeeded.
    const escalations = (await town.ledger.list({ types: ['escalation'], metadataFields: { subject: bead.id }, excludeStatuses: ['closed'], limit: 0 })).map(
      (e) => e.id,
    );
    answered.push(...escalations.map((id) => ({ id, bead: bead.id })));
    if (!options.force) {
      // A worker on a blocked bead would build on work that has not landed (bd ready leaves it out for the same reason).
      const blockers = (await town.ledger.openBlockers(bead.id)).filter((b) => !escalations.includes(b.id));
      if (blockers.length > 0) {
        throw conflictError(
          `${bead.id} is blocked by ${blockers.map((b) => `${b.id} (${b.title}, ${b.status})`).join(', ')}`,
          'sling the blocker first, or use --force to sling it anyway',
        );
      }
    }
    beads.push(bead);
  }
  if (!options.noStart)
    await checkBudgetsOrEscalate(
      town,
      beads.map((b) => b.id),
    );
  const backend = town.backendKind(options.backend);
  // Capacity (issue 14 §5): beads past the limits, or for a runtime backed off, wait in the queue.
  const admission: Admission = remote
    ? {
        start: [],
        queued: beads.map((bead) => ({ bead, reason: `rig ${rigName} runs on host ${remote}: its daemon starts it` })),
        waitTurn: async () => undefined,
        release: () => undefined,
      }
    : await admitSling(town, beads, target, identity, options);
  try {
    let started: SlingResult[] = [];
    const toQueue = [...admission.queued];
    try {
      if (admission.start.length > 0) started = await startBeads(town, admission.start, identity, rigName, backend, options, probe, admission.waitTurn);
    } catch (error) {
      // A rate limit reported while these starts were prepared: everything was undone; they wait for the window instead.
      if (!(error instanceof RuntimeBackedOff) || options.scheduled) throw error;
      toQueue.push(...admission.start.map((bead) => ({ bead: bead, reason: error.message })));
    }
    const queued: SlingResult[] = [];
    for (const { bead, reason } of toQueue) {
      await enqueue(town, bead, { target, runtime: options.runtime, backend: options.backend, force: options.force, reason });
    }
    const queue = toQueue.length > 0 ? await listQueue(town) : [];
    for (const { bead, reason } of toQueue) {
      const place = placeIn(queue, bead.id) ?? { position: queue.length, of: queue.length };
      queued.push({
        bead: bead.id,
        title: bead.title,
        agent: '',
        // The far host resolves the runtime from a rig.toml this machine does not have.
        runtime: remote ? (options.runtime ?? '') : runtimeForTarget(town, target, options.runtime),
        backend: 'none',
        session: '',
        worktree: '',
        spawned: false,
        queued: { ...place, reason },
      });
    }
    const byId = new Map([...started, ...queued].map((r) => [r.bead, r]));
    const results = beads.map((b) => byId.get(b.id) as SlingResult);
    // Slinging it again answers the escalation when the slinger may answer it; an agent re-slinging its own bead leaves it open.
    for (const { id, bead } of answered)
      if (mayAnswerEscalation(town, await getEscalation(town, id), town.ledger.actor))
        await closeEscalation(town, id, town.ledger.actor, `${bead} slung again by ${town.ledger.actor}`);
    const convoy = options.convoy !== false && beads.length > 1 ? await autoConvoy(town, beads) : undefined;
    return convoy ? results.map((r) => ({ ...r, convoy })) : results;
  } finally {
    admission.release();
  }
}

/** Asks the scheduler, unless this sling starts nothing or the dispatcher already decided. */
async function admitSling(town: Town, beads: IssueDetails[], target: string, identity: Identity | undefined, options: SlingOptions): Promise<Admission> {
  const all: Admission = { start: beads, queued: [], waitTurn: async () => undefined, release: () => undefined };
  if (options.noStart) return all;
  // The dispatcher decided under the scheduler lock; a back-off that began since still stops the start.
  if (options.scheduled) return { ...all, waitTurn: () => ensureNotBackedOff(town, runtimeForTarget(town, target, options.runtime)) };
  // A running crew member or the Mayor gets its work as mail: no new session, nothing to schedule.
  if (identity) {
    const existing = await town.agent(identity);
    if (existing?.active && identity.role !== 'polecat' && (await town.sessionAlive(existing))) return all;
  }
  return admit(town, beads, target, options.runtime);
}

async function startBeads(
  town: Town,
  beads: IssueDetails[],
  identity: Identity | undefined,
  rigName: string | undefined,
  backend: BackendKind,
  options: SlingOptions,
  probe: RuntimeProbe,
  waitTurn: () => Promise<void>,
): Promise<SlingResult[]> {
  // One batch at a time per rig, so two slings never hand out the same polecat.
  const release = rigName ? await town.lockWorktrees(rigName) : () => undefined;
  const undos: Undo[] = [];
  try {
    // 1. Who takes each bead, decided one at a time, and every check, before anything is created.
    const plans: SlingPlan[] = [];
    const reserved = new Set<string>();
    for (const bead of beads) {
      const plan = await planSling(town, bead, identity, rigName, reserved, options, probe);
      reserved.add(plan.identity.address);
      plans.push(plan);
    }
    // The town host (when sessions run in it) starts while the worktrees are made; a failure shows at the first start.
    if (!options.noStart && town.usesTownHost(backend))
      void town.ports
        .backend(backend)
        .prepare?.({ townHost: true })
        .catch(() => undefined);
    // 2. Worktrees, hooks and sessions for all of them at once: git and tmux work in parallel.
    const settled = await Promise.allSettled(
      plans.map((plan) => {
        const undo: Undo = { steps: [] };
        undos.push(undo);
        return slingOne(town, plan, backend, options, undo, waitTurn);
      }),
    );
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // All or nothing: what the other beads of the batch created goes too.
      for (const undo of undos) await rollback(town, undo);
      throw failed.reason;
    }
    return settled.map((r) => (r as PromiseFulfilledResult<SlingResult>).value);
  } finally {
    release();
  }
}

interface SlingPlan {
  bead: IssueDetails;
  identity: Identity;
  existing: AgentRecord | undefined;
  previous: AgentRecord | undefined;
  runtime: ResolvedRuntime;
}

async function planSling(
  town: Town,
  bead: IssueDetails,
  target: Identity | undefined,
  rigName: string | undefined,
  reserved: ReadonlySet<string>,
  options: SlingOptions,
  probe: RuntimeProbe,
): Promise<SlingPlan> {
  let previous: AgentRecord | undefined;
  if (HOOK_STATUSES.includes(bead.status) && bead.assignee) {
    const owner = await town.agent(parseIdentity(bead.assignee)).catch(() => undefined);
    const alive = owner ? await town.sessionAlive(owner) : false;
    if (alive)
      throw conflictError(
        `${bead.id} is on the hook of ${bead.assignee}, whose session is running`,
        `unsling it first (gt unsling ${bead.id}) or let it finish`,
      );
    if (!options.force)
      throw conflictError(`${bead.id} is on the hook of ${bead.assignee} (session not running)`, `take it over with --force; the worker's commits are kept`);
    previous = owner;
  } else if (bead.status !== 'open' && bead.status !== 'blocked' && bead.status !== 'deferred') {
    if (!options.force) throw conflictError(`${bead.id} has status ${bead.status}`, 'use --force to sling it anyway');
  }
  const identity = target ?? (await choosePolecat(town, rigName as string, bead, previous, reserved));
  const existing = await town.agent(identity);
  if (existing?.active && (await town.sessionAlive(existing)) && identity.role === 'polecat') {
    throw conflictError(`${identity.address} is busy: its session is running`, 'sling to the rig to get a free polecat');
  }
  const busyWith = (await hookedWork(town.ledger, identity.address)).filter((b) => b.id !== bead.id);
  if (busyWith.length > 0)
    throw conflictError(`${identity.address} already has ${busyWith.map((b) => b.id).join(', ')} on its hook`, 'sling to the rig, or unsling that first');
  if (identity.role === 'crew' && !existing?.active)
    throw notFoundError(`no crew member ${identity.address}`, `add it with gt crew add ${identity.name} --rig ${identity.rig}`);
  // Resolved per sling: a reused polecat does not carry its last bead's runtime over. The same
  // worker taken back onto its own bead keeps it (its conversation can resume); crew and the Mayor keep theirs.
  const kept = identity.role !== 'polecat' || previous?.address === identity.address ? existing?.runtime : undefined;
  const runtime = town.runtimeFor(identity, options.runtime ?? kept);
  if (!options.noStart) checkRuntime(runtime, probe);
  return { bead, identity, existing, previous, runtime };
}

/**
 * Beads slung together are tracked together: a convoy "Work: <first title> (+n)"
 * owned by whoever slung them, unless an open convoy already tracks one of them.
 */
async function autoConvoy(town: Town, beads: IssueDetails[]): Promise<string | undefined> {
  for (const bead of beads) {
    const trackers = await town.ledger.listDependencies(bead.id, 'up', 'tracks');
    if (trackers.some((t) => t.status !== 'closed')) return undefined;
  }
  const first = beads[0] as IssueDetails;
  const name = `Work: ${first.title}${beads.length > 1 ? ` (+${beads.length - 1})` : ''}`;
  return (
    await createConvoy(
      town,
      name,
      beads.map((b) => b.id),
      { owner: town.ledger.actor },
    )
  ).id;
}

/** Budgets (town.toml) stop new sessions; the stop is escalated once a day (one open escalation per day). */
async function checkBudgetsOrEscalate(town: Town, beads: string[]): Promise<void> {
  try {
    await checkBudgets(town, beads);
  } catch (error) {
    if (!(error instanceof GtError) || error.kind !== 'conflict') throw error;
    const day = town.ports.now().slice(0, 10);
    await town.ledger.emit({ kind: 'budget.stopped', actor: 'deacon', payload: { reason: error.message, beads } });
    await raiseEscalation(town, {
      message: `${error.message}\nNew dispatch is paused; running agents finish their turn.`,
      headline: `BUDGET REACHED ${day}`,
      severity: 'high',
      source: 'budget',
      reason: `budget-${day}`,
      raisedBy: 'deacon',
    });
    throw error;
  }
}

/** Creates what one planned sling needs; every step is recorded in `undo`. */
async function slingOne(
  town: Town,
  plan: SlingPlan,
  backend: BackendKind,
  options: SlingOptions,
  undo: Undo,
  waitTurn: () => Promise<void>,
): Promise<SlingResult> {
  const { ledger, ports } = town;
  const { bead, identity, existing, previous, runtime } = plan;
  let branch: string | undefined;
  const worktree = identity.role === 'mayor' ? 'mayor' : `${identity.rig}/${identity.role === 'polecat' ? 'polecats' : 'crew'}/${identity.name}`;
  if (identity.role === 'polecat') branch = await preparePolecatWorktree(town, identity, bead, undo);
  if (!existing) {
    // A new identity's bead is written once: here when no session starts, else by startSession.
    if (options.noStart) await town.saveAgent(identity, { state: 'idle', runtime: runtime.name });
    undo.steps.push({
      what: `agent ${identity.address}`,
      run: async () => ((await town.agent(identity)) ? ledger.delete([agentBeadId(identity)]) : undefined),
    });
  } else if (options.noStart && existing.runtime !== runtime.name) {
    // No session records it here, and whatever starts one later reads the agent's runtime.
    const was = existing.runtime;
    await town.saveAgent(identity, { runtime: runtime.name });
    if (was) undo.steps.push({ what: `runtime of ${identity.address}`, run: () => town.saveAgent(identity, { runtime: was }) });
  }
  const before = { status: bead.status, assignee: bead.assignee ?? null };
  // Out of the dispatch queue in the same write that hooks it; an undo puts it back in its place.
  const wasQueued = bead.labels.includes(QUEUE_LABEL);
  const queueFields = Object.fromEntries(Object.entries(bead.metadata ?? {}).filter(([k]) => QUEUE_KEYS.includes(k)));
  single(
    await ledger.update([bead.id], {
      status: 'hooked',
      assignee: identity.address,
      ...(wasQueued ? { removeLabels: [QUEUE_LABEL], unsetMetadata: QUEUE_KEYS } : {}),
      expect: { statuses: [bead.status], assignee: before.assignee },
      setMetadata: {
        hooked_at: ports.now(),
        hooked_by: ledger.actor,
        // Who the agent answers to (its leader's mailbox): who queued it when the daemon starts it later.
        dispatcher: wasQueued && typeof bead.metadata?.queued_by === 'string' ? bead.metadata.queued_by : ledger.actor,
        ...(identity.rig ? { rig: identity.rig } : {}),
        ...(branch ? { branch } : {}),
        worker: identity.address,
      },
      townEvent: {
        kind: 'bead.slung',
        bead: bead.id,
        agent: identity.address,
        ...(identity.rig ? { rig: identity.rig } : {}),
        payload: { title: bead.title, runtime: runtime.name, ...(branch ? { branch } : {}) },
      },
    }),
  );
  undo.steps.push({
    what: `hook of ${bead.id}`,
    run: () =>
      ledger.update([bead.id], {
        status: before.status,
        assignee: before.assignee,
        ...(wasQueued ? { addLabels: [QUEUE_LABEL], setMetadata: queueFields } : {}),
      }),
  });

  let session = existing?.session ?? sessionName(identity);
  let started = false;
  if (!options.noStart) {
    const alive = existing ? await town.sessionAlive(existing) : false;
    if (alive) {
      // A running crew member or mayor: tell it, at its next turn boundary.
      await new Mailbox(ledger, ledger.actor).send(identity.address, `Work on your hook: ${bead.id} ${bead.title}`, 'Run `gt hook` and start on it.', {
        kind: 'nudge',
      });
    } else {
      undo.steps.push({ what: `session of ${identity.address}`, run: () => ports.backend(backend).stop(sessionName(identity)) });
      // The same worker back on its own bead after its session died: the runtime resumes its conversation.
      const resume = previous?.address === identity.address && existing?.runtime === runtime.name ? existing.runtime_session : undefined;
      const record = await startSession(town, identity, {
        runtime,
        backend,
        hooked: true,
        ...(branch ? { branch } : {}),
        ...(resume ? { resume } : {}),
        beforeStart: waitTurn,
      });
      session = record.session;
      started = true;
    }
  }
  return {
    bead: bead.id,
    title: bead.title,
    agent: identity.address,
    runtime: runtime.name,
    backend: options.noStart ? 'none' : backend,
    session,
    worktree,
    ...(branch ? { branch } : {}),
    spawned: started && !existing,
    ...(previous ? { took_over_from: previous.address } : {}),
  };
}

/**
 * A free polecat of the rig: the bead's previous worker, else an idle clean
 * one, else an idle one whose leftovers are checkpointed and reset (issue 14),
 * else a new name.
 */
async function choosePolecat(town: Town, rig: string, bead: Issue, previous: AgentRecord | undefined, reserved: ReadonlySet<string>): Promise<Identity> {
  if (previous?.role === 'polecat' && previous.rig === rig && previous.name) return polecatIdentity(rig, previous.name);
  const agents = (await town.agents({ rig, includeInactive: true })).filter((a) => a.role === 'polecat');
  const worker = typeof bead.metadata?.worker === 'string' ? bead.metadata.worker : undefined;
  const ordered = [...agents].sort((a, b) => Number(b.address === worker) - Number(a.address === worker));
  const leftovers: AgentRecord[] = [];
  for (const agent of ordered) {
    if (!agent.active || !agent.name || reserved.has(agent.address)) continue;
    const fitness = await polecatFitness(town, agent);
    if (fitness.kind === 'free') return polecatIdentity(rig, agent.name);
    if (fitness.kind === 'dirty') leftovers.push(agent);
  }
  const reclaimable = leftovers[0];
  if (reclaimable?.name) {
    const reclaimed = await reclaimPolecat(town, reclaimable, `sling ${bead.id}`);
    town.ports.progress(`${reclaimed.agent}: its leftovers are saved on ${reclaimed.checkpoint ?? '(nothing to save)'}; reusing it`);
    return polecatIdentity(rig, reclaimable.name);
  }
  const taken = new Set([
    ...agents.map((a) => a.name ?? ''),
    ...town.ports.files.list(town.path(rig, 'polecats')),
    ...[...reserved].map((a) => a.split('/')[2] ?? ''),
  ]);
  return polecatIdentity(rig, nextPolecatName(taken));
}

/**
 * Worktree `<rig>/polecats/<name>` on branch `polecat/<name>/<bead>`, from the rig's bare repo. One
 * worktree change at a time per repository (git.inTurn): `git worktree add` reads the other worktrees'
 * admin files while it creates its own, so two at once can fail ("failed to read
 * worktrees/<name>/commondir"). Sessions still start in parallel.
 */
async function preparePolecatWorktree(town: Town, identity: Identity, bead: Issue, undo: Undo): Promise<string> {
  const { git, files } = town.ports;
  const rig = town.rig(identity.rig as string);
  const repo = town.repoDir(rig.name);
  const dir = town.path(identity.rig as string, 'polecats', identity.name as string);
  const branch = polecatBranch(identity.name as string, bead.id);
  await protectRepository(town, repo, rig.default_branch, { reuseWithinMs: 60_000 });
  // Work taken over from another host (gt rig move) starts where its worker's last pushed checkpoint left it.
  const start = (await resumePoint(town, rig.name, bead)) ?? rig.default_branch;
  if (!files.exists(dir)) {
    files.mkdirp(town.path(rig.name, 'polecats'));
    // Usually a new branch; one left by an earlier attempt at this bead is checked out as it is.
    // Registered in turn without its files (admin files only, a few ms); its files are written outside the
    // turn, so the checkouts of a sling's polecats run side by side (each worktree has its own index).
    const fresh = await git.inTurn(repo, repo, ['worktree', 'add', '--no-checkout', '-q', '-b', branch, dir, start]);
    const hadBranch = fresh.code !== 0 && (await branchExists(git, repo, branch));
    const added = hadBranch ? await git.inTurn(repo, repo, ['worktree', 'add', '--no-checkout', '-q', dir, branch]) : fresh;
    if (added.code !== 0) throw new GtError('external', `git worktree add failed in ${repo}: ${added.stderr.trim().split('\n').pop() ?? ''}`);
    undo.steps.push({
      what: `worktree ${dir}`,
      run: async () => {
        await git.run(repo, ['worktree', 'remove', '--force', dir]);
        if (!hadBranch) await git.run(repo, ['branch', '-D', branch]);
      },
    });
    await git.run(dir, ['reset', '--hard', '-q']);
    return branch;
  }
  if ((await currentBranch(git, dir)) === branch) return branch; // resuming the same bead: keep every commit
  const hadBranch = await branchExists(git, repo, branch);
  const dirty = await dirtyFiles(git, dir);
  if (dirty.length > 0)
    throw conflictError(
      `${dir} has ${dirty.length} uncommitted change(s)`,
      `look with git -C ${dir} status; gt polecat nuke --force saves them on a checkpoint`,
    );
  const before = await headCommit(git, dir);
  await git.run(dir, hadBranch ? ['checkout', '-q', branch] : ['checkout', '-q', '-b', branch, start]);
  undo.steps.push({
    what: `branch ${branch}`,
    run: async () => {
      await git.run(dir, ['checkout', '-q', '--detach', before ?? rig.default_branch]);
      if (!hadBranch) await git.run(dir, ['branch', '-D', branch]);
    },
  });
  return branch;
}

/** Takes a bead off its hook: back to open and unassigned. The worktree is kept. */
export async function unslingBead(town: Town, text: string, options: { force?: boolean }): Promise<IssueDetails> {
  const [bead] = await town.ledger.show([text]);
  if (!bead) throw notFoundError(`no bead ${text}`);
  if (!HOOK_STATUSES.includes(bead.status) || !bead.assignee) throw conflictError(`${bead.id} is not on any hook (status ${bead.status})`);
  const owner = await town.agent(parseIdentity(bead.assignee)).catch(() => undefined);
  if (owner && (await town.sessionAlive(owner)) && !options.force) {
    throw conflictError(`${bead.assignee} is working on ${bead.id} right now`, 'use --force to take it away anyway (its session keeps running)');
  }
  return single(
    await town.ledger.update([bead.id], {
      status: 'open',
      assignee: null,
      expect: { statuses: [bead.status], assignee: bead.assignee },
      townEvent: { kind: 'bead.unslung', bead: bead.id, agent: bead.assignee, ...(typeof bead.metadata?.rig === 'string' ? { rig: bead.metadata.rig } : {}) },
    }),
  );
}

export type DoneStatus = 'COMPLETED' | 'ESCALATED' | 'DEFERRED';

export interface DoneResult {
  agent: string;
  status: DoneStatus;
  bead?: string;
  merge_request?: string;
  branch?: string;
  commit?: string;
  commits: number;
  checkpoint?: string;
}

/**
 * A worker's completion (design §7.5): the branch (already in the rig's bare
 * repo: worktrees share its refs) gets a merge request, the bead goes to the
 * refinery, the identity is freed. Nothing is deleted.
 */
export interface FinishOptions {
  message?: string;
  /** Leave the session running (by default a polecat's session ends with its work). */
  keepSession?: boolean;
  /** The agent whose session runs this command (GT_AGENT): its own session is ended from outside. */
  caller?: string;
}

/**
 * `gt done` (design §7.5): verifies the work, files the merge request (or hands
 * the bead back, or escalates), frees the identity, and ends a polecat's
 * session.
 */
export async function finishWork(town: Town, identity: Identity, status: DoneStatus, options: FinishOptions = {}): Promise<DoneResult> {
  const result = await settleWork(town, identity, status, options.message);
  const agent = await town.agent(identity);
  await town.ledger.emit({
    kind: 'work.done',
    agent: identity.address,
    ...(identity.rig ? { rig: identity.rig } : {}),
    ...(result.bead ? { bead: result.bead } : {}),
    payload: {
      status,
      commits: result.commits,
      ...(result.merge_request ? { merge_request: result.merge_request } : {}),
      ...(options.message ? { message: options.message } : {}),
    },
  });
  if (!options.keepSession && identity.role === 'polecat' && agent) await endOwnSession(town, agent, options.caller);
  return result;
}

async function settleWork(town: Town, identity: Identity, status: DoneStatus, message?: string): Promise<DoneResult> {
  if (identity.role !== 'polecat' && identity.role !== 'crew') throw usageError(`gt done is for polecats and crew, not ${identity.address}`);
  const { ledger, ports } = town;
  const { git } = ports;
  const rig = town.rig(identity.rig as string);
  const agent = await town.agent(identity);
  if (!agent?.active) throw notFoundError(`no agent ${identity.address}`);
  const dir = town.path(agent.workdir);
  const [bead] = await hookedWork(ledger, identity.address);
  if (!bead && status === 'COMPLETED')
    throw conflictError(`nothing is on the hook of ${identity.address}`, 'use gt done --status DEFERRED to just free this worker');
  const result: DoneResult = { agent: identity.address, status, commits: 0, ...(bead ? { bead: bead.id } : {}) };
  const branch = await currentBranch(git, dir);
  if (branch) result.branch = branch;

  if (status === 'COMPLETED' && bead) {
    const dirty = await dirtyFiles(git, dir);
    if (dirty.length > 0) throw conflictError(`${dir} has ${dirty.length} uncommitted change(s)`, 'commit them (git add -A && git commit) before gt done');
    if (!branch) throw conflictError(`${dir} is not on a branch`, 'check out your work branch first');
    const commits = (await git.run(dir, ['rev-list', 'HEAD', '--not', rig.default_branch])).split('\n').filter((l) => l !== '');
    const molecule = bead.issue_type === 'molecule';
    if (molecule) await finishSteps(town, bead, identity);
    if (commits.length === 0 && molecule) {
      // A molecule whose steps changed no code (a review, a release run): nothing to merge, so it is done now.
      single(await ledger.close([bead.id], { reason: `Completed by ${identity.address} (nothing to merge)`, force: true }));
      if (identity.role === 'polecat') await git.run(dir, ['checkout', '-q', '--detach']);
      await town.saveAgent(identity, { state: 'done' });
      return result;
    }
    if (commits.length === 0)
      throw conflictError(
        `branch ${branch} has no commits beyond ${rig.default_branch}`,
        'commit your work first; or gt done --status DEFERRED to hand the bead back',
      );
    const head = (await headCommit(git, dir)) as string;
    result.commit = head;
    result.commits = commits.length;
    // The branch lives in the bare repo already (shared refs); make sure it points at HEAD.
    await git.run(town.repoDir(rig.name), ['update-ref', `refs/heads/${branch}`, head]);
    // Across hosts the finished commit goes to the origin too, so another host can merge it if this one is lost.
    if (await checkpointsPushed(git, dir)) await checkpoint(git, dir, identity.address, ports.now(), `gt done ${bead.id}`);
    const mr = await fileMergeRequest(town, bead, { branch, commit: head, worker: identity.address, rig: rig.name, target: rig.default_branch });
    result.merge_request = mr.id;
    single(
      await ledger.update([bead.id], {
        status: 'in_progress',
        assignee: `${rig.name}/refinery`,
        setMetadata: { merge_request: mr.id, completed_by: identity.address, completed_at: ports.now() },
        expect: { statuses: HOOK_STATUSES, assignee: identity.address },
      }),
    );
  } else {
    const saved = await checkpoint(git, dir, identity.address, ports.now(), `gt done ${status}${bead ? ` ${bead.id}` : ''}`).catch(() => undefined);
    if (saved) result.checkpoint = saved.ref;
    if (bead && status === 'DEFERRED') {
      single(
        await ledger.update([bead.id], { status: 'open', assignee: null, ...(message ? { appendNotes: `Deferred by ${identity.address}: ${message}` } : {}) }),
      );
    } else if (bead && status === 'ESCALATED') {
      const why = message ?? '(no reason given)';
      single(
        await ledger.update([bead.id], {
          status: 'blocked',
          assignee: null,
          addLabels: ['gt:escalated'],
          appendNotes: `Escalated by ${identity.address}: ${why}`,
        }),
      );
      await raiseEscalation(town, {
        message: message ?? 'The worker could not finish this bead.',
        headline: `ESCALATED ${bead.id}: ${bead.title}`,
        severity: 'high',
        source: 'done',
        reason: 'done-escalated',
        subject: bead.id,
        raisedBy: identity.address,
        agent: identity.address,
        rig: rig.name,
      });
    }
  }
  // Free the identity: a crew member keeps its branch; a polecat's worktree lets go of its branch.
  if (identity.role === 'polecat' && branch) await git.run(dir, ['checkout', '-q', '--detach']);
  await town.saveAgent(identity, { state: 'done' });
  return result;
}

/**
 * `gt done` on a molecule: the worker declares its steps finished, so the
 * ones still open are closed — unless a gate still holds one (then the work
 * is not done: wait on it).
 */
async function finishSteps(town: Town, root: Issue, identity: Identity): Promise<void> {
  const children = await town.ledger.list({ parent: root.id, excludeStatuses: ['closed'], includeEphemeral: true, limit: 0, sort: 'id' });
  const gate = children.find((c) => c.issue_type === 'gate');
  if (gate)
    throw conflictError(`${root.id} still waits on gate ${gate.id} (${gate.title})`, 'run gt gate wait: your session ends and restarts when the gate opens');
  for (const step of children.reverse()) {
    const closed = await town.ledger.close([step.id], { reason: `Completed with gt done by ${identity.address}`, force: true });
    if (closed.failed[0]) throw closed.failed[0].error;
  }
}

async function fileMergeRequest(
  town: Town,
  bead: Issue,
  fields: { branch: string; commit: string; worker: string; rig: string; target: string },
): Promise<Issue> {
  const { ledger } = town;
  // Idempotent per branch and commit: a repeated gt done finds the same queued request (a rejected one is history: a new request).
  const [existing] = await ledger.list({
    types: ['merge-request'],
    metadataFields: { branch: fields.branch, commit: fields.commit },
    excludeStatuses: ['closed'],
    includeEphemeral: true,
    limit: 1,
  });
  if (existing) return existing;
  const prefix = town.rig(fields.rig).prefix;
  return ledger.create({
    title: `Merge ${bead.id}: ${bead.title}`,
    type: 'merge-request',
    prefix,
    priority: bead.priority,
    description: `Branch ${fields.branch} (${fields.commit.slice(0, 12)}) by ${fields.worker} into ${fields.target}.`,
    metadata: { ...fields, source_issue: bead.id },
    labels: ['gt:merge-request', `rig:${fields.rig}`],
    townEvent: (id) => ({
      kind: 'mr.queued',
      bead: bead.id,
      agent: fields.worker,
      rig: fields.rig,
      payload: { merge_request: id, branch: fields.branch, commit: fields.commit, target: fields.target },
    }),
  });
}

/** Handoff (design §7.6): a note to self, a checkpoint of the worktree; the caller restarts the session. */
export async function handoff(town: Town, identity: Identity, note: string): Promise<{ message: string; checkpoint?: string }> {
  const { ledger, ports } = town;
  const agent = await town.agent(identity);
  if (!agent?.active) throw notFoundError(`no agent ${identity.address}`);
  const mailbox = new Mailbox(ledger, identity.address);
  // One live handoff note per identity: the newest supersedes older ones.
  const older = (await mailbox.inbox(identity.address, { kinds: ['handoff'] })).map((m) => m.id);
  const sent = await mailbox.send(identity.address, 'HANDOFF', note, { kind: 'handoff', priority: 1 });
  if (older.length) await mailbox.ack(older);
  let checkpointRef: string | undefined;
  const dir = town.path(agent.workdir);
  if (identity.role !== 'mayor' && ports.files.exists(dir)) {
    const saved = await checkpoint(ports.git, dir, identity.address, ports.now(), `gt handoff: ${note.split('\n')[0] ?? ''}`);
    checkpointRef = saved?.ref;
  }
  return { message: sent.id, ...(checkpointRef ? { checkpoint: checkpointRef } : {}) };
}

export interface PolecatInfo {
  agent: string;
  name: string;
  rig: string;
  state: string;
  session_alive: boolean;
  hooked: string[];
  branch?: string;
  dirty: number;
  unmerged: number;
}

export async function listPolecats(town: Town, rig?: string): Promise<PolecatInfo[]> {
  const out: PolecatInfo[] = [];
  for (const reading of await readAgents(town, rig ? { rig } : {})) {
    const { agent } = reading;
    if (agent.role !== 'polecat' || !agent.rig || !agent.name) continue;
    const dir = town.path(agent.workdir);
    // A worktree being removed (gt polecat nuke, the polecats dog) loses its .git first: then there is nothing to look at.
    const worktree = () => town.ports.files.exists(`${dir}/.git`);
    let unsaved: UnsavedWork = { dirty: [], unmerged: [] };
    let branch: string | undefined;
    try {
      if (worktree()) unsaved = await unsavedWork(town.ports.git, dir, town.rig(agent.rig).default_branch);
      if (worktree()) branch = await currentBranch(town.ports.git, dir);
    } catch (error) {
      if (worktree()) throw error;
    }
    const hooked = reading.hooked.map((b) => b.id);
    out.push({
      agent: agent.address,
      name: agent.name,
      rig: agent.rig,
      state: reading.state,
      session_alive: reading.probe.session && reading.probe.process,
      hooked,
      ...(branch ? { branch } : {}),
      dirty: unsaved.dirty.length,
      unmerged: unsaved.unmerged.length,
    });
  }
  return out;
}

export interface NukeResult {
  agent: string;
  /** The checkpoint of the worktree (commits and changes). */
  checkpoint?: string;
  /** Checkpoints of the polecat's stash entries and tags. */
  checkpoints_held?: string[];
  unhooked: string[];
  /** Ignored files and directories the removal dropped (no checkpoint holds them). */
  ignored_dropped: string[];
}

/**
 * Removes a polecat: session, worktree, identity. The session is stopped
 * first, so what the agent writes while it stops is looked at too (issue 12,
 * finding 7). Refuses while it holds uncommitted or unmerged work, stash
 * entries or tags on unmerged commits, or a hooked bead; `force` first saves
 * all of them on checkpoint refs and hands the bead back. Ignored files are
 * never saved: the result names them.
 */
export async function nukePolecat(town: Town, identity: Identity, options: { force?: boolean }): Promise<NukeResult> {
  if (identity.role !== 'polecat') throw usageError(`${identity.address} is not a polecat`);
  const { git, files } = town.ports;
  const agent = await town.agent(identity);
  if (!agent?.active) throw notFoundError(`no polecat ${identity.address}`, 'see gt polecat list');
  const rig = town.rig(identity.rig as string);
  const dir = town.path(agent.workdir);
  // Stop, then look: an agent that writes as it stops would otherwise lose it with the worktree.
  const wasAlive = await town.sessionAlive(agent);
  if (wasAlive) await stopSession(town, agent);
  const hooked = await hookedWork(town.ledger, identity.address);
  const exists = files.exists(dir);
  const unsaved = exists ? await unsavedWork(git, dir, rig.default_branch) : { dirty: [], unmerged: [] };
  const email = `${identity.address.replace(/\//g, '.')}@gt.local`;
  const held = exists
    ? await heldWork(git, dir, rig.default_branch, { owned: { email, ...(agent.branch ? { branch: agent.branch } : {}) } })
    : { stashes: [], tags: [] };
  const problems: string[] = [];
  if (unsaved.dirty.length || unsaved.unmerged.length) problems.push(describeUnsaved(unsaved));
  problems.push(...describeHeld(held));
  if (hooked.length) problems.push(`${hooked.map((b) => b.id).join(', ')} on its hook`);
  if (problems.length && !options.force) {
    throw conflictError(
      `${identity.address} holds ${problems.join(' and ')}${wasAlive ? ' (its session is stopped now)' : ''}`,
      'merge or hand back the work first, or use --force to save it on checkpoint refs and remove the polecat',
    );
  }
  const release = await town.lockWorktrees(rig.name);
  try {
    return await removePolecat(town, identity, agent, dir, hooked, problems.length > 0, held);
  } finally {
    release();
  }
}

export async function removePolecat(
  town: Town,
  identity: Identity,
  agent: AgentRecord,
  dir: string,
  hooked: Issue[],
  save: boolean,
  held: HeldWork,
): Promise<NukeResult> {
  const { git, files } = town.ports;
  const rig = town.rig(identity.rig as string);
  if (await town.sessionAlive(agent)) await stopSession(town, agent);
  let saved: { ref: string } | undefined;
  let heldSaved: string[] = [];
  let ignored: string[] = [];
  if (files.exists(dir)) {
    const now = town.ports.now();
    if (save) saved = await checkpoint(git, dir, identity.address, now, `gt polecat nuke ${identity.address}`);
    if (save) heldSaved = await checkpointHeld(git, dir, identity.address, now, held);
    ignored = await ignoredFiles(git, dir);
    if (ignored.length) town.ports.progress(`${identity.address}: ignored files are not saved and go with the worktree: ${ignored.join(', ')}`);
    const branch = await currentBranch(git, dir);
    await git.run(town.repoDir(rig.name), ['worktree', 'remove', '--force', dir]);
    // The checkpoint holds the commits; the branch name can go.
    if (branch) await git.probe(town.repoDir(rig.name), ['branch', '-D', branch]);
  }
  for (const bead of hooked) single(await town.ledger.update([bead.id], { status: 'open', assignee: null }));
  single(await town.ledger.close([agent.id], { reason: 'nuked', force: true }));
  return {
    agent: identity.address,
    ...(saved ? { checkpoint: saved.ref } : {}),
    ...(heldSaved.length ? { checkpoints_held: heldSaved } : {}),
    unhooked: hooked.map((b) => b.id),
    ignored_dropped: ignored,
  };
}
