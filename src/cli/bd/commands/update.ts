import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { UpdateInput } from '../../../core/beads/ledger.js';
import { parseMetadata } from '../../../core/beads/rules.js';
import { usageError, validationError } from '../../../shared/errors.js';
import { finishBatch } from '../batch.js';
import { action, type BdContext } from '../context.js';
import { collect, estimateOption, keyValues, priorityOption, whenOption } from '../options.js';

interface UpdateOptions {
  title?: string;
  description?: string;
  design?: string;
  acceptance?: string;
  notes?: string;
  appendNotes?: string;
  status?: string;
  priority?: string;
  type?: string;
  assignee?: string;
  owner?: string;
  claim?: boolean;
  addLabel?: string[];
  removeLabel?: string[];
  setLabels?: string[];
  parent?: string;
  defer?: string;
  due?: string;
  estimate?: string;
  externalRef?: string;
  specId?: string;
  metadata?: string;
  setMetadata?: string[];
  unsetMetadata?: string[];
  awaitId?: string;
  ephemeral?: boolean;
  persistent?: boolean;
  reason?: string;
}

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('update')
    .argument('[ids...]', 'issue IDs (default: the last one touched)')
    .description('Change fields of issues; --claim takes one atomically')
    .option('--title <title>')
    .option('-d, --description <text>')
    .option('--design <text>')
    .option('--acceptance <text>')
    .option('--notes <text>', 'replace the notes')
    .option('--append-notes <text>', 'append a line to the notes')
    .option('-s, --status <status>', 'open|in_progress|blocked|deferred|closed|pinned|hooked or a custom status')
    .option('-p, --priority <priority>', '0-4 or P0-P4')
    .option('-t, --type <type>')
    .option('-a, --assignee <name>', 'assignee ("" to clear)')
    .option('--owner <name>')
    .option('--claim', 'assign to yourself and start, only if open and unclaimed (compare-and-swap)')
    .option('--add-label <labels>', 'add labels', collect)
    .option('--remove-label <labels>', 'remove labels', collect)
    .option('--set-labels <labels>', 'replace all labels', collect)
    .option('--parent <id>', 'move under another parent ("" removes the parent; the ID never changes)')
    .option('--defer <when>', 'hide from ready until then ("" clears)')
    .option('--due <when>', 'due time ("" clears)')
    .option('-e, --estimate <minutes>')
    .option('--external-ref <ref>')
    .option('--spec-id <id>')
    .option('--metadata <json>', 'replace metadata (JSON object or @file)')
    .option('--set-metadata <k=v>', 'set one metadata key (repeatable)', collect)
    .option('--unset-metadata <key>', 'remove a metadata key (repeatable)', collect)
    .option('--await-id <id>', 'gate condition identifier')
    .option('--ephemeral', 'make it a wisp')
    .option('--persistent', 'make a wisp durable')
    .option('--no-history', 'keep it durable but out of history')
    .option('--history', 'undo --no-history')
    .option('-r, --reason <text>', 'close reason when --status closed')
    .addHelpText(
      'after',
      '\nExamples:\n  bd update bd-a3f --claim\n  bd update bd-a3f -p P0 --add-label urgent\n  bd update bd-a3f --append-notes "tried X, failed"',
    )
    .action(
      action(ctx, async (ids, opts) => {
        const o = opts as UpdateOptions;
        const ledger = await ctx.ledger();
        let list = ids as string[];
        if (list.length === 0) {
          const last = await ledger.lastTouched();
          if (!last) throw usageError('no issue ID provided', 'e.g. bd update bd-a3f --claim');
          list = [last];
        }
        if (o.ephemeral && o.persistent) throw usageError('--ephemeral and --persistent contradict each other');
        let metadata: Record<string, unknown> | undefined;
        if (o.metadata !== undefined) {
          const text = o.metadata.startsWith('@') ? readFileSync(o.metadata.slice(1), 'utf8') : o.metadata;
          metadata = parseMetadata(text);
        }
        const setMetadata = keyValues(o.setMetadata, '--set-metadata');
        const input: UpdateInput = {
          title: o.title,
          description: o.description,
          design: o.design,
          acceptance_criteria: o.acceptance,
          notes: o.notes,
          appendNotes: o.appendNotes,
          status: o.status,
          priority: priorityOption(o.priority),
          type: o.type,
          assignee: o.assignee === undefined ? undefined : o.assignee === '' ? null : o.assignee,
          owner: o.owner === undefined ? undefined : o.owner === '' ? null : o.owner,
          claim: o.claim,
          addLabels: o.addLabel,
          removeLabels: o.removeLabel,
          setLabels: o.setLabels,
          parent: o.parent === undefined ? undefined : o.parent === '' ? null : o.parent,
          defer_until: whenOption(o.defer, '--defer'),
          due_at: whenOption(o.due, '--due'),
          estimated_minutes: estimateOption(o.estimate),
          external_ref: o.externalRef === undefined ? undefined : o.externalRef || null,
          spec_id: o.specId === undefined ? undefined : o.specId || null,
          metadata,
          setMetadata,
          unsetMetadata: o.unsetMetadata,
          await_id: o.awaitId,
          ephemeral: o.ephemeral ? true : o.persistent ? false : undefined,
          no_history: (o as { history?: boolean }).history === undefined ? undefined : !(o as { history?: boolean }).history,
          closeReason: o.reason,
        };
        if (Object.values(input).every((v) => v === undefined)) {
          throw validationError('nothing to update', 'give at least one field flag, e.g. --status in_progress; see bd update --help');
        }
        const result = await ledger.update(list, input);
        return finishBatch(ctx, list, result, (issue) => `✓ Updated issue: ${ctx.style.bold(issue.id)}`);
      }),
    );
}
