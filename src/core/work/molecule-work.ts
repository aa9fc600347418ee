/**
 * Molecules on the work loop (design §7, research/beads.md §5): `gt sling
 * <formula>` pours a molecule and hooks its root; prime shows the current
 * step and what follows; a worker that reaches a gate runs `gt gate wait` and
 * its session ends (no tokens burn while it waits); when the gate opens the
 * daemon (or `gt gate check|approve`) starts a fresh session on the same hook,
 * which primes at the next step.
 *
 * A slung root carries `close_with_merge`: closing its last step does not
 * close it, because its commits still go through the refinery, which closes
 * it on merge (or `gt done` closes it when there is nothing to merge).
 */
import { startSession, stopSession } from '../agents/sessions.js';
import { conflictError, notFoundError } from '../../shared/errors.js';
import type { Issue } from '../beads/types.js';
import { cookFormula, type FormulaLoader } from '../formulas/formula.js';
import { burnMolecule, moleculeProgress, pourMolecule } from '../formulas/molecule.js';
import { parseIdentity, type Identity } from '../agents/identity.js';
import type { Town } from '../town/town.js';
import { commandGateVoucher } from './gates.js';
import { hookedWork } from './hooked.js';
import { slingBeads, type RuntimeProbe, type SlingOptions, type SlingResult } from './work.js';

export interface FormulaSlingResult extends SlingResult {
  formula: string;
  molecule: string;
  steps: number;
}

/**
 * Pours `formula` with `vars` into a molecule (prefix of the target's rig)
 * and slings its root to `target`. A bad formula or var fails before anything
 * is poured; a failed sling burns the molecule it poured.
 */
export async function slingFormula(
  town: Town,
  load: FormulaLoader,
  name: string,
  vars: Record<string, string>,
  target: string,
  options: SlingOptions,
  probe: RuntimeProbe,
): Promise<FormulaSlingResult> {
  const formula = load(name);
  if (!formula) throw notFoundError(`no bead or formula named ${JSON.stringify(name)}`, 'see bd list or gt formula list');
  const cooked = cookFormula(formula, vars, load);
  const toAgent = target.includes('/') || target === 'mayor';
  const identity = toAgent ? parseIdentity(target) : undefined;
  const rig = identity ? identity.rig : target;
  const prefix = rig ? town.rig(rig).prefix : undefined;
  // Work that merges: a polecat's or crew member's root waits for the refinery.
  const merges = !identity || identity.role === 'polecat' || identity.role === 'crew';
  // gt's ledger acts as `human` exactly when no agent session runs the command (GT_AGENT unset).
  const voucher = commandGateVoucher(cooked, { person: town.ledger.actor === 'human', actor: town.ledger.actor }, town.root);
  const poured = await pourMolecule(town.ledger, cooked, {
    ...(prefix ? { prefix } : {}),
    ...(merges ? { rootMetadata: { close_with_merge: true } } : {}),
    ...(voucher ? { commandsVouchedBy: voucher } : {}),
  });
  try {
    const [result] = await slingBeads(town, [poured.root], target, { ...options, convoy: false }, probe);
    return { ...(result as SlingResult), formula: cooked.formula, molecule: poured.root, steps: Object.keys(poured.steps).length };
  } catch (error) {
    await burnMolecule(town.ledger, poured.root).catch(() => undefined);
    throw error;
  }
}

/** The hooked molecule of an identity, when its hooked work is one. */
export async function hookedMolecule(town: Town, identity: Identity): Promise<Issue | undefined> {
  return (await hookedWork(town.ledger, identity.address)).find((b) => b.issue_type === 'molecule');
}

export interface GateWait {
  agent: string;
  molecule: string;
  gates: string[];
}

/**
 * `gt gate wait`: the worker's molecule has nothing ready and open gates in
 * front of it. The agent is marked waiting-gate (the witness leaves it be);
 * the caller ends the session.
 */
export async function waitOnGates(town: Town, identity: Identity): Promise<GateWait> {
  const root = await hookedMolecule(town, identity);
  if (!root) throw conflictError(`${identity.address} has no molecule on its hook`, 'gt gate wait is for a worker whose formula step waits on a gate');
  const progress = await moleculeProgress(town.ledger, root.id);
  if (progress.current.length > 0)
    throw conflictError(
      `step ${progress.current[0]?.id} "${progress.current[0]?.title}" is ready; there is nothing to wait for`,
      'work on it (gt prime shows it)',
    );
  if (progress.gates.length === 0)
    throw conflictError(
      `${root.id} has no open gate`,
      progress.next.length ? 'its remaining steps wait on other beads; finish or escalate (gt done --status ESCALATED)' : 'every step is closed: run gt done',
    );
  const agent = await town.agent(identity);
  if (!agent) throw notFoundError(`no agent ${identity.address}`);
  const gates = progress.gates.map((g) => g.id);
  await town.saveAgentState(agent, { state: 'waiting-gate', waiting_gates: gates, waiting_since: town.ports.now() });
  return { agent: identity.address, molecule: root.id, gates };
}

export interface GateResume {
  agent: string;
  molecule: string;
  session?: string;
  error?: string;
}

/**
 * Starts a fresh session for every worker waiting on gates whose molecule
 * has a ready step again (or every step closed): it primes at the next step.
 * Its hook never changed, so "re-sling" is a new session on the same hook.
 */
export async function resumeGatedWork(town: Town): Promise<GateResume[]> {
  const out: GateResume[] = [];
  for (const agent of await town.agents({})) {
    if (agent.state !== 'waiting-gate') continue;
    const identity = parseIdentity(agent.address);
    const root = await hookedMolecule(town, identity);
    if (!root) {
      await town.saveAgentState(agent, { state: 'idle', waiting_gates: null });
      continue;
    }
    const progress = await moleculeProgress(town.ledger, root.id);
    if (progress.current.length === 0 && progress.next.length > 0) continue;
    try {
      if (await town.sessionAlive(agent)) await stopSession(town, agent);
      const runtime = town.runtimeFor(identity, agent.runtime);
      const record = await startSession(town, identity, {
        runtime,
        backend: agent.backend ?? town.backendKind(),
        hooked: true,
        ...(agent.branch ? { branch: agent.branch } : {}),
      });
      await town.saveAgentState(
        agent,
        { waiting_gates: null },
        { kind: 'agent.resumed', agent: agent.address, bead: root.id, ...(agent.rig ? { rig: agent.rig } : {}), payload: { session: record.session } },
      );
      out.push({ agent: agent.address, molecule: root.id, session: record.session });
    } catch (error) {
      out.push({ agent: agent.address, molecule: root.id, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return out;
}
