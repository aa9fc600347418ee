/**
 * The heartbeat with the real Claude Code as the Mayor (issue 15 §1): the
 * scripted model server plays the model, everything else — Claude Code, its
 * hooks, gt's session host, the daemon, git — is real. The model server's
 * request log is the proof that skipped ticks cost nothing.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requestText } from '../../src/infra/model-server.js';
import { bash, claudeInstalled, lastUserText, requestsContaining, say, useScriptedClaude } from '../support/claude.js';
import { GT, isolatedEnv, tempDir } from '../support/env.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';
import { TelegramStandIn } from '../support/notify-servers.js';

interface Outcome {
  id: string;
  result: string;
  reason?: string;
  text?: string;
  memory?: { file: string; commit?: string };
}

const TASKS = `# Heartbeat

## Daily news
- Search today's tech news
- Write the 3 most important items to today's memory log
- Reply with an alert only for a major breakthrough
`;

function configure(town: TestTown, heartbeat: string, backend: 'tmux' | 'headless'): void {
  expect(town.gt(['config', 'set', 'sessions.backend', backend]).code).toBe(0);
  appendFileSync(join(town.root, 'town.toml'), `\n[heartbeat]\n${heartbeat}\n`);
  writeFileSync(join(town.root, 'mayor', 'HEARTBEAT.md'), TASKS);
}

/**
 * `gt heartbeat run --now`, without blocking this process: the scripted model
 * server answers from it, so a synchronous child would wait on itself.
 */
async function runNow(town: TestTown): Promise<Outcome> {
  const r = await town.gtAsync(['heartbeat', 'run', '--now', '--timeout', '2m', '--json']);
  if (r.code !== 0) throw new Error(`gt heartbeat run --now failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Outcome;
}

/** Requests that carried a new heartbeat message (later requests repeat the conversation, so only the newest user turn counts). */
const heartbeatRequests = (server: Parameters<typeof requestsContaining>[0]) =>
  server.requests.filter((r) => lastUserText(r).includes('[gt heartbeat hb-')).length;

function todayLog(town: TestTown): { file: string; text: string } {
  const [entry] = town
    .json<{ files: Array<{ file: string; text: string }> }>(['memory', 'show', '--days', '1'])
    .files.filter((f) => f.file.startsWith('memory/'));
  return entry ?? { file: '', text: '' };
}

/** The commit that added `text` to the Mayor's memory, by the Mayor. */
function commitAdding(town: TestTown, file: string, text: string): string {
  return town.git(join(town.root, 'mayor'), ['log', '--format=%an <%ae> %s', `-S${text}`, '--', file]).trim();
}

describe.skipIf(!claudeInstalled)('the heartbeat, with the real Claude Code as the Mayor', () => {
  it('headless: delivers HEARTBEAT.md, drops an ack, records an alert; quiet hours, an empty file and a busy Mayor make no request', async () => {
    const town = makeTown();
    configure(town, 'every = "1h"\nack_max_chars = 20', 'headless');
    const server = await useScriptedClaude(town, [
      // Tick 1 starts the Mayor with the heartbeat as its first prompt; it works through the tasks and acks.
      { match: 'Daily news', ...bash('gt memory add "news: three small items, nothing big"') },
      say('HEARTBEAT_OK'),
      // Tick 2: an alert.
      { match: '[gt heartbeat hb-', ...say('Major breakthrough: room-temperature superconductor confirmed.') },
      // A person's request keeps the Mayor busy for a while.
      { match: 'Please check the build', ...bash('sleep 6; echo checked') },
      say('The build is fine.'),
    ]);

    const ok = await runNow(town);
    expect(ok).toMatchObject({ result: 'ok' });
    // The model's request carried HEARTBEAT.md's tasks, with the time.
    const first = server.mainRequests()[0];
    expect(requestText(first as never)).toContain('Write the 3 most important items');
    expect(requestText(first as never)).toContain('Current time:');
    let log = todayLog(town);
    expect(log.text).toContain('news: three small items, nothing big');
    expect(log.text).toMatch(/heartbeat ok/);
    expect(commitAdding(town, log.file, 'heartbeat ok')).toMatch(/^mayor <mayor@gt.local>/);
    expect(commitAdding(town, log.file, 'news: three small items')).toMatch(/^mayor <mayor@gt.local>/);

    await waitFor(
      'the Mayor to be idle',
      () => town.json<Array<{ agent: string; state: string }>>(['agents']).find((a) => a.agent === 'mayor')?.state === 'idle' || undefined,
      30_000,
    );
    expect(town.json(['heartbeat', 'event', 'The nightly deploy finished'])).toMatchObject({ text: 'The nightly deploy finished' });
    const alert = await runNow(town);
    expect(alert).toMatchObject({ result: 'alert', text: 'Major breakthrough: room-temperature superconductor confirmed.' });
    expect(requestsContaining(server, 'System: The nightly deploy finished')).toHaveLength(1);
    log = todayLog(town);
    expect(log.text).toContain('heartbeat alert: Major breakthrough');
    expect(commitAdding(town, log.file, 'heartbeat alert')).toMatch(/^mayor /);
    const events = town.json<Array<{ kind: string; payload: Record<string, unknown> }>>(['events', '--type', 'heartbeat']);
    expect(events.map((e) => e.kind)).toEqual(['heartbeat.sent', 'heartbeat.ok', 'heartbeat.sent', 'heartbeat.alert']);
    // No notification channel is configured here: the alert goes to the person's inbox instead of nowhere.
    expect(events[3]?.payload).toMatchObject({ text: alert.text, routes: ['default', 'mail:human'], channels: [] });
    expect(town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'human']).map((m) => m.subject)).toContain(
      'HEARTBEAT ALERT mayor: Major breakthrough: room-temperature superconductor confirmed.',
    );
    expect(town.json<{ last: Outcome }>(['heartbeat', 'last']).last).toMatchObject({ id: alert.id, result: 'alert' });

    const asked = heartbeatRequests(server);
    expect(asked).toBe(2);
    const requests = server.requests.length;
    // Quiet hours: a window that does not hold the current time.
    const hour = new Date().getUTCHours();
    const quiet = `active_hours = { start = "${String((hour + 2) % 24).padStart(2, '0')}:00", end = "${String((hour + 3) % 24).padStart(2, '0')}:00", timezone = "UTC" }`;
    const toml = readFileSync(join(town.root, 'town.toml'), 'utf8');
    writeFileSync(join(town.root, 'town.toml'), toml.replace('[heartbeat]\n', `[heartbeat]\n${quiet}\n`));
    expect(await runNow(town)).toMatchObject({ result: 'skipped', reason: 'quiet-hours' });
    expect(server.requests.length).toBe(requests);
    writeFileSync(join(town.root, 'town.toml'), toml);
    // An effectively empty file: headings, blank lines and comments only.
    writeFileSync(join(town.root, 'mayor', 'HEARTBEAT.md'), '# Heartbeat\n\n## Daily news\n<!-- nothing this week -->\n');
    expect(await runNow(town)).toMatchObject({ result: 'skipped', reason: 'empty-heartbeat-file' });
    expect(server.requests.length).toBe(requests);
    writeFileSync(join(town.root, 'mayor', 'HEARTBEAT.md'), TASKS);
    // Busy: the Mayor is in the middle of a person's request.
    expect(town.gt(['nudge', 'mayor', 'Please check the build', '--wait', '0']).code).toBe(0);
    await waitFor(
      'the Mayor to work',
      () => town.json<Array<{ agent: string; state: string }>>(['agents']).find((a) => a.agent === 'mayor')?.state === 'working' || undefined,
      30_000,
    );
    expect(await runNow(town)).toMatchObject({ result: 'skipped', reason: 'busy' });
    await waitFor('the request to be answered', () => server.turnsUsed() >= 5 || undefined, 60_000);
    expect(heartbeatRequests(server)).toBe(asked);
    log = todayLog(town);
    for (const reason of ['quiet-hours', 'empty-heartbeat-file', 'busy']) expect(log.text).toContain(`heartbeat skipped (${reason})`);
  });

  it('tmux, driven by the daemon: the wake line is typed, the message arrives through the prompt hook, the reply is read from the transcript, the alert reaches Telegram', async () => {
    const town = makeTown();
    configure(town, 'every = "2s"', 'tmux');
    // heartbeat.notify defaults to ["default"]: every channel, here one Telegram chat (a Bot API stand-in on loopback).
    const bot = await TelegramStandIn.start('hb-test-token');
    appendFileSync(join(town.root, 'town.toml'), `\n[notify.phone]\ntype = "telegram"\ntoken = "hb-test-token"\nchat_id = "4242"\napi_base = "${bot.url}"\n`);
    const server = await useScriptedClaude(town, [
      say('Ready.'),
      // The typed line is the newest user message; HEARTBEAT.md arrives beside it as the prompt hook's context.
      { match: '[gt heartbeat hb-', ...say('Nothing new today. HEARTBEAT_OK') },
      { match: '[gt heartbeat hb-', ...say('Alert: the news site is down.') },
    ]);
    expect(town.gt(['mayor', 'start']).code).toBe(0);
    await waitFor(
      'the Mayor to be idle',
      () =>
        (server.turnsUsed() >= 1 && town.json<Array<{ agent: string; state: string }>>(['agents']).find((a) => a.agent === 'mayor')?.state === 'idle') ||
        undefined,
      60_000,
    );
    expect(town.gt(['up']).code).toBe(0);
    const alert = await waitFor('an alert', () => town.json<Array<{ kind: string; payload: Outcome }>>(['events', '--type', 'heartbeat.alert'])[0], 120_000);
    expect(alert.payload.text).toBe('Alert: the news site is down.');
    const kinds = town.json<Array<{ kind: string; payload: Outcome }>>(['events', '--type', 'heartbeat']).map((e) => e.kind);
    expect(kinds.slice(0, 4)).toEqual(['heartbeat.sent', 'heartbeat.ok', 'heartbeat.sent', 'heartbeat.alert']);
    // The typed line was short; HEARTBEAT.md's tasks reached the model as that turn's context.
    const delivered = server.mainRequests().filter((r) => lastUserText(r).includes('[gt heartbeat hb-'));
    expect(delivered.length).toBeGreaterThanOrEqual(2);
    expect(lastUserText(delivered[0] as never)).toContain('Heartbeat: follow the heartbeat instructions');
    expect(lastUserText(delivered[0] as never)).not.toContain('Daily news');
    expect(requestText(delivered[0] as never)).toContain('- Write the 3 most important items to today');
    expect(todayLog(town).text).toContain('heartbeat alert: Alert: the news site is down.');
    const message = await waitFor('the alert on Telegram', () => bot.messages().find((m) => m.text.includes('Alert: the news site is down.')), 60_000);
    expect(message).toMatchObject({ chat_id: '4242', parse_mode: 'HTML' });
    expect(bot.messages().filter((m) => m.text.includes('HEARTBEAT_OK'))).toEqual([]);
    expect(town.gt(['heartbeat', 'disable']).code).toBe(0);
  });
});

/** What a person typing `/compact` does, for a headless session: a user line on its stdin (the run's inbox). */
function typeCompact(town: TestTown): string {
  const runs = join(town.root, '.gt', 'runs');
  const run = join(runs, readdirSync(runs).sort().at(-1) as string);
  writeFileSync(join(run, 'inbox', '.compact.tmp'), `${JSON.stringify({ type: 'user', message: { role: 'user', content: '/compact' } })}\n`);
  renameSync(join(run, 'inbox', '.compact.tmp'), join(run, 'inbox', `${Date.now()}-compact.msg`));
  return run;
}

describe.skipIf(!claudeInstalled)('extraction before compaction', () => {
  it.each(['headless', 'tmux'] as Array<'headless' | 'tmux'>)(
    "%s: a real Claude Code compaction first gets one flush turn, which writes to today's log; once per cycle",
    async (backend) => {
      const town = makeTown();
      expect(town.gt(['config', 'set', 'sessions.backend', backend]).code).toBe(0);
      const server = await useScriptedClaude(town, [
        say('Ready.'),
        { match: '[gt memory flush]', ...bash('gt memory add "survives: the deploy key rotates on Fridays"') },
        say('NO_REPLY'),
        { match: '[gt memory flush]', ...say('NO_REPLY') },
      ]);
      expect(town.gt(['mayor', 'start']).code).toBe(0);
      const idle = () => town.json<Array<{ agent: string; state: string }>>(['agents']).find((a) => a.agent === 'mayor')?.state === 'idle';
      await waitFor('the Mayor to be ready', () => (server.turnsUsed() >= 1 && idle()) || undefined, 60_000);
      // Flush turns the model answered (the compaction's own summary request repeats the prompt, but is no turn of the script).
      const flushes = () => server.mainRequests().filter((r) => r.turn !== undefined && lastUserText(r).includes('[gt memory flush]')).length;
      // What Claude Code writes when it compacts: a compact_boundary in its stream (headless) or its transcript (tmux).
      const transcript = () => town.json<Array<{ metadata?: { transcript?: string } }>>(['bd', 'show', 'hq-mayor'])[0]?.metadata?.transcript ?? '/nonexistent';
      let run = '';
      const compactions = () => {
        const text = backend === 'headless' ? readFileSync(join(run, 'agent.log'), 'utf8') : existsSync(transcript()) ? readFileSync(transcript(), 'utf8') : '';
        return text.split('"compact_boundary"').length - 1;
      };
      const compact = () => {
        if (backend === 'headless') {
          run = typeCompact(town);
          return;
        }
        // A person typing /compact at the Mayor's prompt.
        expect(town.tmux(['send-keys', '-t', '=gt-mayor:', '-l', '/compact']).code).toBe(0);
        expect(town.tmux(['send-keys', '-t', '=gt-mayor:', 'Enter']).code).toBe(0);
      };

      compact();
      await waitFor('the compaction', () => compactions() >= 1 || undefined, 90_000);
      expect(flushes()).toBe(1);
      const log = todayLog(town);
      expect(log.text).toContain('survives: the deploy key rotates on Fridays');
      expect(commitAdding(town, log.file, 'survives: the deploy key')).toMatch(/^mayor <mayor@gt.local>/);
      expect(town.json<unknown[]>(['events', '--type', 'memory.flush_requested'])).toHaveLength(1);

      // The next compaction is a new cycle: one more flush turn, then the compaction.
      await waitFor('the Mayor to be idle', () => idle() || undefined, 30_000);
      compact();
      await waitFor('the second compaction', () => compactions() >= 2 || undefined, 90_000);
      expect(flushes()).toBe(2);
      expect(town.json<unknown[]>(['events', '--type', 'memory.flush_requested'])).toHaveLength(2);
    },
    // Two real compactions with their flush turns: its own waits allow 90 s for the second one.
    180_000,
  );
});

describe.skipIf(!claudeInstalled)('gt demo --heartbeat', () => {
  it('shows a round trip with no API key: an ack, an alert, a skipped tick with no request, the memory log in git; nothing left behind', () => {
    const home = tempDir('gt-demo-home-');
    const r = spawnSync(process.execPath, [GT, 'demo', '--heartbeat', '--json'], { cwd: home, env: isolatedEnv(home), encoding: 'utf8', timeout: 240_000 });
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as {
      ok: boolean;
      town: string;
      ticks: Array<Outcome & { requests: number }>;
      memory_log: { text: string };
      mayor_history: string[];
    };
    expect(summary.ticks.map((t) => t.result)).toEqual(['ok', 'alert', 'skipped']);
    expect(summary.ticks[2]).toMatchObject({ reason: 'empty-heartbeat-file', requests: 0 });
    expect(summary.memory_log.text).toContain('News: 1) a new open-weights model');
    expect(summary.mayor_history.filter((l) => l.includes(' mayor memory '))).toHaveLength(4);
    expect(existsSync(summary.town)).toBe(false);
  });
});

describe('heartbeat settings', () => {
  it('bad every, active_hours or zone: an error naming town.toml and the key, and no tick', () => {
    const town = makeTown();
    const toml = readFileSync(join(town.root, 'town.toml'), 'utf8');
    for (const [table, key] of [
      ['every = "half an hour"', 'heartbeat.every'],
      ['active_hours = { start = "8", end = "24:00" }', 'heartbeat.active_hours.start'],
      ['active_hours = { start = "08:00", end = "22:00", timezone = "Europe/Atlantis" }', 'heartbeat.active_hours.timezone'],
    ] as const) {
      writeFileSync(join(town.root, 'town.toml'), `${toml}\n[heartbeat]\n${table}\n`);
      for (const args of [
        ['heartbeat', 'run', '--now'],
        ['heartbeat', 'status'],
      ]) {
        const r = town.gt(args);
        expect(r.code, r.stderr).toBe(3);
        expect(r.stderr).toContain(`${join(town.root, 'town.toml')}: key ${key}:`);
      }
    }
    expect(existsSync(join(town.root, '.gt', 'heartbeat'))).toBe(false);
    writeFileSync(join(town.root, 'town.toml'), toml);
    // Without [heartbeat], status is a read that says it is off; run is a request that cannot be met.
    const r = town.gt(['heartbeat', 'status']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('heartbeat: off (no [heartbeat] in town.toml)');
    expect(town.json(['heartbeat', 'status'])).toMatchObject({ configured: false, enabled: false, reason: 'no [heartbeat] in town.toml' });
    const run = town.gt(['heartbeat', 'run', '--now']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no [heartbeat] in town.toml');
  });
});
