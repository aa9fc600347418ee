/**
 * Feed and dashboard benchmark (issue 16): a town with 50 agents (each with a
 * hooked bead) and 10,000 beads, and against the stated targets:
 *   - the dashboard's first page, server time (target < 300 ms), beside the
 *     town snapshot it renders (the baseline: what any view must read);
 *   - an event reaching an open SSE stream (target < 1 s);
 *   - a feed frame: a key press to the next frame Ink writes (target < 50 ms);
 *   - the dashboard's CPU while the town is idle with a browser stream open
 *     (target < 5 % of a core).
 *
 *   npm run bench:ui
 *   BENCH_BEADS=2000 BENCH_IDLE_S=5 npm run bench:ui     # quicker
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createElement } from 'react';
import { render } from 'ink-testing-library';
import { openTown } from '../src/app/index.js';
import { polecatIdentity } from '../src/core/agents/identity.js';
import { townSnapshot } from '../src/core/watch/snapshot.js';
import { FeedApp } from '../src/ui/feed/app.js';
import { feedSource } from '../src/ui/feed/run.js';
import { startDashboard } from '../src/ui/dashboard/server.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 50);
const BEADS = Number(process.env.BENCH_BEADS ?? 10_000);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 10);
const GT = resolve(import.meta.dirname, '..', 'dist', 'gt.cjs');
const log = (text: string) => process.stderr.write(`${text}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'gt-bench-ui-'));
  const root = join(base, 'town');
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: base, GIT_CONFIG_GLOBAL: '/dev/null', NO_COLOR: '1', GT_ROOT: root };
  const installed = spawnSync(process.execPath, [GT, 'install', root], { env, encoding: 'utf8' });
  if (installed.status !== 0) throw new Error(`gt install failed: ${installed.stderr}`);
  const town = await openTown(root, env, 'human', () => undefined);
  log(`town: ${AGENTS} agents, ${BEADS} beads…`);
  for (let i = 0; i < BEADS; i++) await town.ledger.create({ title: `Bead ${i}`, prefix: 'hq', priority: i % 4 });
  const hookable = await town.ledger.list({ statuses: ['open'], limit: AGENTS, sort: 'created' });
  for (let i = 0; i < AGENTS; i++) {
    const identity = polecatIdentity('app', `p${i}`);
    await town.saveAgent(identity, {
      state: 'working',
      runtime: 'shell',
      session: `gt-app-p${i}`,
      workdir: `app/polecats/p${i}`,
      last_signal_at: town.ports.now(),
    });
    const bead = hookable[i];
    if (bead) await town.ledger.update([bead.id], { status: 'hooked', assignee: identity.address });
  }
  const daemon = () => ({ running: false, log: '' });

  // Baseline: the snapshot every view reads.
  const snaps: number[] = [];
  for (let i = 0; i < 7; i++) {
    const start = process.hrtime.bigint();
    await townSnapshot(town, daemon());
    snaps.push(ms(start));
  }

  const dash = await startDashboard(town, {
    host: '127.0.0.1',
    port: 0,
    daemonStatus: daemon,
    probe: { which: () => true, version: () => undefined } as never,
    prepareSessions: () => undefined,
    log,
  });
  const auth = { Authorization: `Bearer ${dash.token}` };
  const pages: number[] = [];
  for (let i = 0; i < 7; i++) {
    // A new event, and longer than the burst window: the page cannot come from the snapshot cached for the last one.
    await town.ledger.emit({ kind: 'mail.sent', agent: 'mayor', payload: { subject: `page ${i}` } });
    await new Promise((r) => setTimeout(r, 400));
    const start = process.hrtime.bigint();
    const res = await fetch(`${dash.url}/`, { headers: auth });
    await res.text();
    pages.push(ms(start));
  }

  // Event to an open stream: emit, then time until the SSE frame with its id arrives.
  const latencies: number[] = [];
  const stream = await fetch(`${dash.url}/events?after=${await town.ledger.lastTownEventId()}`, { headers: auth });
  const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (let i = 0; i < 5; i++) {
    const start = process.hrtime.bigint();
    const id = await town.ledger.emit({ kind: 'mail.sent', agent: 'mayor', payload: { subject: `bench ${i}` } });
    while (!buffer.includes(`id: ${id}\n`)) buffer += decoder.decode((await reader.read()).value);
    latencies.push(ms(start));
  }

  // Idle CPU with the stream open.
  const cpuStart = process.cpuUsage();
  const wallStart = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, IDLE_S * 1000));
  const cpu = process.cpuUsage(cpuStart);
  const idlePct = ((cpu.user + cpu.system) / 1000 / ms(wallStart)) * 100;
  await reader.cancel();
  await dash.close();

  // A feed frame: a key press to the frame Ink writes for it.
  const ui = render(createElement(FeedApp, { source: feedSource(town, daemon), options: { noColor: true, refreshMs: 60_000 } }));
  const deadline = Date.now() + 60_000;
  while (!(ui.lastFrame() ?? '').includes('p0') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const frames: number[] = [];
  for (let i = 0; i < 30; i++) {
    const before = ui.frames.length;
    const start = process.hrtime.bigint();
    ui.stdin.write('j');
    while (ui.frames.length === before) await new Promise((r) => setImmediate(r));
    frames.push(ms(start));
  }
  ui.unmount();
  await town.ledger.release();

  const rows = [
    ['town snapshot (baseline)', median(snaps), undefined],
    ['dashboard first page, server time', median(pages), 300],
    ['event to an open SSE stream', median(latencies), 1000],
    ['feed frame after a key', median(frames), 50],
  ] as const;
  for (const [what, value, target] of rows)
    log(`${what.padEnd(36)} ${value.toFixed(1).padStart(8)} ms${target ? `   target < ${target} ms: ${value < target ? 'met' : 'MISSED'}` : ''}`);
  log(`${'first page / snapshot'.padEnd(36)} ${(median(pages) / median(snaps)).toFixed(2).padStart(8)} ×`);
  log(`${'dashboard CPU, idle, stream open'.padEnd(36)} ${idlePct.toFixed(2).padStart(8)} %    target < 5 %: ${idlePct < 5 ? 'met' : 'MISSED'}`);
}

await main();
