import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CreateInput, Ledger } from '../../../core/beads/ledger.js';
import { usageError, validationError } from '../../../shared/errors.js';
import { action, type BdContext } from '../context.js';
import { collect, estimateOption, metadataOption, priorityOption, whenOption } from '../options.js';
import { jsonIssue } from '../render.js';

interface CreateOptions {
  title?: string;
  type?: string;
  priority?: string;
  description?: string;
  bodyFile?: string;
  stdin?: boolean;
  design?: string;
  acceptance?: string;
  notes?: string;
  assignee?: string;
  owner?: string;
  labels?: string[];
  parent?: string;
  deps?: string[];
  waitsFor?: string;
  waitsForGate?: string;
  id?: string;
  externalRef?: string;
  specId?: string;
  metadata?: string;
  estimate?: string;
  due?: string;
  defer?: string;
  ephemeral?: boolean;
  noHistory?: boolean;
  wispType?: string;
  molType?: string;
  noInheritLabels?: boolean;
  silent?: boolean;
  rig?: string;
}

function readText(path: string): string {
  if (path === '-') return readFileSync(0, 'utf8');
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw validationError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

/** `--deps 'blocks:bd-1,discovered-from:bd-2'`; a bare ID means blocks. `blocks:X` means the new issue blocks X (Beads ≥ 0.51). */
function parseDeps(values: string[] | undefined): CreateInput['deps'] {
  return (values ?? []).map((spec) => {
    const colon = spec.lastIndexOf(':');
    if (colon < 0) return { type: 'blocks', id: spec };
    const kind = spec.slice(0, colon);
    const id = spec.slice(colon + 1);
    if (id === '') throw usageError(`--deps entry ${JSON.stringify(spec)} has no issue ID`, "e.g. --deps 'blocks:bd-a3f,discovered-from:bd-9x2'");
    if (kind === 'depends-on' || kind === 'blocked-by') return { type: 'blocks', id };
    if (kind === 'blocks') return { type: 'blocks', id, reverse: true };
    return { type: kind, id };
  });
}

function addCreateOptions(cmd: Command): Command {
  return cmd
    .option('--title <title>', 'title (instead of the positional argument)')
    .option('-t, --type <type>', 'bug|feature|task|epic|chore|decision|spike|story|milestone|… (default task)')
    .option('-p, --priority <priority>', '0-4 or P0-P4 (0 = critical; default 2)')
    .option('-d, --description <text>', 'description (markdown)')
    .option('--body-file <file>', 'read the description from a file (- for stdin)')
    .option('--stdin', 'read the description from stdin')
    .option('--design <text>', 'design notes')
    .option('--acceptance <text>', 'acceptance criteria')
    .option('--notes <text>', 'notes')
    .option('-a, --assignee <name>', 'assignee')
    .option('--owner <name>', 'human owner')
    .option('-l, --labels <labels>', 'labels, comma-separated (repeatable)', collect)
    .option('--parent <id>', 'create as a child <parent>.<n> with a parent-child edge')
    .option('--deps <deps>', "edges, e.g. 'discovered-from:bd-1,blocks:bd-2' (a bare ID = depends on it)", collect)
    .option('--waits-for <spawner>', 'fan-in gate: wait for the children of <spawner>')
    .option('--waits-for-gate <gate>', 'all-children (default) or any-children')
    .option('--id <id>', 'explicit ID instead of a generated hash')
    .option('--external-ref <ref>', 'external reference, e.g. gh-9')
    .option('--spec-id <id>', 'link to a spec document')
    .option('--metadata <json>', 'JSON object, or @file')
    .option('-e, --estimate <minutes>', 'estimated minutes')
    .option('--due <when>', 'due time (+6h, tomorrow, 2025-01-15, RFC3339)')
    .option('--defer <when>', 'hide from ready until this time')
    .option('--ephemeral', 'wisp: never exported')
    .option('--no-history', 'durable but kept out of history')
    .option('--wisp-type <type>', 'wisp TTL class')
    .option('--mol-type <type>', 'molecule type: swarm|patrol|work')
    .option('--no-inherit-labels', "don't copy the parent's labels")
    .option('--silent', 'print only the new ID')
    .option('--rig <rig>', "in a gt town: use this rig's prefix (default: the rig of the current directory)");
}

function toInput(title: string | undefined, o: CreateOptions): CreateInput {
  // commander turns --no-history into history=false; read it back explicitly.
  const raw = o as CreateOptions & { history?: boolean; inheritLabels?: boolean };
  let description = o.description;
  const bodyFile = o.stdin ? '-' : o.bodyFile;
  if (bodyFile !== undefined) {
    if (description !== undefined) throw usageError('give the description with one of -d, --body-file or --stdin');
    description = readText(bodyFile);
  }
  if (o.waitsForGate !== undefined && !['all-children', 'any-children'].includes(o.waitsForGate)) {
    throw validationError(`invalid --waits-for-gate ${JSON.stringify(o.waitsForGate)}`, 'use all-children or any-children');
  }
  const input: CreateInput = {
    title,
    type: o.type,
    priority: priorityOption(o.priority),
    description,
    design: o.design,
    acceptance_criteria: o.acceptance,
    notes: o.notes,
    assignee: o.assignee,
    owner: o.owner,
    labels: o.labels,
    parent: o.parent,
    deps: parseDeps(o.deps),
    id: o.id,
    external_ref: o.externalRef,
    spec_id: o.specId,
    metadata: metadataOption(o.metadata, readText),
    estimated_minutes: estimateOption(o.estimate),
    due_at: whenOption(o.due, '--due') ?? undefined,
    defer_until: whenOption(o.defer, '--defer') ?? undefined,
    ephemeral: o.ephemeral,
    no_history: raw.history === false,
    wisp_type: o.wispType,
    mol_type: o.molType,
    noInheritLabels: raw.inheritLabels === false,
  };
  if (o.waitsFor !== undefined) input.waitsFor = { spawner: o.waitsFor, gate: (o.waitsForGate ?? 'all-children') as 'all-children' | 'any-children' };
  return input;
}

async function withPrefix(ctx: BdContext, ledger: Ledger, input: CreateInput, rig: string | undefined): Promise<CreateInput> {
  if (input.parent !== undefined || input.id !== undefined) return input;
  let prefix: string | undefined;
  try {
    prefix = ctx.createPrefix(rig);
  } catch (error) {
    // A town across hosts: a rig placed on another host has no directory here, only its bead (with its prefix).
    const bead = rig === undefined ? undefined : await ledger.find(`hq-rig-${rig}`);
    const placed = bead && bead.status !== 'closed' && typeof bead.metadata?.prefix === 'string' ? bead.metadata.prefix : undefined;
    if (!placed) throw error;
    prefix = placed;
  }
  return prefix ? { ...input, prefix } : input;
}

export default function register(program: Command, ctx: BdContext): void {
  addCreateOptions(program.command('create').alias('new').argument('[title]', 'the issue title').description('Create an issue'))
    .addHelpText(
      'after',
      `
Examples:
  bd create "Fix login timeout" -t bug -p 1
  bd create "Write docs" --parent bd-a3f -l docs
  bd create "Found while testing" --deps discovered-from:bd-a3f --json`,
    )
    .action(
      action(ctx, async (title, opts) => {
        const o = opts as CreateOptions;
        const ledger = await ctx.ledger();
        const issue = await ledger.create(await withPrefix(ctx, ledger, toInput((title as string | undefined) ?? o.title, o), o.rig));
        if (o.silent) return ctx.out(issue.id);
        ctx.emit(
          jsonIssue(issue),
          () => `✓ Created issue: ${ctx.style.bold(issue.id)}\n  Title: ${issue.title}\n  Priority: P${issue.priority}\n  Status: ${issue.status}`,
        );
      }),
    );

  addCreateOptions(program.command('q').argument('[title]', 'the issue title').description('Quick create: print only the new ID'))
    .addHelpText('after', '\nExample:\n  id=$(bd q "Flaky test in auth" -t bug)')
    .action(
      action(ctx, async (title, opts) => {
        const o = opts as CreateOptions;
        const ledger = await ctx.ledger();
        const issue = await ledger.create(await withPrefix(ctx, ledger, toInput((title as string | undefined) ?? o.title, o), o.rig));
        ctx.out(issue.id);
      }),
    );
}
