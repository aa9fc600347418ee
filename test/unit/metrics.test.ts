/**
 * `gt metrics` figures equal what the ledger says: a scripted history (slings,
 * merges, rejections, a person's nudges and answers, usage) is written to a
 * real town's ledger at known times, and every figure is checked against the
 * value worked out by hand from that script.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLedgerStore } from '../../src/app/index.js';
import { Ledger } from '../../src/core/beads/ledger.js';
import type { TownEventInput } from '../../src/core/events/town-events.js';
import { computeMetrics, loadMetricsInput } from '../../src/core/metrics/metrics.js';
import { createConvoy } from '../../src/core/work/convoys.js';
import { RUNS_DIR, TOWN_LEDGER } from '../../src/shared/paths.js';
import { onCleanup } from '../support/env.js';
import { townHarness } from '../support/harness.js';

const T0 = Date.parse('2026-11-20T10:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

async function scriptedTown() {
  const h = await townHarness();
  const b1 = await h.bead('one');
  const b2 = await h.bead('two');
  const b3 = await h.bead('three');
  const b4 = await h.bead('four');
  const convoy = await createConvoy(h.town, 'Login rewrite', [b1, b2], { owner: 'human' });
  // A second handle on the same ledger whose clock and actor the script sets, event by event.
  let clock = at(0);
  let actor = 'human';
  const ledger = new Ledger(openLedgerStore(join(h.root, TOWN_LEDGER)), { actor: () => actor, clock: () => clock });
  onCleanup(() => ledger.release());
  const emit = async (minutes: number, who: string, event: TownEventInput) => {
    clock = at(minutes);
    actor = who;
    // The actor is fixed at the first write of a handle: name it on each event instead.
    await ledger.emit({ ...event, actor: who });
  };
  const cat = 'app/polecats/cat';
  const dog = 'web/polecats/dog';
  // b1: slung to cat (claude), queued at 30, merged at 40 (wait 10 min).
  await emit(0, 'human', { kind: 'bead.slung', bead: b1, agent: cat, rig: 'app', payload: { runtime: 'claude' } });
  await emit(5, 'human', { kind: 'nudge.sent', agent: cat, rig: 'app', payload: { delivery: 'typed' } });
  await emit(6, 'human', { kind: 'permission.decided', agent: cat, bead: 'hq-perm1', rig: 'app', payload: { decision: 'allow' } });
  await emit(30, cat, { kind: 'mr.queued', bead: b1, agent: cat, rig: 'app', payload: { merge_request: 'app-mr1' } });
  await emit(40, 'app/refinery', { kind: 'mr.merged', bead: b1, agent: cat, rig: 'app', payload: { merge_request: 'app-mr1' } });
  // b2: slung to dog (codex) in rig web; rejected once (wait 20), re-slung by the person, merged (wait 30) the next hour.
  await emit(10, 'human', { kind: 'bead.slung', bead: b2, agent: dog, rig: 'web', payload: { runtime: 'codex' } });
  await emit(20, dog, { kind: 'mr.queued', bead: b2, agent: dog, rig: 'web', payload: { merge_request: 'web-mr1' } });
  await emit(40, 'web/refinery', { kind: 'mr.rejected', bead: b2, agent: dog, rig: 'web', payload: { merge_request: 'web-mr1', reason: 'tests failed' } });
  await emit(45, 'human', { kind: 'bead.slung', bead: b2, agent: dog, rig: 'web', payload: { runtime: 'codex' } });
  await emit(60, dog, { kind: 'mr.queued', bead: b2, agent: dog, rig: 'web', payload: { merge_request: 'web-mr2' } });
  await emit(90, 'web/refinery', { kind: 'mr.merged', bead: b2, agent: dog, rig: 'web', payload: { merge_request: 'web-mr2' } });
  // b3: slung by the mayor (no person), queued and merged the next day (wait 60 min).
  await emit(24 * 60, 'mayor', { kind: 'bead.slung', bead: b3, agent: cat, rig: 'app', payload: { runtime: 'claude' } });
  await emit(24 * 60 + 10, cat, { kind: 'mr.queued', bead: b3, agent: cat, rig: 'app', payload: { merge_request: 'app-mr2' } });
  await emit(24 * 60 + 70, 'app/refinery', { kind: 'mr.merged', bead: b3, agent: cat, rig: 'app', payload: { merge_request: 'app-mr2' } });
  // b4: slung, never finished; a person mails its worker (b4 is in no convoy).
  await emit(24 * 60 + 80, 'human', { kind: 'bead.slung', bead: b4, agent: dog, rig: 'web', payload: { runtime: 'codex' } });
  await emit(24 * 60 + 85, 'human', { kind: 'mail.sent', agent: dog, bead: 'hq-mail1', payload: { to: dog } });
  // Noise metrics must ignore: state churn, a mail from an agent.
  await emit(24 * 60 + 86, cat, { kind: 'agent.state', agent: cat, payload: { state: 'working' } });
  await emit(24 * 60 + 87, cat, { kind: 'mail.sent', agent: dog, bead: 'hq-mail2', payload: { to: dog } });

  // Usage: cat spent 1000 tokens ($0.30) on b1 and 3000 ($0.90) on b3; dog 2000 tokens ($1.00) on b2.
  const usage = (run: string, records: Array<Record<string, unknown>>) => {
    const dir = join(h.root, RUNS_DIR, run);
    mkdirSync(dir, { recursive: true });
    const zero = { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, priced: true, source: 'stream-json' };
    writeFileSync(join(dir, 'usage.jsonl'), records.map((r) => `${JSON.stringify({ ...zero, run, ...r })}\n`).join(''));
  };
  usage('run-cat', [
    { at: at(20), agent: cat, rig: 'app', bead: b1, input_tokens: 600, output_tokens: 400, usd: 0.3 },
    { at: at(24 * 60 + 20), agent: cat, rig: 'app', bead: b3, input_tokens: 1000, cache_read_tokens: 2000, usd: 0.9 },
  ]);
  usage('run-dog', [{ at: at(50), agent: dog, rig: 'web', bead: b2, output_tokens: 2000, usd: 1 }]);
  return { h, b1, b2, b3, b4, convoy: convoy.id };
}

describe('gt metrics', () => {
  it('computes merges, queue wait, success rate, rework, interventions and cost per merged bead as the ledger records them', async () => {
    const { h, convoy } = await scriptedTown();
    const input = await loadMetricsInput(h.town);
    const until = at(48 * 60);
    const all = computeMetrics(input, { until });
    expect(all.total).toMatchObject({
      merged: 3,
      rejected: 1,
      success_rate: 0.75,
      slung: 4,
      rework: 1,
      rework_rate: 0.25,
      tokens: 6000,
      usd: 2.2,
      tokens_per_merged: 2000,
    });
    expect(all.total.usd_per_merged).toBeCloseTo(2.2 / 3, 6);
    // Waits: 10, 20 (the rejection), 30, 60 minutes.
    expect(all.total.mq_wait).toEqual({ count: 4, mean_ms: 30 * 60_000, p50_ms: 20 * 60_000, p90_ms: 60 * 60_000, max_ms: 60 * 60_000 });
    // From the first event (10:00 on the 20th) to 10:00 on the 22nd: 48 hours, 3 merges.
    expect(all.hours).toBe(48);
    expect(all.merged_per_hour).toBeCloseTo(3 / 48, 3);
    expect(all.merged_per_day).toBeCloseTo(1.5, 3);
    expect(all.merged_by_hour).toEqual([
      { hour: '2026-11-20T10', merged: 1 },
      { hour: '2026-11-20T11', merged: 1 },
      { hour: '2026-11-21T11', merged: 1 },
    ]);
    expect(all.merged_by_day).toEqual([
      { day: '2026-11-20', merged: 2 },
      { day: '2026-11-21', merged: 1 },
    ]);
    // The person's nudge and permission answer to cat (on b1) and re-sling of b2 are in the convoy; the first slings are dispatch, the mail is about b4.
    expect(all.interventions).toEqual([
      { convoy, name: 'Login rewrite', interventions: 3, kinds: { 'nudge.sent': 1, 'permission.decided': 1, 'bead.slung': 1 } },
    ]);
  });

  it('groups by rig, runtime and day, and --since keeps only outcomes in the window', async () => {
    const { h } = await scriptedTown();
    const input = await loadMetricsInput(h.town);
    const until = at(48 * 60);
    const byRig = computeMetrics(input, { until, by: 'rig' });
    const rig = Object.fromEntries(byRig.rows.map((r) => [r.key, r]));
    expect(Object.keys(rig)).toEqual(['app', 'web']);
    expect(rig.app).toMatchObject({ merged: 2, rejected: 0, success_rate: 1, tokens: 4000, usd: 1.2, usd_per_merged: 0.6 });
    expect(rig.app?.mq_wait.mean_ms).toBe(35 * 60_000);
    expect(rig.web).toMatchObject({ merged: 1, rejected: 1, success_rate: 0.5, rework: 1, slung: 2, tokens: 2000, usd: 1, tokens_per_merged: 2000 });

    const byRuntime = computeMetrics(input, { until, by: 'runtime' });
    expect(byRuntime.rows.map((r) => [r.key, r.merged, r.tokens])).toEqual([
      ['claude', 2, 4000],
      ['codex', 1, 2000],
    ]);

    const byDay = computeMetrics(input, { until, by: 'day' });
    expect(byDay.rows.map((r) => [r.key, r.merged, r.rejected, r.usd])).toEqual([
      ['2026-11-20', 2, 1, 1.3],
      ['2026-11-21', 1, 0, 0.9],
    ]);

    // The second day only: b3 merged after an hour's wait; b4 slung; no rework; its wait is still measured from its queueing.
    const since = computeMetrics(input, { until, since: at(24 * 60) });
    expect(since.total).toMatchObject({ merged: 1, rejected: 0, slung: 2, rework: 0, tokens: 3000, usd: 0.9 });
    expect(since.total.mq_wait.mean_ms).toBe(60 * 60_000);
    expect(since.hours).toBe(24);
    expect(since.interventions).toEqual([]);
  });

  it('an empty town has no rates to claim', async () => {
    const h = await townHarness();
    const metrics = computeMetrics(await loadMetricsInput(h.town), { until: new Date().toISOString() });
    expect(metrics.total).toMatchObject({ merged: 0, success_rate: null, rework_rate: null, usd_per_merged: null, tokens_per_merged: null });
    expect(metrics.merged_per_hour).toBe(0);
  });
});
