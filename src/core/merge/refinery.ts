/**
 * The refinery (design §2.7): a Bors-style batching merge queue per rig.
 *
 * Requests are taken in queue order (priority, aged against starvation, then
 * arrival), up to `merge.batch_size` at a time. Each batch becomes one
 * candidate in a fresh integration worktree — every branch rebased (or
 * merged) onto the target in order — and the rig's gates (setup, typecheck,
 * lint, test) run once on it. Green: the target fast-forwards to the
 * candidate and every request in it is merged. Red: the batch is bisected;
 * the halves that pass land, the culprits are rejected with the failing
 * output. A branch that does not apply is rejected alone, and a
 * resolve-conflict molecule is slung back to its worker.
 *
 * Invariants, whatever happens (a crash included): the target is either
 * unchanged or fast-forwarded to a commit whose gates passed; the integration
 * worktree is discarded; each request is queued (open), merged or rejected
 * (closed, with metadata saying which). A journal written before the
 * fast-forward lets the next run finish closing a batch that landed just
 * before a crash.
 */
import { lockFile, refineryJournal } from '../../shared/paths.js';
import { parseDuration } from '../../shared/duration.js';
import { conflictError, errorMessage, notFoundError } from '../../shared/errors.js';
import { redactSecrets } from '../../shared/secrets.js';
import { shellQuote } from '../../shared/shell.js';
import { single } from '../beads/ledger.js';
import type { GitPort } from '../town/ports.js';
import type { Issue } from '../beads/types.js';
import { BUILTIN_FORMULAS } from '../formulas/builtin.js';
import { cookFormula, parseFormula } from '../formulas/formula.js';
import { burnMolecule, pourMolecule } from '../formulas/molecule.js';
import { checkConvoys } from '../work/convoys.js';
import { parseIdentity } from '../agents/identity.js';
import { Mailbox } from '../comms/mail.js';
import { raiseEscalation, settleEscalations } from '../comms/escalations.js';
import type { Town } from '../town/town.js';
import { slingBeads, type RuntimeProbe } from '../work/work.js';

export interface MergeOutcome {
  merge_request: string;
  bead: string;
  branch: string;
  result: 'merged' | 'rejected' | 'pr-opened';
  commit?: string;
  reason?: string;
  pushed?: boolean;
  /** How many requests the candidate that merged this one held. */
  batch?: number;
  pr?: string;
  /** The resolve-conflict molecule slung for a branch that did not apply. */
  conflict_molecule?: string;
}

export interface RefineryOptions {
  /** Stop after this many requests have an outcome. */
  limit?: number;
  /** Lets a conflict's resolve-conflict molecule start a session; without it the molecule is hooked only. */
  probe?: RuntimeProbe;
}

const OUTPUT_TAIL = 3000;
const GATES = ['setup', 'typecheck', 'lint', 'test'] as const;

function tail(text: string): string {
  return text.length <= OUTPUT_TAIL ? text : `…${text.slice(-OUTPUT_TAIL)}`;
}

function metaOf(mr: Issue): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(mr.metadata ?? {})) if (typeof v === 'string') out[k] = v;
  return out;
}

/** A request as progress lines name it: its bead (what summaries name) and the request's own ID. */
function named(mr: Issue): string {
  const bead = metaOf(mr).source_issue;
  return bead ? `${bead} (MR ${mr.id})` : mr.id;
}

/** Priority after aging: each `aging` interval waited moves a request up one level (P0 is the top). */
export function effectivePriority(mr: Pick<Issue, 'priority' | 'created_at'>, now: number, agingMs: number): number {
  const waited = Math.max(0, now - Date.parse(mr.created_at));
  return Math.max(0, mr.priority - Math.floor(waited / agingMs));
}

/** The rig's queued requests in merge order: effective priority, then arrival (FIFO), then id. */
export async function mergeQueue(town: Town, rig: string): Promise<Issue[]> {
  const mrs = await town.ledger.list({ types: ['merge-request'], metadataFields: { rig }, excludeStatuses: ['closed'], includeEphemeral: true, limit: 0 });
  const agingMs = parseDuration(town.rig(rig).merge.aging);
  const now = Date.parse(town.ports.now());
  const rank = new Map(mrs.map((mr) => [mr.id, effectivePriority(mr, now, agingMs)]));
  return mrs.sort((a, b) => (rank.get(a.id) as number) - (rank.get(b.id) as number) || a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
}

/** What a batch in flight wrote before fast-forwarding the target: enough to finish it after a crash. */
interface Journal {
  target: string;
  candidate: string;
  /** Merge request id → its commit in the candidate. */
  commits: Record<string, string>;
}

interface Included {
  mr: Issue;
  commit: string;
}

interface GateFailure {
  reason: string;
  output: string;
}

/** One refinery run over one rig: holds its paths and collects outcomes. */
class RefineryRun {
  readonly outcomes: MergeOutcome[] = [];
  private stalled = false;
  private readonly conflicts: Array<{ mr: Issue; files: string[]; outcome: MergeOutcome }> = [];

  /**
   * git for the merge queue, with the repository's hooks off: the shared
   * repository's config is within an agent's reach (its worktree shares it),
   * and hooks run with the person's environment here. The merge gates are the
   * rig's, from rig.toml.
   */
  private readonly git: GitPort;

  constructor(
    private readonly town: Town,
    private readonly rig: string,
    private readonly options: RefineryOptions,
  ) {
    this.git = withoutHooks(town.ports.git);
  }

  private get config() {
    return this.town.rig(this.rig);
  }

  get target(): string {
    return this.config.default_branch;
  }

  get repo(): string {
    return this.town.repoDir(this.rig);
  }

  /** The refinery's own worktree, always on the target branch: where the fast-forward happens. */
  get work(): string {
    return this.town.path(this.rig, 'refinery');
  }

  /** Where candidates are built; created fresh per candidate, removed after. */
  get integration(): string {
    return this.town.path(this.rig, '.integration');
  }

  get journalPath(): string {
    return this.town.path(refineryJournal(this.rig));
  }

  /** Rebased commits keep their authors; the refinery is their committer (and the author of a merge commit). */
  private identity(role: 'COMMITTER' | 'AUTHOR'): Record<string, string> {
    return { [`GIT_${role}_NAME`]: `${this.rig}/refinery`, [`GIT_${role}_EMAIL`]: `${this.rig}.refinery@gt.local` };
  }

  /**
   * Pushes to the real origin, by its URL: `origin`'s push URL is gt's bare
   * repository itself, so agents' pushes never leave it (rigs.ts,
   * protectRepository). Never forced.
   */
  private async pushUpstream(refspec: string) {
    const { git } = this;
    const url = await git.probe(this.repo, ['config', '--get', 'remote.origin.url']);
    if (url.code !== 0) return { code: 1, stdout: '', stderr: `${this.repo} has no origin URL` };
    return git.probe(this.repo, ['push', '-q', '--', url.stdout.trim(), refspec]);
  }

  private progress(text: string): void {
    // git's and the gates' output may name a URL with its credential or print a token.
    this.town.ports.progress(redactSecrets(`refinery ${this.rig}: ${text}`));
  }

  private remaining(): number {
    return (this.options.limit ?? Infinity) - this.outcomes.length;
  }

  async run(): Promise<void> {
    try {
      await this.recover();
      // Requests already tracked by a pull request settle by their gate, whatever the mode is now.
      await this.settlePullRequests();
      if (this.config.merge.merge_via === 'pr') await this.openPullRequests();
      else await this.runBatches();
    } finally {
      // Whatever happened, no candidate outlives the run.
      await this.discardIntegration();
    }
  }

  private async runBatches(): Promise<void> {
    while (!this.stalled && this.remaining() > 0) {
      const queue = (await mergeQueue(this.town, this.rig)).filter((mr) => !mr.metadata?.pr);
      if (queue.length === 0) break;
      await this.cleanTarget();
      const batch = queue.slice(0, Math.min(this.config.merge.batch_size, this.remaining()));
      if (batch.length > 1) this.progress(`batch of ${batch.length}: ${batch.map(named).join(', ')}`);
      await this.land(batch);
      await this.dispatchConflicts();
    }
  }

  /**
   * Lands what it can of `mrs`: builds the candidate, runs the gates, and on
   * red bisects along the failing path only. `knownRed`: these requests on
   * top of the current target are known to fail (their batch failed and the
   * half before them passed), so their own run is skipped. A half that was
   * never tested is left in the queue, where the next batch takes it with
   * whatever arrived since: every call merges or rejects at least one request.
   * Returns whether every request of `mrs` merged.
   */
  private async land(mrs: Issue[], knownRed?: GateFailure): Promise<boolean> {
    if (knownRed && mrs.length === 1) {
      await this.reject(mrs[0] as Issue, `${knownRed.reason}; bisecting its batch found this request`, knownRed.output);
      return false;
    }
    let failure = knownRed;
    let requests = mrs;
    if (!failure) {
      const built = await this.build(mrs);
      if (built.included.length === 0) return false;
      failure = await this.runGates(built.included);
      if (!failure) {
        await this.fastForward(built.candidate, built.included);
        return built.included.length === mrs.length;
      }
      if (built.included.length === 1) {
        await this.reject((built.included[0] as Included).mr, failure.reason, failure.output);
        return false;
      }
      this.progress(`${failure.reason} with ${built.included.length} requests; bisecting`);
      requests = built.included.map((i) => i.mr);
    }
    const half = Math.ceil(requests.length / 2);
    const firstLanded = await this.land(requests.slice(0, half));
    // Deterministic gates: the whole failed and the first half landed whole, so the second fails on top of it.
    if (firstLanded && !this.stalled) await this.land(requests.slice(half), failure);
    return false;
  }

  /** A fresh integration worktree at the target with each request applied in order; the ones that do not apply are rejected. */
  private async build(mrs: Issue[]): Promise<{ candidate: string; included: Included[] }> {
    const { git } = this;
    await this.discardIntegration();
    await git.run(this.repo, ['worktree', 'add', '-q', '--detach', this.integration, this.target]);
    const dir = this.integration;
    let candidate = (await git.run(dir, ['rev-parse', 'HEAD'])).trim();
    const included: Included[] = [];
    for (const mr of mrs) {
      const { branch = '' } = metaOf(mr);
      const tip = await git.probe(this.repo, ['rev-parse', '--verify', '-q', `refs/heads/${branch}^{commit}`]);
      if (tip.code !== 0) {
        await this.reject(mr, `branch ${branch} no longer exists`, '');
        continue;
      }
      const applied =
        this.config.merge.strategy === 'merge'
          ? await git.probe(dir, ['merge', '-q', '--no-ff', '-m', `Merge ${branch} (${mr.id})`, tip.stdout.trim()], {
              env: { ...this.identity('COMMITTER'), ...this.identity('AUTHOR') },
            })
          : await this.rebaseOnto(dir, tip.stdout.trim(), candidate);
      if (applied.code !== 0) {
        const conflicts = (await git.probe(dir, ['diff', '--name-only', '--diff-filter=U'])).stdout.trim().split('\n').filter(Boolean);
        await git.probe(dir, [this.config.merge.strategy === 'merge' ? 'merge' : 'rebase', '--abort']);
        await git.run(dir, ['checkout', '-q', '-f', '--detach', candidate]);
        await this.conflict(mr, conflicts, applied.stdout + applied.stderr);
        continue;
      }
      candidate = (await git.run(dir, ['rev-parse', 'HEAD'])).trim();
      included.push({ mr, commit: candidate });
    }
    return { candidate, included };
  }

  private async rebaseOnto(dir: string, tip: string, candidate: string) {
    const { git } = this;
    await git.run(dir, ['checkout', '-q', '-f', '--detach', tip]);
    return git.probe(dir, ['rebase', '-q', candidate], { env: this.identity('COMMITTER') });
  }

  /** The rig's gates on the candidate, in order; the first that fails (or times out) is the answer. */
  private async runGates(included: Included[]): Promise<GateFailure | undefined> {
    const merge = this.config.merge;
    const env = {
      ...this.town.ports.baseEnv,
      GT_ROOT: this.town.root,
      GT_RIG: this.rig,
      GT_ROLE: 'refinery',
      GT_MERGE_REQUESTS: included.map((i) => i.mr.id).join(' '),
    };
    for (const gate of GATES) {
      const command = merge[gate].trim();
      if (!command) continue;
      const timeout = merge[`${gate}_timeout`];
      this.progress(`${gate} on ${included.length} request(s): ${command}`);
      const result = await this.town.ports.shell.run(command, { cwd: this.integration, env, timeoutMs: parseDuration(timeout) });
      if (result.code !== 0 || result.timedOut) {
        return {
          reason: result.timedOut ? `${gate} timed out after ${timeout}` : `${gate} failed (exit ${result.code})`,
          output: result.stdout + result.stderr,
        };
      }
    }
    return undefined;
  }

  /** Journal, fast-forward, push, then close: a crash anywhere leaves a state `recover` completes. */
  private async fastForward(candidate: string, included: Included[]): Promise<void> {
    const { git } = this;
    const { files } = this.town.ports;
    const journal: Journal = { target: this.target, candidate, commits: Object.fromEntries(included.map((i) => [i.mr.id, i.commit])) };
    files.write(this.journalPath, `${JSON.stringify(journal, null, 2)}\n`);
    const ff = await git.probe(this.work, ['merge', '-q', '--ff-only', candidate]);
    if (ff.code !== 0) {
      // The target moved under us (someone pushed to it): nothing landed; the requests stay queued for the next run.
      files.remove(this.journalPath);
      this.progress(`warning: ${this.target} moved while the batch was tested; it stays queued (${ff.stderr.trim().split('\n').pop() ?? ''})`);
      this.stalled = true;
      return;
    }
    let pushed: boolean | undefined;
    if (this.config.merge.push) {
      const push = await this.pushUpstream(`refs/heads/${this.target}:refs/heads/${this.target}`);
      pushed = push.code === 0;
      if (!pushed) this.progress(`warning: push to origin failed (merged locally): ${push.stderr.trim().split('\n').pop() ?? ''}`);
    }
    await this.closeMerged(journal.commits, pushed);
    files.remove(this.journalPath);
    await this.discardIntegration();
  }

  /** Closes every request of a landed batch (idempotent: a recovered journal calls it again). */
  private async closeMerged(commits: Record<string, string>, pushed?: boolean): Promise<void> {
    const { ledger } = this.town;
    const size = Object.keys(commits).length;
    for (const [id, commit] of Object.entries(commits)) {
      const [mr] = await ledger.show([id]).catch(() => []);
      if (!mr) continue;
      let landed: string[] = [];
      const { branch = '', source_issue: bead = '' } = metaOf(mr);
      const outcome: MergeOutcome = { merge_request: id, bead, branch, result: 'merged', commit, batch: size, ...(pushed !== undefined ? { pushed } : {}) };
      if (mr.status !== 'closed') {
        const reason = `Merged in ${commit.slice(0, 12)}${size > 1 ? ` (a batch of ${size})` : ''}`;
        single(
          await ledger.update([id], {
            setMetadata: { merged_commit: commit, merged_at: this.town.ports.now(), batch_size: size, ...(pushed === false ? { push_failed: true } : {}) },
            townEvent: {
              kind: 'mr.merged',
              rig: this.rig,
              ...(bead ? { bead } : {}),
              ...(typeof mr.metadata?.worker === 'string' ? { agent: mr.metadata.worker } : {}),
              payload: { merge_request: id, commit, branch, batch: size, ...(pushed !== undefined ? { pushed } : {}) },
            },
          }),
        );
        single(await ledger.close([id], { reason, force: true }));
        if (bead) landed = await this.closeWork(bead, reason);
      }
      // Its change is in the target now; a branch still checked out somewhere is left alone.
      await this.git.probe(this.repo, ['branch', '-D', branch]);
      // In the order it happened for the reader: the merge, then the convoys it completed.
      this.progress(`merged ${named(mr)} as ${commit.slice(0, 12)}`);
      for (const line of landed) this.progress(line);
      this.outcomes.push(outcome);
    }
  }

  /**
   * Merged work is done work: the bead closes (and the bead a resolve-conflict
   * molecule stood in for); its convoys may land. Returns the lines saying
   * which landed, for the caller to print after its "merged" line.
   */
  private async closeWork(beadId: string, reason: string): Promise<string[]> {
    const lines: string[] = [];
    const { ledger } = this.town;
    const [bead] = await ledger.show([beadId]).catch(() => []);
    const ids = [beadId, ...(typeof bead?.metadata?.resolves === 'string' ? [bead.metadata.resolves] : [])];
    for (const id of ids) {
      const closed = await ledger.close([id], { reason, force: true });
      if (closed.failed[0]) this.progress(`warning: could not close ${id}: ${closed.failed[0].error.message}`);
      else {
        for (const landed of await checkConvoys(this.town, { bead: id })) lines.push(`convoy ${landed.id} "${landed.name}" landed`);
        // Nobody needs to hear about merged work: its escalations close, and their mail with them.
        for (const escalation of await settleEscalations(this.town, id)) lines.push(`escalation ${escalation} closed (${id} merged)`);
      }
    }
    return lines;
  }

  /** After a crash: finish a batch whose fast-forward happened; forget one whose did not. Then no integration worktree. */
  private async recover(): Promise<void> {
    const { git } = this;
    const { files } = this.town.ports;
    const text = files.read(this.journalPath);
    if (text !== undefined) {
      let journal: Journal | undefined;
      try {
        journal = JSON.parse(text) as Journal;
      } catch {
        this.progress(`warning: ${this.journalPath} is not JSON; ignoring it`);
      }
      if (journal) {
        const landed = (await git.probe(this.repo, ['merge-base', '--is-ancestor', journal.candidate, `refs/heads/${journal.target}`])).code === 0;
        const size = Object.keys(journal.commits).length;
        this.progress(landed ? `finishing batch of ${size} that landed before a crash` : `discarding an unfinished batch of ${size}; its requests stay queued`);
        if (landed) {
          // The crash may have come before the push: push now, then close.
          let pushed: boolean | undefined;
          if (this.config.merge.push) pushed = (await this.pushUpstream(`refs/heads/${journal.target}:refs/heads/${journal.target}`)).code === 0;
          await this.closeMerged(journal.commits, pushed);
        }
      }
      files.remove(this.journalPath);
    }
    await this.discardIntegration();
  }

  private async discardIntegration(): Promise<void> {
    const { git } = this;
    const { files } = this.town.ports;
    const existed = files.exists(this.integration);
    if (existed) {
      const removed = await git.probe(this.repo, ['worktree', 'remove', '--force', this.integration]);
      if (removed.code !== 0) files.remove(this.integration);
    }
    // Prune forgets a candidate whose folder is gone but whose registration is not (a crash between the two).
    // Without either there is nothing to forget: an idle pass runs no git (it ran two per rig).
    const registered = files.list(`${this.repo}/worktrees`).some((name) => name.startsWith('.integration'));
    if (existed || registered) await git.probe(this.repo, ['worktree', 'prune']);
  }

  /** The refinery worktree on the target, clean, caught up with origin. */
  private async cleanTarget(): Promise<void> {
    const { git } = this;
    await git.probe(this.work, ['rebase', '--abort']);
    await git.probe(this.work, ['merge', '--abort']);
    await git.run(this.work, ['checkout', '-q', '-f', this.target]);
    await git.run(this.work, ['reset', '-q', '--hard']);
    await git.run(this.work, ['clean', '-q', '-fdx']);
    if ((await git.probe(this.work, ['fetch', '-q', 'origin'])).code !== 0) return;
    const upstream = await git.probe(this.work, ['rev-parse', '--verify', '-q', `refs/remotes/origin/${this.target}`]);
    if (upstream.code !== 0) return;
    const ahead = await git.probe(this.work, ['merge-base', '--is-ancestor', 'HEAD', upstream.stdout.trim()]);
    if (ahead.code === 0) await git.probe(this.work, ['merge', '-q', '--ff-only', upstream.stdout.trim()]);
  }

  /** Rejects one request: closed with the reason, its bead back to open, its worker and dispatcher told. */
  async reject(mr: Issue, reason: string, output: string, extra: Partial<MergeOutcome> = {}): Promise<MergeOutcome> {
    const outcome = await rejectMergeRequest(this.town, mr, reason, output, extra);
    this.progress(`rejected ${named(mr)}: ${reason}`);
    this.outcomes.push(outcome);
    return outcome;
  }

  /** A branch that does not apply: rejected now; its resolve-conflict molecule is slung once the batch is settled (see dispatchConflicts). */
  private async conflict(mr: Issue, files: string[], output: string): Promise<void> {
    const meta = metaOf(mr);
    const reason = `conflict applying ${meta.branch ?? '?'} onto ${this.target}${files.length ? ` in ${files.join(', ')}` : ''}`;
    const outcome = await this.reject(mr, reason, output, { conflict_molecule: '' });
    this.conflicts.push({ mr, files, outcome });
  }

  /**
   * After a batch: each conflicting request gets a resolve-conflict molecule,
   * slung to its worker (or a free polecat) — now, so its branch starts from
   * the target the rest of the batch landed on. Its bead waits for it.
   */
  private async dispatchConflicts(): Promise<void> {
    for (const { mr, files, outcome } of this.conflicts.splice(0)) {
      delete outcome.conflict_molecule;
      const bead = metaOf(mr).source_issue;
      try {
        const molecule = await this.dispatchConflict(mr, files);
        outcome.conflict_molecule = molecule;
        if (bead) await this.town.ledger.addDependency(bead, molecule, 'blocks');
        await this.town.ledger.update([mr.id], { setMetadata: { conflict_molecule: molecule } });
      } catch (error) {
        this.progress(`warning: could not sling a resolve-conflict molecule for ${named(mr)}: ${errorMessage(error)}`);
      }
    }
  }

  private async dispatchConflict(mr: Issue, files: string[]): Promise<string> {
    const meta = metaOf(mr);
    const formula = parseFormula(BUILTIN_FORMULAS['resolve-conflict'] as string, 'builtin:resolve-conflict');
    const cooked = cookFormula(
      formula,
      { bead: meta.source_issue ?? mr.id, branch: meta.branch ?? '', target: this.target, files: files.join(', ') || 'the files git reports' },
      () => undefined,
    );
    const poured = await pourMolecule(this.town.ledger, cooked, {
      prefix: this.config.prefix,
      rootMetadata: { close_with_merge: true, resolves: meta.source_issue ?? null, merge_request: mr.id },
    });
    const worker = meta.worker && meta.worker.startsWith(`${this.rig}/polecats/`) ? meta.worker : undefined;
    const runtime = worker ? (await this.town.agent(parseIdentity(worker)).catch(() => undefined))?.runtime : undefined;
    const sling = { ...(runtime ? { runtime } : {}), ...(this.options.probe ? {} : { noStart: true }), convoy: false };
    const probe = this.options.probe ?? { exists: () => true, version: () => undefined };
    try {
      // Its worker knows the change best; when it is busy, any free polecat of the rig.
      const targets = worker ? [worker, this.rig] : [this.rig];
      let lastError: unknown;
      for (const target of targets) {
        try {
          const [result] = await slingBeads(this.town, [poured.root], target, sling, probe);
          this.progress(`slung ${poured.root} (resolve-conflict) to ${result?.agent ?? target}`);
          return poured.root;
        } catch (error) {
          lastError = error;
        }
      }
      throw lastError;
    } catch (error) {
      await burnMolecule(this.town.ledger, poured.root).catch(() => undefined);
      throw error;
    }
  }

  /**
   * PR mode: each queued request's branch is pushed to origin and a pull
   * request opened with gh, tracked by a gh:pr gate; a merged PR (the gate
   * resolved) is a merged request, a PR closed unmerged (the gate escalated)
   * a rejected one.
   */
  private async settlePullRequests(): Promise<void> {
    const { ledger } = this.town;
    for (const mr of await mergeQueue(this.town, this.rig)) {
      const meta = metaOf(mr);
      if (!meta.pr_gate || this.remaining() <= 0) continue;
      const gate = (await ledger.show([meta.pr_gate]).catch(() => []))[0];
      if (gate?.status === 'closed') {
        await this.cleanTarget();
        const commit = (await this.git.run(this.work, ['rev-parse', 'HEAD'])).trim();
        await this.closeMerged({ [mr.id]: commit });
      } else if (gate?.metadata?.escalated === true) {
        await this.reject(mr, `pull request ${meta.pr ?? ''} was closed without merging`, '');
      }
    }
  }

  private async openPullRequests(): Promise<void> {
    for (const mr of await mergeQueue(this.town, this.rig)) {
      if (this.remaining() <= 0) break;
      if (!mr.metadata?.pr) await this.openPullRequest(mr, metaOf(mr));
    }
  }

  private async openPullRequest(mr: Issue, meta: Record<string, string>): Promise<void> {
    const { shell } = this.town.ports;
    const branch = meta.branch ?? '';
    const push = await this.pushUpstream(`refs/heads/${branch}:refs/heads/${branch}`);
    if (push.code !== 0) {
      this.progress(`warning: could not push ${branch} for ${named(mr)}: ${push.stderr.trim().split('\n').pop() ?? ''}`);
      return;
    }
    const title = mr.title.replace(/^Merge /, '');
    const body = `${mr.description ?? ''}\n\nMerge request ${mr.id} of gt rig ${this.rig}.`;
    const created = await shell.run(
      `gh pr create --head ${shellQuote(branch)} --base ${shellQuote(this.target)} --title ${shellQuote(title)} --body ${shellQuote(body)}`,
      {
        cwd: this.work,
        env: { ...this.town.ports.baseEnv, GT_ROOT: this.town.root },
        timeoutMs: 120_000,
      },
    );
    const url = created.stdout.trim().split('\n').pop() ?? '';
    if (created.code !== 0 || !/^https?:\/\//.test(url)) {
      const why =
        created.code === 127
          ? 'gh is not installed'
          : `gh pr create exited ${created.code}: ${(created.stderr || created.stdout).trim().split('\n').pop() ?? ''}`;
      this.progress(`warning: no pull request for ${named(mr)} (${why}); it stays queued`);
      await this.town.ledger.update([mr.id], { setMetadata: { pr_error: why } });
      return;
    }
    const gate = await this.town.ledger.create({
      title: `Gate (gh:pr) for ${mr.id}`,
      type: 'gate',
      prefix: this.config.prefix,
      metadata: { await_type: 'gh:pr', await_id: url, merge_request: mr.id },
    });
    single(await this.town.ledger.update([mr.id], { setMetadata: { pr: url, pr_gate: gate.id, pr_error: null } }));
    this.progress(`opened ${url} for ${named(mr)}`);
    this.outcomes.push({ merge_request: mr.id, bead: meta.source_issue ?? '', branch, result: 'pr-opened', pr: url });
  }
}

/**
 * Processes the rig's queue until it is empty. Holds the rig's refinery lock;
 * returns [] at once if another refinery is at work.
 */
export async function runRefinery(town: Town, rigName: string, options: RefineryOptions = {}): Promise<MergeOutcome[]> {
  town.rig(rigName);
  let release: () => void;
  try {
    release = await town.ports.files.lock(refineryLock(town, rigName), { waitMs: 0 });
  } catch {
    return [];
  }
  const run = new RefineryRun(town, rigName, options);
  try {
    await run.run();
    return run.outcomes;
  } finally {
    release();
  }
}

function refineryLock(town: Town, rig: string): string {
  return town.path(lockFile(`refinery-${rig}`));
}

async function rejectMergeRequest(town: Town, mr: Issue, reason: string, gateOutput: string, extra: Partial<MergeOutcome>): Promise<MergeOutcome> {
  const { ledger } = town;
  // The gates run with the person's environment: what they print goes to the ledger and to the worker's mail without its secrets.
  const output = redactSecrets(gateOutput);
  const meta = metaOf(mr);
  const outcome: MergeOutcome = { merge_request: mr.id, bead: meta.source_issue ?? '', branch: meta.branch ?? '', result: 'rejected', reason, ...extra };
  single(
    await ledger.update([mr.id], {
      setMetadata: { rejected: reason, rejected_at: town.ports.now(), ...(output ? { rejected_output: tail(output) } : {}) },
      townEvent: {
        kind: 'mr.rejected',
        ...(meta.rig ? { rig: meta.rig } : {}),
        ...(meta.source_issue ? { bead: meta.source_issue } : {}),
        ...(meta.worker ? { agent: meta.worker } : {}),
        payload: { merge_request: mr.id, reason, branch: meta.branch ?? '' },
      },
    }),
  );
  single(await ledger.close([mr.id], { reason: `Rejected: ${reason}`, force: true }));
  const next =
    extra.conflict_molecule !== undefined
      ? 'A resolve-conflict molecule re-applies the work on the new target (slung to you, or a free polecat); the bead closes when it merges.'
      : 'Fix it and run gt done again, or re-sling the bead; gt mq retry requeues the request as it is.';
  const body = `${reason}.\n\nBranch ${meta.branch ?? '?'} is kept as it was. ${next}\n\n${tail(output).trim()}`;
  if (outcome.bead) {
    const [bead] = await ledger.show([outcome.bead]).catch(() => []);
    if (bead && bead.status !== 'closed') {
      single(await ledger.update([bead.id], { status: 'open', assignee: null, appendNotes: `Merge rejected (${mr.id}): ${reason}` }));
    }
    const mailbox = new Mailbox(ledger, `${meta.rig ?? 'unknown'}/refinery`);
    const to = new Set(
      [meta.worker, typeof bead?.metadata?.hooked_by === 'string' ? bead.metadata.hooked_by : undefined].filter((a): a is string => !!a && isAddress(a)),
    );
    for (const address of to) await mailbox.send(address, `MERGE_FAILED ${outcome.bead}: ${reason}`, body, { kind: 'protocol', priority: 1 });
    // Twice rejected: the work does not go in by itself; a person looks (one escalation, however often it fails again).
    const rejections = await ledger.list({
      types: ['merge-request'],
      statuses: ['closed'],
      metadataFields: { source_issue: outcome.bead },
      hasMetadataKeys: ['rejected'],
      includeEphemeral: true,
      limit: 0,
    });
    if (rejections.length >= 2 && bead && bead.status !== 'closed') {
      await raiseEscalation(town, {
        message: `The merge queue rejected ${outcome.bead} ${rejections.length} times; the last time: ${reason}.\nBranch ${meta.branch ?? '?'} is kept. Look at gt mq list and the MERGE_FAILED mail; sling it again (gt sling ${outcome.bead} ${meta.rig ?? '<rig>'}) once the cause is fixed.`,
        headline: `MERGE REJECTED TWICE ${outcome.bead}: ${bead.title}`,
        severity: 'high',
        source: 'refinery',
        reason: 'merge-rejected',
        subject: outcome.bead,
        raisedBy: `${meta.rig ?? 'unknown'}/refinery`,
        ...(meta.rig ? { rig: meta.rig } : {}),
      });
    }
  }
  return outcome;
}

function isAddress(text: string): boolean {
  return ['mayor', 'deacon', 'human'].includes(text) || /^[a-z][a-z0-9_-]*\/(witness|refinery|(crew|polecats)\/[a-z][a-z0-9_-]*)$/.test(text);
}

async function mergeRequest(town: Town, idText: string): Promise<Issue> {
  const missing = notFoundError(`no merge request ${JSON.stringify(idText)}`, 'see gt mq list');
  const [mr] = await town.ledger.show([await town.ledger.resolveAs(idText, missing)]);
  if (!mr || mr.issue_type !== 'merge-request') throw missing;
  return mr;
}

/** `gt mq reject`: a person takes a queued request out of the queue (not while a batch is being merged). */
export async function rejectQueued(town: Town, idText: string, reason: string): Promise<MergeOutcome> {
  const mr = await mergeRequest(town, idText);
  if (mr.status === 'closed') throw conflictError(`${mr.id} is not queued (it was ${mr.metadata?.merged_commit ? 'merged' : 'rejected'})`);
  const rig = metaOf(mr).rig ?? '';
  let release: () => void;
  try {
    release = await town.ports.files.lock(refineryLock(town, rig), { waitMs: 0 });
  } catch {
    throw conflictError(`the refinery of ${rig} is merging a batch right now`, 'try again in a moment');
  }
  try {
    return await rejectMergeRequest(town, mr, `rejected by ${town.ledger.actor}: ${reason}`, '', {});
  } finally {
    release();
  }
}

/** `gt mq retry`: a rejected request goes back in the queue as it is (its branch must still exist); its bead back to the refinery. */
export async function retryRejected(town: Town, idText: string): Promise<Issue> {
  const mr = await mergeRequest(town, idText);
  const meta = metaOf(mr);
  if (mr.status !== 'closed') throw conflictError(`${mr.id} is already queued`);
  if (meta.merged_commit) throw conflictError(`${mr.id} was merged in ${meta.merged_commit.slice(0, 12)}; nothing to retry`);
  const exists = await town.ports.git.probe(town.repoDir(meta.rig ?? ''), ['rev-parse', '--verify', '-q', `refs/heads/${meta.branch ?? ''}`]);
  if (exists.code !== 0) throw notFoundError(`branch ${meta.branch ?? '?'} of ${mr.id} no longer exists`, 'sling the bead again instead');
  single(await town.ledger.reopen([mr.id], `retry by ${town.ledger.actor}`));
  single(await town.ledger.update([mr.id], { setMetadata: { rejected: null, rejected_at: null, rejected_output: null, retried_at: town.ports.now() } }));
  if (meta.source_issue) {
    const [bead] = await town.ledger.show([meta.source_issue]).catch(() => []);
    if (bead && bead.status !== 'closed') single(await town.ledger.update([bead.id], { status: 'in_progress', assignee: `${meta.rig ?? ''}/refinery` }));
  }
  return (await town.ledger.show([mr.id]))[0] as Issue;
}

export interface QueueStatus {
  rig: string;
  queued: number;
  oldest_queued_at: string | null;
  /** Requests of a batch whose merge was interrupted (finished or discarded by the next run). */
  in_flight: string[];
  running: boolean;
  merged_24h: number;
  rejected_24h: number;
  batch_size: number;
  strategy: string;
  merge_via: string;
  gates: string[];
}

export async function queueStatus(town: Town, rig: string): Promise<QueueStatus> {
  const config = town.rig(rig);
  const queue = await mergeQueue(town, rig);
  const since = new Date(Date.parse(town.ports.now()) - 24 * 3600_000).toISOString();
  const closed = await town.ledger.list({ types: ['merge-request'], metadataFields: { rig }, statuses: ['closed'], includeEphemeral: true, limit: 0 });
  const recent = closed.filter((m) => (m.closed_at ?? '') >= since);
  const journal = town.ports.files.read(town.path(refineryJournal(rig)));
  let inFlight: string[] = [];
  try {
    inFlight = journal ? Object.keys((JSON.parse(journal) as Journal).commits) : [];
  } catch {
    // A torn journal: the next run reports and discards it.
  }
  const running = town.ports.files.lockHolder(refineryLock(town, rig)) !== undefined;
  return {
    rig,
    queued: queue.length,
    oldest_queued_at: queue.map((m) => m.created_at).sort()[0] ?? null,
    in_flight: inFlight,
    running,
    merged_24h: recent.filter((m) => m.metadata?.merged_commit).length,
    rejected_24h: recent.filter((m) => m.metadata?.rejected).length,
    batch_size: config.merge.batch_size,
    strategy: config.merge.strategy,
    merge_via: config.merge.merge_via,
    gates: GATES.filter((g) => config.merge[g].trim() !== ''),
  };
}

/** A git port that runs no repository hooks (`-c core.hooksPath=/dev/null` before every command). */
function withoutHooks(git: GitPort): GitPort {
  const off = ['-c', 'core.hooksPath=/dev/null'];
  return {
    run: (cwd, args, options) => git.run(cwd, [...off, ...args], options),
    probe: (cwd, args, options) => git.probe(cwd, [...off, ...args], options),
    inTurn: (turn, cwd, args) => git.inTurn(turn, cwd, [...off, ...args]),
  };
}
