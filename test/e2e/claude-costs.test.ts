/**
 * Cost and usage from what Claude Code itself reports: its transcripts
 * (interactive, tmux) and its stream-json results (headless). The scripted
 * model returns known token counts, so the totals are known exactly.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bash, claudeInstalled, say, useScriptedClaude } from '../support/claude.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

interface CostRow {
  key: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  usd: number;
  sessions: number;
}
interface Report {
  by: string;
  rows: CostRow[];
  total: CostRow;
}

const TURNS = [
  bash('echo working', { input_tokens: 1000, output_tokens: 200, cache_read_input_tokens: 5000, cache_creation_input_tokens: 300 }),
  say('Done for now.', { input_tokens: 2000, output_tokens: 100 }),
];
const TOKENS = { input_tokens: 3000, output_tokens: 300, cache_read_tokens: 5000, cache_write_tokens: 300 };
// Claude Code's default model here is an Opus 4.5+ model: $5 in, $25 out, $0.50 cache read, $6.25 cache write per million.
const USD = (3000 * 5 + 300 * 25 + 5000 * 0.5 + 300 * 6.25) / 1e6;

async function runOnce(town: TestTown, backend: 'tmux' | 'headless'): Promise<{ bead: string; agent: string }> {
  const bead = town.bead(`Spend some tokens (${backend})`, []);
  const server = await useScriptedClaude(town, TURNS);
  const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'claude', '--backend', backend]);
  const agent = slung?.agent as string;
  await waitFor('the script to be used', () => server.turnsUsed() >= 2 || undefined, 60_000);
  await waitFor(
    'the agent to go idle',
    () => town.json<Array<{ agent: string; state: string }>>(['agents']).find((a) => a.agent === agent)?.state === 'idle' || undefined,
    30_000,
  );
  return { bead, agent };
}

describe.skipIf(!claudeInstalled)("costs from Claude Code's own usage reports", () => {
  it("interactive (transcripts): tokens and USD per agent, bead, convoy, rig and day match the model's figures", async () => {
    const town = makeTown({ rig: 'app' });
    const { bead, agent } = await runOnce(town, 'tmux');
    const convoy = town.gt(['bd', 'create', 'Batch one', '--type', 'convoy', '--silent'], { cwd: join(town.root, 'app') }).stdout.trim();
    expect(town.gt(['bd', 'dep', 'add', convoy, bead, '--type', 'tracks']).code).toBe(0);
    const byAgent = town.json<Report>(['costs']);
    expect(byAgent.rows).toHaveLength(1);
    expect(byAgent.rows[0]).toMatchObject({ key: agent, ...TOKENS, sessions: 1 });
    expect(byAgent.total.usd).toBeCloseTo(USD, 9);
    expect(town.json<Report>(['costs', '--by', 'bead']).rows[0]).toMatchObject({ key: bead, ...TOKENS });
    expect(town.json<Report>(['costs', '--by', 'convoy']).rows[0]).toMatchObject({ key: convoy, ...TOKENS });
    expect(town.json<Report>(['costs', '--by', 'rig']).rows[0]).toMatchObject({ key: 'app', ...TOKENS });
    expect(town.json<Report>(['costs', '--by', 'day']).rows[0]).toMatchObject({ key: new Date().toISOString().slice(0, 10), ...TOKENS });
    expect(town.json<Report>(['costs', '--since', '2999-01-01']).rows).toEqual([]);
    // Read again: each API message is counted once.
    expect(town.json<Report>(['costs']).total).toMatchObject(TOKENS);
    const bad = town.gt(['costs', '--by', 'planet']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('cannot group costs by "planet"');
  });

  it('headless (stream-json): the same totals, USD as Claude Code reports it; a spent budget pauses dispatch and tells the Mayor', async () => {
    const town = makeTown({ rig: 'app' });
    await runOnce(town, 'headless');
    const report = town.json<Report>(['costs']);
    expect(report.total).toMatchObject(TOKENS);
    const runs = join(town.root, '.gt', 'runs');
    const log = readFileSync(join(runs, readdirSync(runs)[0] as string, 'agent.log'), 'utf8');
    const results = log
      .split('\n')
      .filter((l) => l.startsWith('{"type":"result"'))
      .map((l) => JSON.parse(l) as { total_cost_usd: number });
    expect(report.total.usd).toBeCloseTo(results.at(-1)?.total_cost_usd as number, 9);
    expect(report.total.usd).toBeCloseTo(USD, 9);

    expect(town.gt(['config', 'set', 'budgets.daily_tokens', '5000']).code).toBe(0);
    const next = town.bead('One more', []);
    const refused = town.gt(['sling', next, 'app', '--agent', 'claude', '--backend', 'headless']);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain('dispatch is paused');
    expect(refused.stderr).toContain('budgets.daily_tokens = 5000');
    expect(town.json<Array<{ status: string }>>(['bd', 'show', next])[0]?.status).toBe('open');
    expect(town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'mayor']).filter((m) => m.subject.startsWith('BUDGET REACHED'))).toHaveLength(1);
  });
});
