/**
 * Molecules (research/beads.md §5): a cooked formula poured into the ledger —
 * a root bead of type molecule, one child bead per step (nested steps under
 * their parent step), `blocks` edges for `needs`, a gate bead in front of a
 * gated step — all in one transaction. A wisp is the same, ephemeral (never
 * exported). Closing the last step closes the root (the ledger's rule).
 */
import { notFoundError, usageError } from '../../shared/errors.js';
import type { CreateInput, Ledger } from '../beads/ledger.js';
import type { Issue } from '../beads/types.js';
import type { CookedFormula } from './formula.js';

export interface PourResult {
  root: string;
  /** Step id → bead id. */
  steps: Record<string, string>;
  gates: Record<string, string>;
  ephemeral: boolean;
  created: number;
}

/**
 * Pours a cooked formula: root first, then gates and steps in an order where every reference exists.
 * `commandsVouchedBy`: who vouches for the formula's command gates (see
 * work/gates.ts commandGateVoucher); they are stamped with it, written past an
 * agent's write guard, which is why only gt's code, never a bead, sets it.
 */
export async function pourMolecule(
  ledger: Ledger,
  cooked: CookedFormula,
  options: { ephemeral?: boolean; prefix?: string; assignee?: string; rootMetadata?: Record<string, unknown>; commandsVouchedBy?: string } = {},
): Promise<PourResult> {
  const ephemeral = options.ephemeral === true;
  const common = { ...(ephemeral ? { ephemeral: true } : {}), ...(options.prefix ? { prefix: options.prefix } : {}) };
  const inputs: Array<CreateInput & { ref: string }> = [
    {
      ref: '@root',
      title: cooked.vars.title ?? cooked.formula,
      description: cooked.vars.desc ?? cooked.description,
      type: 'molecule',
      ...common,
      ...(ephemeral ? {} : { idInfix: 'mol' }),
      ...(options.assignee ? { assignee: options.assignee } : {}),
      metadata: { formula: cooked.formula, version: cooked.version, vars: cooked.vars, source: cooked.source, ...options.rootMetadata },
      labels: [`formula:${cooked.formula}`],
      ...(ephemeral ? { wisp_type: cooked.formula } : { mol_type: cooked.formula }),
    },
  ];
  // Parents before children, and each step after what it needs: the order the ledger can resolve references in.
  const placed = new Set<string>();
  const pending = [...cooked.steps];
  while (pending.length > 0) {
    const index = pending.findIndex((s) => (!s.parent || placed.has(s.parent)) && s.needs.every((n) => placed.has(n)));
    // cookFormula has checked the graph; a step that never fits is a bug, not bad input.
    if (index < 0) throw usageError(`cannot order the steps of ${cooked.formula}: ${pending.map((s) => s.id).join(', ')}`);
    const step = pending.splice(index, 1)[0] as (typeof cooked.steps)[number];
    const deps: CreateInput['deps'] = step.needs.map((n) => ({ type: 'blocks', id: `@${n}` }));
    if (step.gate) {
      inputs.push({
        ref: `@gate-${step.id}`,
        title: `Gate (${step.gate.type}) before ${step.title}`,
        type: 'gate',
        parent: '@root',
        ...common,
        metadata: {
          await_type: step.gate.type,
          ...(step.gate.await_id ? { await_id: step.gate.await_id } : {}),
          ...(step.gate.timeout ? { timeout: step.gate.timeout } : {}),
          ...(step.gate.command ? { command: step.gate.command } : {}),
          ...(step.gate.command && options.commandsVouchedBy ? { command_approved_by: options.commandsVouchedBy, command_approved: step.gate.command } : {}),
          ...(step.gate.interval ? { interval: step.gate.interval } : {}),
          step: step.id,
        },
      });
      deps.push({ type: 'blocks', id: `@gate-${step.id}` });
    }
    inputs.push({
      ref: `@${step.id}`,
      title: step.title,
      description: step.description,
      type: step.type,
      priority: step.priority,
      labels: step.labels,
      parent: step.parent ? `@${step.parent}` : '@root',
      deps,
      ...common,
      noInheritLabels: true,
      ...(step.notes ? { notes: step.notes } : {}),
      ...(step.assignee ? { assignee: step.assignee } : {}),
      metadata: { ...step.metadata, formula: cooked.formula, step: step.id, ...(step.run ? { run: step.run } : {}) },
      ...(step.waits_for ? { waitsFor: { spawner: `@${step.needs[0] ?? step.parent ?? 'root'}`, gate: step.waits_for } } : {}),
    });
    placed.add(step.id);
  }
  const created = await (options.commandsVouchedBy ? ledger.unguarded() : ledger).createMany(inputs);
  const idOf = (ref: string) => created[ref] as string;
  return {
    root: idOf('@root'),
    ephemeral,
    created: inputs.length,
    steps: Object.fromEntries(cooked.steps.map((s) => [s.id, idOf(`@${s.id}`)])),
    gates: Object.fromEntries(cooked.steps.filter((s) => s.gate).map((s) => [s.id, idOf(`@gate-${s.id}`)])),
  };
}

export interface MoleculeView {
  root: Issue;
  steps: Issue[];
  closed: number;
  total: number;
  /** Ready steps, in ready order: what to work on now. */
  current: Issue[];
}

export async function moleculeView(ledger: Ledger, idText: string): Promise<MoleculeView> {
  const id = await ledger.resolveAs(idText, notFoundError(`no molecule ${JSON.stringify(idText)}`));
  const root = await ledger.find(id);
  if (!root || (root.issue_type !== 'molecule' && !root.ephemeral)) throw notFoundError(`${idText} is not a molecule`, 'pour one with bd mol pour <formula>');
  const steps = (await ledger.list({ parent: id, includeEphemeral: true, limit: 0, sort: 'id' })).filter((s) => s.issue_type !== 'gate');
  const current = await ledger.ready({ mol: id, includeEphemeral: true, limit: 0 });
  return { root, steps, closed: steps.filter((s) => s.status === 'closed').length, total: steps.length, current };
}

export interface MoleculeProgress {
  root: Issue;
  closed: number;
  total: number;
  /** Ready steps: what to work on now. */
  current: Issue[];
  /** Open steps not ready yet, in id order. */
  next: Issue[];
  /** Open gates of the molecule: what its blocked steps wait on. */
  gates: Issue[];
}

export async function moleculeProgress(ledger: Ledger, rootId: string): Promise<MoleculeProgress> {
  const view = await moleculeView(ledger, rootId);
  const current = view.current.filter((s) => s.issue_type !== 'gate');
  const now = new Set(current.map((s) => s.id));
  const gates = await ledger.list({ parent: view.root.id, types: ['gate'], excludeStatuses: ['closed'], includeEphemeral: true, limit: 0, sort: 'id' });
  return { root: view.root, closed: view.closed, total: view.total, current, gates, next: view.steps.filter((s) => s.status !== 'closed' && !now.has(s.id)) };
}

/** Deletes a molecule: root, steps and gates, in one transaction. */
export async function burnMolecule(ledger: Ledger, idText: string): Promise<string[]> {
  const view = await moleculeView(ledger, idText);
  const all = await ledger.list({ parent: view.root.id, includeEphemeral: true, limit: 0 });
  return ledger.delete([view.root.id, ...all.map((i) => i.id)]);
}

/**
 * Squashes a molecule into one permanent digest bead: a summary (given, or the
 * steps' titles and close reasons), then the steps are deleted unless kept.
 */
export async function squashMolecule(
  ledger: Ledger,
  idText: string,
  options: { summary?: string; keepChildren?: boolean } = {},
): Promise<{ molecule: string; digest: string; squashed: string[]; deleted: number }> {
  const view = await moleculeView(ledger, idText);
  const summary = options.summary ?? view.steps.map((s) => `- ${s.title}: ${s.status}${s.close_reason ? ` (${s.close_reason})` : ''}`).join('\n');
  const digest = await ledger.create({
    title: `Digest: ${view.root.title}`,
    description: summary,
    type: 'task',
    status: 'closed',
    metadata: { squashed_from: view.root.id, formula: view.root.metadata?.formula ?? null },
  });
  let deleted = 0;
  if (!options.keepChildren) {
    const all = await ledger.list({ parent: view.root.id, includeEphemeral: true, limit: 0 });
    deleted = (await ledger.delete([view.root.id, ...all.map((i) => i.id)])).length;
  }
  return { molecule: view.root.id, digest: digest.id, squashed: view.steps.map((s) => s.id), deleted };
}
