/**
 * The refinery (design §2.7, baseline): merge requests of a rig, one at a
 * time in priority then age order — rebase onto the target in the refinery's
 * own worktree, run the rig's test command, fast-forward the target, push,
 * close the request and the bead, delete the merged branch. A conflict or a
 * failing test rejects the request: the bead goes back to open and the
 * worker and dispatcher get mail with the output. The refinery worktree is
 * gt's own, so it is reset freely; no worker's files are ever touched.
 */
import { parseDuration } from '../../shared/duration.js';
import { checkConvoys } from './convoys.js';
import type { Issue } from '../beads/types.js';
import { Mailbox } from './mail.js';
import type { Town } from './town.js';
import { single } from '../beads/ledger.js';

export interface MergeOutcome {
  merge_request: string;
  bead: string;
  branch: string;
  result: 'merged' | 'rejected';
  commit?: string;
  reason?: string;
  pushed?: boolean;
}

const OUTPUT_TAIL = 3000;

function tail(text: string): string {
  return text.length <= OUTPUT_TAIL ? text : `…${text.slice(-OUTPUT_TAIL)}`;
}

export async function mergeQueue(town: Town, rig: string): Promise<Issue[]> {
  const mrs = await town.ledger.list({ types: ['merge-request'], metadataFields: { rig }, excludeStatuses: ['closed'], includeEphemeral: true, limit: 0 });
  return mrs.sort((a, b) => a.priority - b.priority || a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
}

/**
 * Processes every waiting merge request of `rig`. Holds the rig's refinery
 * lock; returns [] at once if another refinery is at work.
 */
export async function runRefinery(town: Town, rigName: string, options: { limit?: number } = {}): Promise<MergeOutcome[]> {
  const { files } = town.ports;
  let release: () => void;
  try {
    release = await files.lock(town.path('.gt', 'locks', `refinery-${rigName}.lock`), { waitMs: 0 });
  } catch {
    return [];
  }
  try {
    const outcomes: MergeOutcome[] = [];
    for (const mr of (await mergeQueue(town, rigName)).slice(0, options.limit ?? Infinity)) outcomes.push(await mergeOne(town, rigName, mr));
    return outcomes;
  } finally {
    release();
  }
}

async function mergeOne(town: Town, rigName: string, mr: Issue): Promise<MergeOutcome> {
  const { git, shell, progress } = town.ports;
  const rig = town.rig(rigName);
  const work = town.path(rigName, 'refinery');
  const meta = (mr.metadata ?? {}) as Record<string, string>;
  const branch = meta.branch ?? '';
  const bead = meta.source_issue ?? '';
  const target = meta.target ?? rig.default_branch;
  const outcome: MergeOutcome = { merge_request: mr.id, bead, branch, result: 'rejected' };
  progress(`refinery ${rigName}: ${mr.id} ${branch} → ${target}`);

  // A clean start on the target, whatever an interrupted run left behind.
  await git.probe(work, ['rebase', '--abort']);
  await git.run(work, ['checkout', '-q', '-f', target]);
  await git.run(work, ['reset', '-q', '--hard']);
  await git.run(work, ['clean', '-q', '-fdx']);
  await followUpstream(town, rigName, target);

  const tip = await git.probe(work, ['rev-parse', '--verify', '-q', `refs/heads/${branch}^{commit}`]);
  if (tip.code !== 0) return reject(town, mr, outcome, `branch ${branch} no longer exists`, '');
  await git.run(work, ['checkout', '-q', '--detach', tip.stdout.trim()]);
  // Rebased commits keep their authors; the refinery is their committer.
  const committer = { GIT_COMMITTER_NAME: `${rigName}/refinery`, GIT_COMMITTER_EMAIL: `${rigName}.refinery@gt.local` };
  const rebase = await git.probe(work, ['rebase', target], { env: committer });
  if (rebase.code !== 0) {
    const conflicts = (await git.probe(work, ['diff', '--name-only', '--diff-filter=U'])).stdout.trim();
    await git.probe(work, ['rebase', '--abort']);
    await git.run(work, ['checkout', '-q', '-f', target]);
    return reject(town, mr, outcome, `conflict rebasing onto ${target}${conflicts ? ` in ${conflicts.split('\n').join(', ')}` : ''}`, rebase.stdout + rebase.stderr);
  }
  const rebased = (await git.run(work, ['rev-parse', 'HEAD'])).trim();
  if (rig.merge.test.trim()) {
    progress(`refinery ${rigName}: testing ${mr.id} with: ${rig.merge.test}`);
    const env = { ...town.ports.baseEnv, GT_ROOT: town.root, GT_RIG: rigName, GT_ROLE: 'refinery', GT_MERGE_REQUEST: mr.id };
    const result = await shell.run(rig.merge.test, { cwd: work, env, timeoutMs: parseDuration(rig.merge.test_timeout) });
    if (result.code !== 0 || result.timedOut) {
      await git.run(work, ['checkout', '-q', '-f', target]);
      const why = result.timedOut ? `tests timed out after ${rig.merge.test_timeout}` : `tests failed (exit ${result.code})`;
      return reject(town, mr, outcome, why, result.stdout + result.stderr);
    }
  }
  await git.run(work, ['checkout', '-q', target]);
  await git.run(work, ['merge', '-q', '--ff-only', rebased]);
  outcome.result = 'merged';
  outcome.commit = rebased;
  if (rig.merge.push) {
    const push = await git.probe(work, ['push', '-q', 'origin', `${target}:${target}`]);
    outcome.pushed = push.code === 0;
    if (push.code !== 0) progress(`refinery ${rigName}: warning: push to origin failed (merged locally): ${push.stderr.trim().split('\n').pop() ?? ''}`);
  }
  const reason = `Merged in ${rebased.slice(0, 12)}`;
  single(await town.ledger.update([mr.id], { setMetadata: { merged_commit: rebased, merged_at: town.ports.now(), ...(outcome.pushed === false ? { push_failed: true } : {}) } }));
  single(await town.ledger.close([mr.id], { reason, force: true }));
  if (bead) {
    // Merged work is done work, whatever the bead's other links say.
    const closeBead = await town.ledger.close([bead], { reason, force: true });
    if (closeBead.failed[0]) progress(`refinery ${rigName}: warning: could not close ${bead}: ${closeBead.failed[0].error.message}`);
    // A close event: the convoys tracking this bead may have landed.
    else for (const landed of await checkConvoys(town, { bead })) progress(`refinery ${rigName}: convoy ${landed.id} "${landed.name}" landed`);
  }
  // Its change is in the target now; a branch still checked out somewhere is left alone.
  await git.probe(work, ['branch', '-D', branch]);
  progress(`refinery ${rigName}: merged ${mr.id} as ${rebased.slice(0, 12)}`);
  return outcome;
}

/** Fast-forwards the local target to origin's when origin moved ahead (someone pushed upstream). */
async function followUpstream(town: Town, rigName: string, target: string): Promise<void> {
  const { git } = town.ports;
  const work = town.path(rigName, 'refinery');
  if ((await git.probe(work, ['fetch', '-q', 'origin'])).code !== 0) return;
  const upstream = await git.probe(work, ['rev-parse', '--verify', '-q', `refs/remotes/origin/${target}`]);
  if (upstream.code !== 0) return;
  const ahead = await git.probe(work, ['merge-base', '--is-ancestor', 'HEAD', upstream.stdout.trim()]);
  if (ahead.code === 0) await git.probe(work, ['merge', '-q', '--ff-only', upstream.stdout.trim()]);
}

async function reject(town: Town, mr: Issue, outcome: MergeOutcome, reason: string, output: string): Promise<MergeOutcome> {
  const { ledger } = town;
  const { progress } = town.ports;
  outcome.reason = reason;
  progress(`refinery: rejected ${mr.id}: ${reason}`);
  const meta = (mr.metadata ?? {}) as Record<string, string>;
  single(await ledger.update([mr.id], { setMetadata: { rejected: reason, rejected_at: town.ports.now() } }));
  single(await ledger.close([mr.id], { reason: `Rejected: ${reason}`, force: true }));
  const body = `${reason}.\n\nBranch ${meta.branch ?? '?'} is kept as it was. Fix it and run gt done again, or re-sling the bead.\n\n${tail(output).trim()}`;
  if (outcome.bead) {
    const [bead] = await ledger.show([outcome.bead]).catch(() => []);
    if (bead && bead.status !== 'closed') {
      single(await ledger.update([bead.id], { status: 'open', assignee: null, appendNotes: `Merge rejected (${mr.id}): ${reason}` }));
    }
    const mailbox = new Mailbox(ledger, `${meta.rig ?? 'unknown'}/refinery`);
    const to = new Set([meta.worker, typeof bead?.metadata?.hooked_by === 'string' ? bead.metadata.hooked_by : undefined].filter((a): a is string => !!a && isAddress(a)));
    for (const address of to) await mailbox.send(address, `MERGE_FAILED ${outcome.bead}: ${reason}`, body, { kind: 'protocol', priority: 1 });
  }
  return outcome;
}

function isAddress(text: string): boolean {
  return ['mayor', 'deacon', 'human'].includes(text) || /^[a-z][a-z0-9_-]*\/(witness|refinery|(crew|polecats)\/[a-z][a-z0-9_-]*)$/.test(text);
}
