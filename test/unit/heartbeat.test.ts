/**
 * The heartbeat contract and memory kept in git, without a model: the rules
 * as functions, and the memory through an in-process town (real git).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyReply, isEffectivelyEmpty, renderHeartbeat } from '../../src/core/heartbeat/contract.js';
import { replyFromStream, replyFromTranscript } from '../../src/core/heartbeat/reply.js';
import { takeHeartbeatDelivery, deliveryPath } from '../../src/core/heartbeat/state.js';
import { heartbeatTick } from '../../src/core/heartbeat/heartbeat.js';
import {
  appendLongTermMemory,
  appendMemoryLog,
  isoWeek,
  primeMemory,
  rollupMemory,
  searchMemory,
  showMemory,
  wallClock,
} from '../../src/core/memory/memory.js';
import { afterFlushTurn, noteFlushPrompt, preCompact } from '../../src/core/memory/flush.js';
import { parseTownConfig } from '../../src/core/town/config.js';
import { runDog, type DogPorts } from '../../src/core/dogs/dogs.js';
import { townHarness } from '../support/harness.js';

const MAYOR = { address: 'mayor', role: 'mayor' } as const;
/** The memory dog needs no port of its own. */
const dogPorts: DogPorts = {
  exportLedger: () => Promise.reject(new Error('not used by the memory dog')),
};

describe('the heartbeat contract', () => {
  it('HEARTBEAT.md with only headings, blank lines and comments is empty; a missing file is not', () => {
    expect(isEffectivelyEmpty('')).toBe(true);
    expect(isEffectivelyEmpty('# Heartbeat\n\n## Daily\n   \n<!-- later:\n- search news -->\n')).toBe(true);
    expect(isEffectivelyEmpty('# Heartbeat\n- check the build\n')).toBe(false);
    expect(isEffectivelyEmpty('#hashtag is text\n')).toBe(false);
  });

  it('HEARTBEAT_OK at the start or end within ack_max_chars is an ack; in the middle, or with more, an alert', () => {
    expect(classifyReply('HEARTBEAT_OK', 300)).toEqual({ kind: 'ok', rest: '' });
    expect(classifyReply('**HEARTBEAT_OK**', 300)).toEqual({ kind: 'ok', rest: '' });
    expect(classifyReply('Checked the news, all quiet. HEARTBEAT_OK', 300)).toEqual({ kind: 'ok', rest: 'Checked the news, all quiet.' });
    expect(classifyReply('HEARTBEAT_OK — nothing new', 5)).toMatchObject({ kind: 'alert' });
    expect(classifyReply('The build is red. HEARTBEAT_OK was not the answer.', 300)).toMatchObject({ kind: 'alert' });
    expect(classifyReply('Fusion breakthrough announced.', 300)).toEqual({ kind: 'alert', text: 'Fusion breakthrough announced.' });
  });

  it('the message carries the prompt, the time, queued events and the checklist', () => {
    const text = renderHeartbeat({ id: 'hb-1', prompt: 'P', time: 'T', events: ['deploy done'], checklist: '- task one', logPath: 'memory/x.md' });
    expect(text.split('\n')[0]).toBe('[gt heartbeat hb-1] P');
    expect(text).toContain('Current time: T');
    expect(text).toContain('System: deploy done');
    expect(text).toContain('<HEARTBEAT.md>\n- task one\n</HEARTBEAT.md>');
  });

  it("reads the turn's reply from Claude Code's stream and transcript", () => {
    const stream = [
      '{"type":"system","subtype":"init"}',
      '{"type":"assistant","message":{"content":[{"type":"text","text":"thinking"}]}}',
      '{"type":"result","subtype":"success","is_error":false,"result":"HEARTBEAT_OK"}',
    ].join('\n');
    expect(replyFromStream(stream.split('\n').slice(0, 2).join('\n'))).toBeUndefined();
    expect(replyFromStream(stream)).toEqual({ text: 'HEARTBEAT_OK' });
    expect(replyFromStream('{"type":"result","subtype":"error_during_execution","is_error":true}')).toEqual({ error: 'error_during_execution' });
    const transcript = [
      { type: 'user', message: { role: 'user', content: 'an older prompt' } },
      { type: 'assistant', message: { content: [{ type: 'text', text: 'older answer' }] } },
      { type: 'user', message: { role: 'user', content: '[gt heartbeat hb-7] Heartbeat: follow…' } },
      { type: 'assistant', message: { content: [{ type: 'tool_use', name: 'Bash' }] } },
      { type: 'user', message: { role: 'user', content: [{ type: 'tool_result', content: 'ok' }] } },
      { type: 'assistant', message: { content: [{ type: 'text', text: 'Alert: the site is down' }] } },
      { type: 'user', message: { role: 'user', content: 'the next prompt' } },
      { type: 'assistant', message: { content: [{ type: 'text', text: 'later' }] } },
    ]
      .map((e) => JSON.stringify(e))
      .join('\n');
    expect(replyFromTranscript(transcript, '[gt heartbeat hb-7]')).toEqual({ text: 'Alert: the site is down' });
    expect(replyFromTranscript(transcript, '[gt heartbeat hb-8]')).toBeUndefined();
  });

  it('bad [heartbeat] settings name town.toml and the key', () => {
    const bad = (table: string) => () => parseTownConfig(`name = "t"\n[heartbeat]\n${table}\n`, '/t/town.toml');
    expect(bad('every = "often"')).toThrow(/\/t\/town\.toml: key heartbeat\.every: a duration/);
    expect(bad('active_hours = { start = "8am", end = "24:00" }')).toThrow(/\/t\/town\.toml: key heartbeat\.active_hours\.start:/);
    expect(bad('active_hours = { start = "08:00", end = "22:00", timezone = "Mars/Olympus" }')).toThrow(
      /\/t\/town\.toml: key heartbeat\.active_hours\.timezone: unknown time zone "Mars\/Olympus"/,
    );
    expect(bad('agent = "app/polecats/nux"')).toThrow(/key heartbeat\.agent:/);
    expect(bad('ack_max_chars = -1')).toThrow(/key heartbeat\.ack_max_chars/);
    expect(bad('notify = "default"')).toThrow(/key heartbeat\.notify/);
    expect(parseTownConfig('name = "t"\n[heartbeat]\n', 't.toml').heartbeat).toMatchObject({
      every: '30m',
      agent: 'mayor',
      ack_max_chars: 300,
      notify: ['default'],
    });
  });
});

describe('memory kept in git', () => {
  it('appends to the daily log as commits by the agent, searches it, and prime shows it within its budget', async () => {
    const h = await townHarness();
    const first = await appendMemoryLog(h.town, MAYOR, 'The release moved to Friday');
    await appendMemoryLog(h.town, MAYOR, 'Ada owns the billing rig\nsecond line');
    const home = join(h.root, 'mayor');
    const text = readFileSync(join(home, first.file), 'utf8');
    expect(text).toMatch(/^# \d{4}-\d{2}-\d{2}\n\n- \d{2}:\d{2} The release moved to Friday\n- \d{2}:\d{2} Ada owns the billing rig\n {2}second line\n$/);
    expect(h.git(home, ['log', '--format=%an <%ae>', '-2']).trim().split('\n')).toEqual(['mayor <mayor@gt.local>', 'mayor <mayor@gt.local>']);
    // What the agent staged itself stays out of gt's commits.
    writeFileSync(join(home, 'notes.txt'), 'draft');
    h.git(home, ['add', 'notes.txt']);
    await appendMemoryLog(h.town, MAYOR, 'third');
    expect(h.git(home, ['show', '--name-only', '--format=', 'HEAD']).trim()).toBe(first.file);
    expect(h.git(home, ['diff', '--cached', '--name-only']).trim()).toBe('notes.txt');
    expect(searchMemory(h.town, MAYOR, 'RELEASE friday')).toEqual([
      { file: first.file, line: 3, text: expect.stringContaining('The release moved to Friday') },
    ]);
    expect(searchMemory(h.town, MAYOR, 'release monday')).toEqual([]);
    expect(await appendLongTermMemory(h.town, MAYOR, 'Releases are on Fridays')).toMatchObject({
      file: 'MEMORY.md',
      commit: expect.stringMatching(/^[0-9a-f]{40}$/),
    });
    expect(readFileSync(join(home, 'MEMORY.md'), 'utf8')).toMatch(/\n- Releases are on Fridays\n$/);
    const prime = primeMemory(h.town, MAYOR, 8000);
    expect(prime).toContain('### MEMORY.md');
    expect(prime).toContain(`### ${first.file}`);
    expect(Buffer.byteLength(primeMemory(h.town, MAYOR, 200))).toBeLessThanOrEqual(200);
    expect(primeMemory(h.town, MAYOR, 200)).toContain('third');
  });

  it('rolls daily logs older than N days into weekly files, in one commit, nothing lost', async () => {
    const h = await townHarness();
    const home = join(h.root, 'mayor');
    const today = wallClock(new Date().toISOString()).date;
    await appendMemoryLog(h.town, MAYOR, 'today');
    for (const [date, line] of [
      ['2026-01-05', 'monday note'],
      ['2026-01-07', 'wednesday note'],
      ['2026-01-12', 'next week'],
    ]) {
      writeFileSync(join(home, 'memory', `${date}.md`), `# ${date}\n\n- 09:00 ${line}\n`);
      h.git(home, ['add', `memory/${date}.md`]);
    }
    h.git(home, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'old logs']);
    // The daemon's memory dog (daily; memory.rollup_after_days = 14 by default): a dry run changes nothing, a second run finds nothing.
    const dry = await runDog(h.town, 'memory', dogPorts, { dryRun: true });
    expect(dry.actions.map((a) => a.target)).toEqual(['mayor: memory/weekly/2026-W02.md', 'mayor: memory/weekly/2026-W03.md']);
    expect(h.git(home, ['ls-files', 'memory']).trim().split('\n')).toHaveLength(4);
    expect((await runDog(h.town, 'memory', dogPorts)).actions).toHaveLength(2);
    expect((await runDog(h.town, 'memory', dogPorts)).result).toBe('nothing');
    expect(await rollupMemory(h.town, MAYOR, 14)).toMatchObject({ weeks: [] });
    expect(dry.actions.map((a) => a.detail)).toEqual(['2 daily log(s): 2026-01-05, 2026-01-07', '1 daily log(s): 2026-01-12']);
    expect(h.git(home, ['log', '-1', '--format=%an %s']).trim()).toBe('mayor memory: roll 3 daily log(s) into 2 week(s)');
    expect(readFileSync(join(home, 'memory/weekly/2026-W02.md'), 'utf8')).toBe(
      '# Week 2026-W02\n\n## 2026-01-05\n\n- 09:00 monday note\n\n## 2026-01-07\n\n- 09:00 wednesday note\n',
    );
    expect(h.git(home, ['status', '--porcelain']).trim()).toBe('');
    expect(h.git(home, ['ls-files', 'memory']).trim().split('\n')).toEqual([`memory/${today}.md`, 'memory/weekly/2026-W02.md', 'memory/weekly/2026-W03.md']);
    expect(searchMemory(h.town, MAYOR, 'wednesday')).toMatchObject([{ file: 'memory/weekly/2026-W02.md' }]);
    expect([isoWeek('2026-01-01'), isoWeek('2024-12-30'), isoWeek('2027-01-03')]).toEqual(['2026-W01', '2025-W01', '2026-W53']);
  });

  it('PreCompact holds the compaction once for a flush turn, then lets it through', async () => {
    const h = await townHarness();
    expect(await preCompact(h.town, MAYOR, 'manual')).toMatchObject({ hold: expect.stringContaining('memory flush') });
    expect(h.detached.calls).toMatchObject([{ what: 'nudge', agent: 'mayor', text: expect.stringContaining('[gt memory flush]'), options: { raw: true } }]);
    // While it is asked for, a second compaction waits too, and asks nothing new.
    expect(await preCompact(h.town, MAYOR, 'auto')).toHaveProperty('hold');
    expect(h.detached.calls).toHaveLength(1);
    noteFlushPrompt(h.town, MAYOR, '[gt memory flush] Your context is about to be compacted…');
    afterFlushTurn(h.town, MAYOR);
    expect(h.detached.calls[1]).toMatchObject({ what: 'nudge', text: '/compact' });
    expect(await preCompact(h.town, MAYOR, 'manual')).toEqual({ allow: true });
    // A new cycle flushes again; polecats never flush.
    expect(await preCompact(h.town, MAYOR, 'auto')).toHaveProperty('hold');
    expect(await preCompact(h.town, { address: 'app/polecats/nux', role: 'polecat', rig: 'app', name: 'nux' }, 'auto')).toEqual({ allow: true });
  });

  it("a heartbeat's message waits for its prompt hook and is taken once", async () => {
    const h = await townHarness();
    mkdirSync(dirname(deliveryPath(h.root, 'hb-1-ab')), { recursive: true });
    writeFileSync(deliveryPath(h.root, 'hb-1-ab'), 'the whole message');
    expect(takeHeartbeatDelivery(h.town, 'an ordinary prompt')).toBe('');
    expect(takeHeartbeatDelivery(h.town, '[gt heartbeat hb-1-ab] Heartbeat: follow…')).toBe('the whole message');
    expect(takeHeartbeatDelivery(h.town, '[gt heartbeat hb-1-ab] Heartbeat: follow…')).toBe('');
  });
});

describe('a heartbeat tick (in-process town, recorded sessions)', () => {
  it('skips in order with no session touched, starts a stopped Mayor with the message, and records a start that fails', async () => {
    const h = await townHarness();
    const toml = join(h.root, 'town.toml');
    const hour = new Date().getUTCHours();
    const quiet = `active_hours = { start = "${String((hour + 2) % 24).padStart(2, '0')}:00", end = "${String((hour + 3) % 24).padStart(2, '0')}:00", timezone = "UTC" }`;
    const base = readFileSync(toml, 'utf8');
    writeFileSync(toml, `${base}\n[heartbeat]\nevery = "1h"\n${quiet}\n`);
    h.town.reloadConfig();
    expect(await heartbeatTick(h.town)).toMatchObject({ result: 'skipped', reason: 'quiet-hours' });
    writeFileSync(toml, `${base}\n[heartbeat]\nevery = "1h"\n`);
    h.town.reloadConfig();
    // What gt install writes is effectively empty.
    expect(await heartbeatTick(h.town)).toMatchObject({ result: 'skipped', reason: 'empty-heartbeat-file' });
    expect(h.backend.started).toEqual([]);

    writeFileSync(join(h.root, 'mayor', 'HEARTBEAT.md'), '# Heartbeat\n- check the merge queue\n');
    const failed = await heartbeatTick(h.town, {
      checkRuntime: () => {
        throw new Error('the claude runtime needs `claude`, which is not installed');
      },
    });
    expect(failed).toMatchObject({ result: 'failed', reason: 'not-delivered', text: expect.stringContaining('not installed') });
    const sent = await heartbeatTick(h.town);
    expect(sent).toMatchObject({ result: 'sent', reason: 'started' });
    const argv = h.backend.started[0]?.argv ?? [];
    expect(argv.at(-1)).toContain(`[gt heartbeat ${sent.id}]`);
    expect(argv.at(-1)).toContain('- check the merge queue');
    // Its reply has not come: the next tick finds it busy.
    expect(await heartbeatTick(h.town)).toMatchObject({ result: 'skipped', reason: 'busy' });
    const kinds = (await h.ledger.townEvents(0, { kinds: ['heartbeat'] })).map(
      (e) => `${e.kind}:${typeof e.payload.reason === 'string' ? e.payload.reason : ''}`,
    );
    expect(kinds).toEqual([
      'heartbeat.skipped:quiet-hours',
      'heartbeat.skipped:empty-heartbeat-file',
      'heartbeat.failed:not-delivered',
      'heartbeat.sent:',
      'heartbeat.skipped:busy',
    ]);
    const log = showMemory(h.town, MAYOR, { days: 1 }).files.find((f) => f.file.startsWith('memory/'))?.text ?? '';
    expect(log.match(/^- \d{2}:\d{2} heartbeat /gm)).toHaveLength(4);
  });
});
