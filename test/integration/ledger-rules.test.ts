import { openLedgerStore } from '../../src/app/index.js';
import { describe, expect, it } from 'vitest';
import type { Ledger } from '../../src/core/beads/ledger.js';
import { GtError } from '../../src/shared/errors.js';
import { fromDate } from '../../src/shared/time.js';
import { LEDGER_BACKENDS } from '../support/env.js';
import { Mailbox } from '../../src/core/comms/mail.js';

async function ids(ledger: Ledger, filter: Parameters<Ledger['ready']>[0] = {}): Promise<string[]> {
  return (await ledger.ready(filter)).map((i) => i.id);
}

async function make(ledger: Ledger, title: string, extra: Parameters<Ledger['create']>[0] extends infer T ? Partial<T> : never = {}) {
  return (await ledger.create({ title, ...extra })).id;
}

async function rejects(promise: Promise<unknown>, kind: GtError['kind'], text: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GtError);
  expect((error as GtError).kind).toBe(kind);
  expect((error as GtError).message).toMatch(text);
}

describe.each(LEDGER_BACKENDS)('ledger conformance: $name', ({ open: openLedger }) => {
  describe('ready semantics (Beads protocol tests)', () => {
    it('orders by priority, then newest first', async () => {
      const { ledger } = await openLedger();
      const low = await make(ledger, 'low', { priority: 3 });
      const urgent = await make(ledger, 'urgent', { priority: 0 });
      const midOld = await make(ledger, 'mid old', { priority: 2 });
      const midNew = await make(ledger, 'mid new', { priority: 2 });
      expect(await ids(ledger)).toEqual([urgent, midNew, midOld, low]);
      expect(await ids(ledger, { policy: 'oldest' })).toEqual([low, urgent, midOld, midNew]);
    });

    it('closing a blocker makes the dependent ready', async () => {
      const { ledger } = await openLedger();
      const a = await make(ledger, 'A');
      const b = await make(ledger, 'B');
      await ledger.addDependency(b, a);
      expect(await ids(ledger)).toEqual([a]);
      await ledger.close([a]);
      expect(await ids(ledger)).toEqual([b]);
    });

    it('diamond: closing the root frees both middles but not the bottom', async () => {
      const { ledger } = await openLedger();
      const [a, b, c, d] = [await make(ledger, 'A'), await make(ledger, 'B'), await make(ledger, 'C'), await make(ledger, 'D')];
      await ledger.addDependency(b, a);
      await ledger.addDependency(c, a);
      await ledger.addDependency(d, b);
      await ledger.addDependency(d, c);
      await ledger.close([a]);
      expect((await ids(ledger)).sort()).toEqual([b, c].sort());
      expect((await ledger.blocked({})).map((i) => i.id)).toEqual([d]);
    });

    it('chain: closing the head frees only the next link', async () => {
      const { ledger } = await openLedger();
      const chain = [await make(ledger, '1'), await make(ledger, '2'), await make(ledger, '3'), await make(ledger, '4')];
      for (let i = 1; i < chain.length; i++) await ledger.addDependency(chain[i] as string, chain[i - 1] as string);
      await ledger.close([chain[0] as string]);
      expect(await ids(ledger)).toEqual([chain[1]]);
    });

    it('a blocked parent blocks all descendants; an open unblocked parent does not', async () => {
      const { ledger } = await openLedger();
      const gate = await make(ledger, 'gate');
      const epic = await make(ledger, 'epic', { type: 'epic' });
      const child = await make(ledger, 'child', { parent: epic });
      const grandchild = await make(ledger, 'grandchild', { parent: child });
      expect((await ids(ledger)).sort()).toEqual([gate, epic, child, grandchild].sort());
      await ledger.addDependency(epic, gate);
      expect(await ids(ledger)).toEqual([gate]);
      const blocked = await ledger.blocked({});
      expect(blocked.map((b) => b.id).sort()).toEqual([epic, child, grandchild].sort());
      await ledger.close([gate]);
      expect((await ids(ledger)).sort()).toEqual([epic, child, grandchild].sort());
    });

    it('waits-for: blocked until all children of the spawner close (any-children: one)', async () => {
      const { ledger } = await openLedger();
      const spawner = await make(ledger, 'spawner');
      const c1 = await make(ledger, 'c1', { parent: spawner });
      const c2 = await make(ledger, 'c2', { parent: spawner });
      const all = await make(ledger, 'fan-in all', { waitsFor: { spawner, gate: 'all-children' } });
      const any = await make(ledger, 'fan-in any', { waitsFor: { spawner, gate: 'any-children' } });
      expect(await ids(ledger)).not.toContain(all);
      expect((await ledger.blocked({})).map((b) => b.id)).toEqual(expect.arrayContaining([all, any]));
      await ledger.close([c1]);
      expect(await ids(ledger)).toContain(any);
      expect(await ids(ledger)).not.toContain(all);
      await ledger.close([c2]);
      expect(await ids(ledger)).toContain(all);
    });

    it('blocked_by names only what still blocks: a satisfied fan-in gate is not listed', async () => {
      const { ledger } = await openLedger();
      const spawner = await make(ledger, 'spawner');
      const c1 = await make(ledger, 'c1', { parent: spawner });
      await make(ledger, 'c2', { parent: spawner });
      const blocker = await make(ledger, 'blocker');
      const fanIn = await make(ledger, 'fan-in any', { waitsFor: { spawner, gate: 'any-children' }, deps: [{ type: 'blocks', id: blocker }] });
      const blockedBy = async () => (await ledger.blocked({})).find((b) => b.id === fanIn)?.blocked_by;
      expect(await blockedBy()).toEqual([blocker, spawner].sort());
      await ledger.close([c1]);
      expect(await blockedBy()).toEqual([blocker]);
    });

    it('deferred issues and children of a deferred parent are hidden; undefer restores', async () => {
      const { ledger } = await openLedger();
      const parked = await make(ledger, 'parked');
      await ledger.defer([parked]);
      expect(await ids(ledger)).not.toContain(parked);
      await ledger.undefer([parked]);
      expect(await ids(ledger)).toContain(parked);

      const future = fromDate(new Date(Date.now() + 86_400_000));
      const later = await make(ledger, 'later', { defer_until: future });
      const child = await make(ledger, 'child of later', { parent: later });
      const visible = await ids(ledger);
      expect(visible).not.toContain(later);
      expect(visible).not.toContain(child);
      expect(await ids(ledger, { includeDeferred: true })).toEqual(expect.arrayContaining([later, child]));
      const past = await make(ledger, 'was deferred', { defer_until: fromDate(new Date(Date.now() - 1000)) });
      expect(await ids(ledger)).toContain(past);
    });

    it('hybrid sort puts the last 48 hours first by priority, then older work oldest first', async () => {
      let now = new Date('2026-01-01T00:00:00Z');
      const { ledger } = await openLedger({ clock: () => fromDate(now) });
      const oldLow = await make(ledger, 'old low', { priority: 4 });
      now = new Date('2026-01-02T00:00:00Z');
      const oldHigh = await make(ledger, 'old high', { priority: 0 });
      now = new Date('2026-01-10T00:00:00Z');
      const newLow = await make(ledger, 'new low', { priority: 3 });
      const newHigh = await make(ledger, 'new high', { priority: 1 });
      expect(await ids(ledger, { policy: 'hybrid' })).toEqual([newHigh, newLow, oldLow, oldHigh]);
    });

    it('leaves out in-progress, pinned, non-work types and wisps', async () => {
      const { ledger } = await openLedger();
      const work = await make(ledger, 'work');
      const claimed = await make(ledger, 'claimed');
      await ledger.claim(claimed);
      await make(ledger, 'a gate', { type: 'gate' });
      await make(ledger, 'a message', { type: 'message' });
      await make(ledger, 'pinned', { pinned: true });
      const wisp = await make(ledger, 'wisp', { ephemeral: true });
      expect(wisp).toMatch(/^bd-wisp-[0-9a-z]{3}$/);
      expect(await ids(ledger)).toEqual([work]);
      expect((await ledger.ready({ types: ['gate'] })).map((i) => i.title)).toEqual(['a gate']);
    });

    it('custom statuses of category active count as ready', async () => {
      const { ledger } = await openLedger();
      await ledger.setConfig('status.custom', 'triage:active,review:wip');
      const triaged = await make(ledger, 'triaged');
      await ledger.update([triaged], { status: 'triage' });
      const reviewing = await make(ledger, 'reviewing');
      await ledger.update([reviewing], { status: 'review' });
      expect(await ids(ledger)).toEqual([triaged]);
    });

    it('stats count ready and blocked the same way ready does', async () => {
      const { ledger } = await openLedger();
      const a = await make(ledger, 'A');
      const b = await make(ledger, 'B');
      await ledger.addDependency(b, a);
      await make(ledger, 'C');
      const stats = await ledger.stats();
      expect(stats).toMatchObject({ total_issues: 3, open_issues: 3, ready_issues: 2, blocked_issues: 1 });
    });
  });

  describe('graph rules', () => {
    it('refuses self-dependencies and cycles over blocking edges, but allows non-blocking loops', async () => {
      const { ledger } = await openLedger();
      const a = await make(ledger, 'A');
      const b = await make(ledger, 'B');
      const c = await make(ledger, 'C');
      await rejects(ledger.addDependency(a, a), 'validation', /cannot depend on itself/);
      await ledger.addDependency(b, a);
      await ledger.addDependency(c, b);
      await rejects(ledger.addDependency(a, c), 'conflict', /cycle/);
      await ledger.addDependency(a, c, 'related');
      expect(await ledger.cycles()).toEqual([]);
    });

    it('keeps one edge per pair: same type is idempotent, another type is refused', async () => {
      const { ledger } = await openLedger();
      const a = await make(ledger, 'A');
      const b = await make(ledger, 'B');
      expect((await ledger.addDependency(b, a)).result).toBe('added');
      expect((await ledger.addDependency(b, a)).result).toBe('unchanged');
      await rejects(ledger.addDependency(b, a, 'caused-by'), 'conflict', /already exists with type blocks/);
      expect(await ledger.listDependencies(b)).toHaveLength(1);
    });

    it('close guard: blocks for open blockers and open epic children, ignores non-blocking edges, --force overrides', async () => {
      const { ledger } = await openLedger();
      const blocker = await make(ledger, 'blocker');
      const blocked = await make(ledger, 'blocked');
      const cause = await make(ledger, 'cause');
      await ledger.addDependency(blocked, blocker);
      await ledger.addDependency(blocker, cause, 'caused-by');
      const refused = await ledger.close([blocked]);
      expect(refused.done).toHaveLength(0);
      expect(refused.failed[0]?.error.message).toMatch(/cannot close .*blocked by open issues \[.*\]/);
      expect((await ledger.close([blocker])).done).toHaveLength(1);
      const epic = await make(ledger, 'epic', { type: 'epic' });
      await make(ledger, 'child', { parent: epic });
      expect((await ledger.close([epic])).failed[0]?.error.message).toMatch(/open child/);
      expect((await ledger.close([epic], { force: true })).done[0]?.status).toBe('closed');
    });

    it('close sets closed_at and a default reason; re-closing is an idempotent success; reopen clears them', async () => {
      const { ledger } = await openLedger();
      const a = await make(ledger, 'A');
      const [closed] = (await ledger.close([a])).done;
      expect(closed).toMatchObject({ status: 'closed', close_reason: 'Closed' });
      expect(closed?.closed_at).toBeDefined();
      expect((await ledger.close([a], { reason: 'again' })).done[0]?.close_reason).toBe('Closed');
      const [reopened] = (await ledger.reopen([a])).done;
      expect(reopened?.status).toBe('open');
      expect(reopened?.closed_at).toBeUndefined();
      expect((await ledger.reopen([a])).failed[0]?.error.message).toMatch(/not closed/);
    });

    it('closing the last step of a molecule closes the molecule', async () => {
      const { ledger } = await openLedger();
      const mol = await make(ledger, 'release', { type: 'molecule' });
      const s1 = await make(ledger, 'step 1', { parent: mol });
      const s2 = await make(ledger, 'step 2', { parent: mol });
      await ledger.close([s1]);
      expect((await ledger.get(mol)).status).toBe('open');
      await ledger.close([s2]);
      expect(await ledger.get(mol)).toMatchObject({ status: 'closed', close_reason: 'all steps complete' });
    });

    it('hierarchical child IDs P.n with a persistent counter, depth at most 3', async () => {
      const { ledger } = await openLedger();
      const p = await make(ledger, 'parent', { labels: ['area:auth'] });
      const c1 = await ledger.create({ title: 'c1', parent: p });
      const c2 = await ledger.create({ title: 'c2', parent: p });
      expect(c1.id).toBe(`${p}.1`);
      expect(c2.id).toBe(`${p}.2`);
      expect(c1.labels).toEqual(['area:auth']);
      expect(c1.dependencies).toEqual([expect.objectContaining({ depends_on_id: p, type: 'parent-child' })]);
      await ledger.delete([c2.id]);
      expect((await ledger.create({ title: 'c3', parent: p })).id).toBe(`${p}.3`);
      const d2 = await ledger.create({ title: 'd2', parent: c1.id });
      const d3 = await ledger.create({ title: 'd3', parent: d2.id });
      expect(d3.id).toBe(`${p}.1.1.1`);
      await rejects(ledger.create({ title: 'd4', parent: d3.id }), 'validation', /maximum hierarchy depth is 3/);
    });

    it('reparenting moves the edge and never renames the ID', async () => {
      const { ledger } = await openLedger();
      const p1 = await make(ledger, 'p1');
      const p2 = await make(ledger, 'p2');
      const child = await make(ledger, 'child', { parent: p1 });
      await ledger.update([child], { parent: p2 });
      const [shown] = await ledger.show([child]);
      expect(shown?.id).toBe(child);
      expect(shown?.parent).toBe(p2);
      expect((await ledger.list({ parent: p1 })).map((i) => i.id)).toEqual([]);
      expect((await ledger.list({ parent: p2 })).map((i) => i.id)).toEqual([child]);
    });

    it('counts top-level IDs per base for the adaptive length, through creates, children, imports and deletes', async () => {
      const { ledger, path } = await openLedger();
      const a = await make(ledger, 'a');
      await make(ledger, 'b');
      await make(ledger, 'child', { parent: a });
      await make(ledger, 'wisp', { ephemeral: true });
      await ledger.importRecords({
        records: [
          {
            issue: {
              id: 'bd-imp1',
              title: 'i',
              status: 'open',
              priority: 2,
              issue_type: 'task',
              created_at: '2026-01-01T00:00:00.000000000Z',
              updated_at: '2026-01-01T00:00:00.000000000Z',
            },
            labels: [],
            dependencies: [],
            comments: [],
            line: 1,
          },
        ],
        memories: [],
        tombstones: [],
        source: 'test',
      });
      await ledger.delete([a]);
      // A second connection reads the counters the triggers keep (a store detail, not on the Ledger's surface).
      const store = openLedgerStore(path);
      const counts = await store.read(async (tx) => [await tx.countTopLevel('bd'), await tx.countTopLevel('bd-wisp')]);
      await store.close();
      expect(counts).toEqual([2, 1]);
    });

    it('resolves partial IDs and reports ambiguity', async () => {
      const { ledger } = await openLedger({ prefix: 'gt' });
      await ledger.create({ title: 'x', id: 'gt-abc12' });
      await ledger.create({ title: 'y', id: 'gt-abd34' });
      expect(await ledger.resolve('abc')).toBe('gt-abc12');
      expect(await ledger.resolve('gt-abd')).toBe('gt-abd34');
      expect(await ledger.resolve('gtabc12')).toBe('gt-abc12');
      await rejects(ledger.resolve('ab'), 'ambiguous', /ambiguous ID "ab" matches 2 issues: gt-abc12, gt-abd34/);
      await rejects(ledger.resolve('zzz'), 'not_found', /no issue found matching "zzz"/);
    });
  });

  describe('claims, edits and the audit trail', () => {
    it('claim is compare-and-swap: idempotent for the holder, refused for others', async () => {
      const { path, ledger: alice } = await openLedger({ actor: 'alice' });
      const id = await make(alice, 'task');
      const claimed = await alice.claim(id);
      expect(claimed).toMatchObject({ status: 'in_progress', assignee: 'alice' });
      expect(claimed.started_at).toBeDefined();
      await alice.claim(id);
      const { ledger: bob } = await openLedger({ actor: 'bob', path });
      await rejects(bob.claim(id), 'conflict', /already claimed by alice/);
      const events = await alice.events(0, 100, id);
      expect(events.filter((e) => e.event_type === 'claimed')).toHaveLength(1);
    });

    it('ready --claim takes the first ready issue atomically', async () => {
      const { ledger } = await openLedger({ actor: 'worker' });
      await make(ledger, 'later', { priority: 3 });
      const first = await make(ledger, 'first', { priority: 0 });
      expect((await ledger.claimNextReady({}))?.id).toBe(first);
      expect((await ledger.claimNextReady({}))?.title).toBe('later');
      expect(await ledger.claimNextReady({})).toBeUndefined();
    });

    it('scalar updates and status cycling keep labels, edges and comments', async () => {
      const { ledger } = await openLedger();
      const a = await make(ledger, 'A', { labels: ['x', 'y'] });
      const b = await make(ledger, 'B');
      await ledger.addDependency(a, b, 'related');
      await ledger.addComment(a, 'first note');
      await ledger.update([a], { title: 'A renamed', priority: 0, status: 'in_progress' });
      await ledger.update([a], { status: 'blocked' });
      await ledger.update([a], { status: 'open', appendNotes: 'line 1' });
      await ledger.update([a], { appendNotes: 'line 2' });
      const after = await ledger.get(a);
      expect(after).toMatchObject({ title: 'A renamed', priority: 0, status: 'open', notes: 'line 1\nline 2' });
      expect(after.labels).toEqual(['x', 'y']);
      expect(after.dependencies.map((d) => d.depends_on_id)).toEqual([b]);
      expect(after.comments.map((c) => c.text)).toEqual(['first note']);
    });

    it('records who changed what, with old and new values, in order', async () => {
      const { ledger } = await openLedger({ actor: 'carol' });
      const a = await make(ledger, 'A');
      await ledger.update([a], { status: 'in_progress' });
      await ledger.addLabel([a], 'urgent');
      await ledger.close([a], { reason: 'done' });
      const events = await ledger.events(0, 100, a);
      expect(events.map((e) => e.event_type)).toEqual(['created', 'status_changed', 'label_added', 'closed']);
      expect(events[1]).toMatchObject({ actor: 'carol', old_value: 'open', new_value: 'in_progress' });
      expect(events.map((e) => e.id)).toEqual([...events.map((e) => e.id)].sort((x, y) => x - y));
    });

    it('delete removes the issue and every edge pointing at it, and unblocks dependents', async () => {
      const { ledger } = await openLedger();
      const a = await make(ledger, 'A');
      const b = await make(ledger, 'B');
      await ledger.addDependency(b, a);
      await ledger.delete([a]);
      expect((await ledger.get(b)).dependencies).toEqual([]);
      expect(await ids(ledger)).toEqual([b]);
    });
  });

  describe('bad input changes nothing', () => {
    it('rejects bad titles, priorities, types, statuses, estimates and metadata with clear messages', async () => {
      const { ledger } = await openLedger();
      await rejects(ledger.create({ title: undefined }), 'validation', /title required/);
      await rejects(ledger.create({ title: '   ' }), 'validation', /title is required/);
      await rejects(ledger.create({ title: 'x'.repeat(501) }), 'validation', /500 characters or less \(got 501\)/);
      await rejects(ledger.create({ title: 'ok', type: 'invalid-type' }), 'validation', /invalid issue type "invalid-type"/);
      const id = await make(ledger, 'fine');
      await rejects(
        ledger.update([id], { status: 'garbage' }).then((r) => {
          if (r.failed[0]) throw r.failed[0].error;
        }),
        'validation',
        /invalid status "garbage"/,
      );
      await rejects(ledger.update([id], { title: '' }), 'validation', /title is required/);
      await rejects(
        ledger.update([id], { estimated_minutes: -5 }).then((r) => {
          if (r.failed[0]) throw r.failed[0].error;
        }),
        'validation',
        /estimate must be a non-negative/,
      );
      await rejects(ledger.addLabel([id], ' '), 'validation', /label cannot be empty/);
      await rejects(ledger.addComment(id, ''), 'validation', /comment text cannot be empty/);
      await rejects(ledger.setConfig('status.custom', 'Bad Name'), 'validation', /invalid custom status name/);
      expect((await ledger.list({})).map((i) => i.title)).toEqual(['fine']);
      expect(await ledger.get(id)).toMatchObject({ title: 'fine', status: 'open' });
    });

    it('a failed multi-step write leaves no trace (transaction rolled back)', async () => {
      const { ledger } = await openLedger();
      const before = await ledger.events(0, 1000);
      // The dep target does not exist: the create must not leave the issue or its label behind.
      await rejects(ledger.create({ title: 'orphan', labels: ['l'], deps: [{ type: 'blocks', id: 'bd-nope' }] }), 'not_found', /bd-nope/);
      expect(await ledger.list({})).toEqual([]);
      expect(await ledger.events(0, 1000)).toEqual(before);
    });

    it('writes made at once are each atomic: the one that fails leaves no trace and rejects, the others all land', async () => {
      const { ledger } = await openLedger();
      const target = await make(ledger, 'a blocker');
      const before = (await ledger.events(0, 1000)).length;
      // Ten writes in flight together (as a sling of ten beads makes them); the fifth fails half-way.
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          ledger.create({
            title: `together ${i}`,
            labels: ['batch'],
            deps: [{ type: 'blocks', id: i === 4 ? 'bd-nope' : target }],
          }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', ...Array(5).fill('fulfilled')]);
      expect(((results[4] as PromiseRejectedResult).reason as Error).message).toMatch(/bd-nope/);
      const made = await ledger.list({ labelsAll: ['batch'], limit: 0 });
      expect(made.map((i) => i.title).sort()).toEqual([0, 1, 2, 3, 5, 6, 7, 8, 9].map((i) => `together ${i}`));
      for (const issue of made)
        expect(await ledger.get(issue.id)).toMatchObject({ labels: ['batch'], dependencies: [expect.objectContaining({ depends_on_id: target })] });
      // Nine creates recorded, nothing of the failed one.
      const events = (await ledger.events(0, 1000)).slice(before);
      expect(events.filter((e) => e.event_type === 'created')).toHaveLength(9);
      // What a reader sees right after: every write that resolved is there (committed before it resolved).
      await ledger.close([target]);
      expect((await ids(ledger)).length).toBe(9);
    });
  });

  describe('town records: event stream, mail, merge requests, notification outbox', () => {
    it('town events: in order by position, filtered by kind family and agent; agent.state coalesces to the latest', async () => {
      const { ledger } = await openLedger();
      const start = await ledger.lastTownEventId();
      await ledger.emit({ kind: 'mr.queued', rig: 'api', bead: 'bd-1', payload: { n: 1 } });
      await ledger.emit({ kind: 'agent.state', agent: 'api/polecats/a', payload: { state: 'working' } });
      await ledger.emit({ kind: 'mr.merged', rig: 'api', bead: 'bd-1', payload: { n: 2 } });
      await ledger.emit({ kind: 'agent.state', agent: 'api/polecats/a', payload: { state: 'idle' } });
      const all = await ledger.townEvents(start, {}, 100);
      expect(all.map((e) => e.kind)).toEqual(['mr.queued', 'mr.merged', 'agent.state']);
      expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => a - b));
      expect(all[2]?.payload).toEqual({ state: 'idle' });
      expect((await ledger.townEvents(start, { kinds: ['mr'] }, 100)).map((e) => e.payload.n)).toEqual([1, 2]);
      expect((await ledger.townEvents(start, { kinds: ['mr.merged'] }, 100)).map((e) => e.kind)).toEqual(['mr.merged']);
      expect((await ledger.townEvents(start, { agent: 'api/polecats/a' }, 100)).map((e) => e.kind)).toEqual(['agent.state']);
      expect(await ledger.lastTownEventId()).toBe(all.at(-1)?.id);
      expect(await ledger.townEvents(all.at(-1)?.id ?? 0, {}, 100)).toEqual([]);
    });

    it('mail: sent, listed in the inbox with its thread and labels, read, acked', async () => {
      const { ledger } = await openLedger();
      await ledger.setConfig('issue_prefix', 'hq');
      const mayor = new Mailbox(ledger, 'mayor');
      const sent = await mayor.send('api/polecats/a', 'Rebase', 'please rebase on main', { priority: 1 });
      const polecat = new Mailbox(ledger, 'api/polecats/a');
      const inbox = await polecat.inbox('api/polecats/a');
      expect(inbox.map((m) => [m.id, m.subject, m.from, m.read])).toEqual([[sent.id, 'Rebase', 'mayor', false]]);
      const reply = await polecat.reply(sent.id, 'done');
      expect((await polecat.thread(sent.id)).map((m) => m.id)).toEqual([sent.id, reply.id]);
      expect((await polecat.markRead(sent.id)).read).toBe(true);
      await polecat.ack([sent.id]);
      expect(await polecat.inbox('api/polecats/a')).toEqual([]);
      expect((await polecat.inbox('api/polecats/a', { all: true })).map((m) => m.acked)).toEqual([true]);
      expect((await ledger.townEvents(0, { kinds: ['mail'] }, 100)).map((e) => e.bead)).toEqual([sent.id, reply.id]);
    });

    it('merge requests: queued per rig by their metadata, out of ready work, gone from the queue when closed', async () => {
      const { ledger } = await openLedger();
      const work = await make(ledger, 'work');
      const mrApi = await make(ledger, 'merge work', { type: 'merge-request', metadata: { rig: 'api', branch: 'polecat/a', attempts: 2 } });
      await make(ledger, 'merge other', { type: 'merge-request', metadata: { rig: 'web', branch: 'polecat/b' } });
      const queue = async (rig: string) =>
        (await ledger.list({ types: ['merge-request'], metadataFields: { rig }, excludeStatuses: ['closed'], includeEphemeral: true, limit: 0 })).map(
          (i) => i.id,
        );
      expect(await queue('api')).toEqual([mrApi]);
      expect((await ledger.list({ types: ['merge-request'], hasMetadataKeys: ['branch'] })).length).toBe(2);
      expect((await ledger.list({ metadataFields: { attempts: '2' } })).map((i) => i.id)).toEqual([mrApi]);
      expect(await ids(ledger)).toEqual([work]);
      await ledger.close([mrApi], { reason: 'merged' });
      expect(await queue('api')).toEqual([]);
    });

    it('notification outbox: one message per channel and dedupe key; a due message is claimed by one sender', async () => {
      const { ledger } = await openLedger();
      const row = (channel: string, dedupe: string) => ({
        channel,
        severity: 'high' as const,
        kind: 'escalation',
        title: 'help',
        body: 'stuck',
        dedupe_key: dedupe,
        actions: [{ verb: 'ack' as const, label: 'Ack' }],
        next_at: '2026-01-01T00:00:00.000000000Z',
        created_at: '2026-01-01T00:00:00.000000000Z',
        created_by: 'deacon',
      });
      const [first, duplicate, other] = await ledger.enqueueNotifications([row('tg', 'e1'), row('tg', 'e1'), row('mail', 'e1')]);
      expect(first).toBeTypeOf('number');
      expect(duplicate).toBeUndefined();
      expect(other).toBeTypeOf('number');
      const due = '2026-01-01T00:01:00.000000000Z';
      const lease = '2026-01-01T00:02:00.000000000Z';
      expect(await ledger.claimNotification(first as number, due, lease)).toBe(true);
      expect(await ledger.claimNotification(first as number, due, lease)).toBe(false);
      await ledger.updateNotification(first as number, { status: 'sent', sent_at: due, receipt: '42' });
      expect((await ledger.notifications({ channel: 'tg' })).map((n) => [n.status, n.receipt, n.actions])).toEqual([
        ['sent', '42', [{ verb: 'ack' as const, label: 'Ack' }]],
      ]);
      expect((await ledger.notifications({ statuses: ['pending'], dueBy: due })).map((n) => n.channel)).toEqual(['mail']);
      await ledger.setNotifyCursor('events', '17');
      expect(await ledger.notifyCursor('events')).toBe('17');
    });

    it('the wake-up port: a watcher on another connection is woken when town events are appended', async () => {
      const { ledger, path } = await openLedger();
      const { ledger: follower } = await openLedger({ path });
      let wakes = 0;
      const stop = await follower.watchEvents(() => wakes++);
      try {
        await ledger.emit({ kind: 'mr.queued', payload: {} });
        const deadline = Date.now() + 30_000;
        while (wakes === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(wakes).toBeGreaterThan(0);
        expect((await follower.townEvents(0, {}, 10)).map((e) => e.kind)).toEqual(['mr.queued']);
      } finally {
        stop();
      }
    });
  });
});
