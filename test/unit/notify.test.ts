/**
 * Notifications in process: the config's checks, the Telegram and webhook
 * renderings, and the outbox over the real ledger and the real channel port,
 * sending to a loopback webhook receiver (the outside world's stand-in).
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { notifyPort } from '../../src/app/index.js';
import { parseTownConfig } from '../../src/core/town/config.js';
import { drainOutbox, enqueueNotification, notificationLog, resolveRoutes } from '../../src/core/notify/outbox.js';
import { notifyOnEvents, sendDigestIfDue } from '../../src/core/notify/subscriptions.js';
import { applyAnswer } from '../../src/core/notify/answers.js';
import { PERMISSION_LABEL } from '../../src/core/governance/permissions.js';
import type { OutgoingMessage } from '../../src/core/notify/types.js';
import { telegramParts, TELEGRAM_LIMIT } from '../../src/infra/notify/telegram.js';
import { webhookRequest } from '../../src/infra/notify/webhook.js';
import { SqliteDatabase } from '../../src/ledger/sqlite/store.js';
import { townHarness, type Harness } from '../support/harness.js';
import { WebhookSink } from '../support/notify-servers.js';

const configError = (toml: string): string => {
  try {
    parseTownConfig(`name = "t"\n${toml}`, '/home/me/gt/town.toml');
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('notification config', () => {
  it('names the file and the key of every mistake', () => {
    expect(configError('[notify.phone]\ntype = "sms"\n')).toMatch(/^\/home\/me\/gt\/town\.toml: key notify\.phone\.type: .*telegram/);
    expect(configError('[notify.phone]\ntype = "telegram"\nchat_id = "42"\n')).toMatch(/key notify\.phone\.token: missing: set token_env/);
    expect(configError('[notify.phone]\ntype = "telegram"\nchat_id = "42"\ntoken = "a"\ntoken_env = "B"\n')).toMatch(
      /key notify\.phone\.token_env: give token or token_env/,
    );
    expect(configError('[notify.phone]\ntype = "telegram"\nchat_id = "me"\ntoken_env = "T"\n')).toMatch(/key notify\.phone\.chat_id/);
    expect(configError('[notify.mail]\ntype = "email"\nfrom = "gt@x.org"\nto = "me@x.org"\n')).toMatch(/key notify\.mail\.host: missing: set smtp_url/);
    expect(configError('[notify.hook]\ntype = "webhook"\n')).toMatch(/key notify\.hook\.url: missing/);
    expect(configError('[notify.hook]\ntype = "webhook"\nurl = "ftp://x"\n')).toMatch(/key notify\.hook\.url: an http\(s\) URL/);
    expect(configError('[notify]\nquiet_hours = { start = "22:00", end = "07:00", timezone = "Moon/Tranquility" }\n')).toMatch(
      /key notify\.quiet_hours\.timezone: unknown time zone "Moon\/Tranquility"/,
    );
    expect(configError('[notify]\nquiet_hours = { start = "22:00", end = "7" }\n')).toMatch(/key notify\.quiet_hours\.end/);
    expect(configError('[notify.Phone]\ntype = "desktop"\n')).toMatch(/key notify\.Phone: a channel name/);
    expect(configError('[notify.desk]\ntype = "desktop"\nevents = ["everything"]\n')).toMatch(/key notify\.desk\.events\.0/);
  });

  it('a town.toml without [notify] and one with every channel type load', () => {
    expect(parseTownConfig('name = "t"\n', 'town.toml').notify.retry.first).toBe('30s');
    const config = parseTownConfig(
      `name = "t"
[notify]
quiet_hours = { start = "22:00", end = "07:00", timezone = "Europe/Berlin" }
retry = { first = "2s", max = "10s" }
digest = { at = "18:00" }
[notify.phone]
type = "telegram"
token_env = "TELEGRAM_BOT_TOKEN"
chat_id = "123456789"
events = ["permission.asked", "escalation.raised", "digest"]
min_severity = "medium"
[notify.mail]
type = "email"
smtp_url_env = "GT_SMTP_URL"
from = "gt@example.org"
to = ["me@example.org"]
[notify.desk]
type = "desktop"
default = true
[notify.slack]
type = "webhook"
format = "slack"
url_env = "SLACK_WEBHOOK_URL"
`,
      'town.toml',
    );
    expect(config.notify.retry).toEqual({ first: '2s', max: '10s', give_up_after: '24h' });
    expect(resolveRoutes(config, ['default'])).toEqual(['desk']);
    expect(resolveRoutes(config, ['notify:phone', 'mail', 'default'])).toEqual(['phone', 'mail', 'desk']);
    expect(() => resolveRoutes(config, ['pager'])).toThrow(/no notification channel "pager"/);
  });
});

const message = (body: string, over: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  id: 1,
  town: 'home',
  severity: 'high',
  kind: 'message',
  title: 'Build <main> & "deploy"',
  body,
  actions: [],
  ...over,
});

describe('renderings', () => {
  it('Telegram: HTML with every text escaped, split under 4096 characters at line ends, entities never cut', () => {
    const [one] = telegramParts(message('a < b && c > d'));
    expect(one).toContain('<b>Build &lt;main&gt; &amp; "deploy"</b>');
    expect(one).toContain('a &lt; b &amp;&amp; c &gt; d');
    const lines = Array.from({ length: 400 }, (_, i) => `line ${i} & more <text> to fill the message`);
    const parts = telegramParts(message(lines.join('\n')));
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(TELEGRAM_LIMIT);
      // No entity cut in two: every & starts a whole entity.
      expect(part.replace(/&(amp|lt|gt);/g, '')).not.toContain('&');
    }
    const joined = parts.join('\n');
    for (const i of [0, 199, 399]) expect(joined).toContain(`line ${i} &amp; more &lt;text&gt; to fill the message`);
    // One long line with no break is cut too.
    const long = telegramParts(message('&'.repeat(9000)));
    for (const part of long) {
      expect(part.length).toBeLessThanOrEqual(TELEGRAM_LIMIT);
      expect(part.replace(/&(amp|lt|gt);/g, '')).not.toContain('&');
    }
    expect(long.join('').split('&amp;').length - 1).toBe(9000 + 1); // and the title's one
  });

  it('webhooks: plain, Slack, Discord and ntfy shapes', () => {
    const m = message('the body', { bead: 'hq-1', actions: [{ verb: 'approve', label: 'Approve' }] });
    expect(webhookRequest('plain', 'http://h/x', m).body).toMatchObject({ town: 'home', severity: 'high', title: m.title, body: 'the body', bead: 'hq-1' });
    expect(webhookRequest('slack', 'http://h/x', m).body).toMatchObject({ text: expect.stringContaining('[gt home] Build') as string });
    expect(webhookRequest('discord', 'http://h/x', m).body).toMatchObject({
      content: '[gt home] Build <main> & "deploy"',
      embeds: [{ description: 'the body' }],
    });
    expect(webhookRequest('ntfy', 'https://ntfy.sh/my-topic', m)).toEqual({
      url: 'https://ntfy.sh/',
      body: { topic: 'my-topic', title: '[gt home] Build <main> & "deploy"', message: 'the body', priority: 4, tags: ['high', 'message'] },
    });
  });
});

async function withChannels(h: Harness, toml: string): Promise<void> {
  appendFileSync(join(h.root, 'town.toml'), `\n${toml}`);
  h.town.reloadConfig();
  return Promise.resolve();
}

describe('the outbox', () => {
  it('deduplicates by key per channel, sends, and records notification.sent', async () => {
    const h = await townHarness();
    const sink = await WebhookSink.start();
    await withChannels(h, `[notify.hook]\ntype = "webhook"\nurl = "${sink.url}/in"\n`);
    const first = await enqueueNotification(h.town, { severity: 'high', kind: 'escalation', title: 'Disk full', dedupeKey: 'esc:1' });
    const again = await enqueueNotification(h.town, { severity: 'high', kind: 'escalation', title: 'Disk full', dedupeKey: 'esc:1' });
    expect(first).toEqual([{ channel: 'hook', id: expect.any(Number) as number, deduplicated: false }]);
    expect(again).toEqual([{ channel: 'hook', id: undefined, deduplicated: true }]);
    const port = notifyPort(h.env);
    expect((await drainOutbox(h.town, port)).map((d) => d.outcome)).toEqual(['sent']);
    expect(await drainOutbox(h.town, port)).toEqual([]);
    expect(sink.received).toHaveLength(1);
    expect(sink.received[0]?.body).toMatchObject({ title: 'Disk full', severity: 'high', kind: 'escalation' });
    const [sent] = await h.ledger.townEvents(0, { kinds: ['notification.sent'] });
    expect(sent?.payload).toMatchObject({ channel: 'hook', type: 'webhook', notification: 'escalation', attempts: 1 });
  });

  it('backs off exponentially while a channel fails, up to max, and gives up only after give_up_after', async () => {
    const h = await townHarness();
    const sink = await WebhookSink.start();
    sink.status = 503;
    await withChannels(h, `[notify]\nretry = { first = "10s", max = "25s", give_up_after = "1h" }\n[notify.hook]\ntype = "webhook"\nurl = "${sink.url}/in"\n`);
    const [queued] = await enqueueNotification(h.town, { severity: 'info', kind: 'message', title: 'hello' });
    const port = notifyPort(h.env);
    const t0 = Date.now();
    const at = (s: number) => new Date(t0 + s * 1000);
    const next = async (now: Date) => {
      const [d] = await drainOutbox(h.town, port, { now });
      return d;
    };
    expect(await next(at(0))).toMatchObject({ outcome: 'retry', next_at: expect.stringMatching(/Z$/) as string });
    const delay = async () => {
      const [row] = await notificationLog(h.town);
      return row;
    };
    expect(Date.parse((await delay())?.next_at ?? '') - t0).toBe(10_000);
    expect(await next(at(5))).toBeUndefined(); // not due yet
    await next(at(10));
    expect(Date.parse((await delay())?.next_at ?? '') - t0).toBe(30_000); // 10 s + 20 s
    await next(at(30));
    expect(Date.parse((await delay())?.next_at ?? '') - t0).toBe(55_000); // capped at 25 s
    const failedEvents = await h.ledger.townEvents(0, { kinds: ['notification.failed'] });
    expect(failedEvents).toHaveLength(3);
    expect(failedEvents[0]?.payload).toMatchObject({ channel: 'hook', final: false, error: expect.stringContaining('HTTP 503') as string });
    // An hour after it was queued, the next failure is final.
    const final = await next(at(3700));
    expect(final).toMatchObject({ outcome: 'failed' });
    expect((await delay())?.status).toBe('failed');
    expect(queued?.id).toBe((await delay())?.id);
  });

  it('rate-limits each channel: past count per window, the next waits for the oldest to leave it', async () => {
    const h = await townHarness();
    const sink = await WebhookSink.start();
    await withChannels(h, `[notify.hook]\ntype = "webhook"\nurl = "${sink.url}/in"\nrate_limit = { count = 2, per = "1m" }\n`);
    for (const n of [1, 2, 3]) await enqueueNotification(h.town, { severity: 'info', kind: 'message', title: `m${n}` });
    const port = notifyPort(h.env);
    const outcomes = await drainOutbox(h.town, port);
    expect(outcomes.map((d) => d.outcome)).toEqual(['sent', 'sent', 'rate-limited']);
    expect(Date.parse(outcomes[2]?.next_at ?? '') - Date.now()).toBeGreaterThan(50_000);
    expect(sink.received.map((r) => r.body.title)).toEqual(['m1', 'm2']);
    // A minute later it goes.
    expect((await drainOutbox(h.town, port, { now: new Date(Date.now() + 61_000) })).map((d) => d.outcome)).toEqual(['sent']);
    expect(sink.received.map((r) => r.body.title)).toEqual(['m1', 'm2', 'm3']);
  });

  it('quiet hours hold all but critical until they end', async () => {
    const h = await townHarness();
    const sink = await WebhookSink.start();
    const now = new Date();
    const hh = (d: Date) => `${String(d.getUTCHours()).padStart(2, '0')}:00`;
    const start = hh(new Date(now.getTime() - 3_600_000));
    // Two hours on: a run that crosses the top of the hour still starts inside the window.
    const end = hh(new Date(now.getTime() + 2 * 3_600_000));
    await withChannels(
      h,
      `[notify]\nquiet_hours = { start = "${start}", end = "${end}", timezone = "UTC" }\n[notify.hook]\ntype = "webhook"\nurl = "${sink.url}/in"\n`,
    );
    await enqueueNotification(h.town, { severity: 'high', kind: 'message', title: 'can wait' });
    await enqueueNotification(h.town, { severity: 'critical', kind: 'message', title: 'production down' });
    now.setTime(Date.now());
    const port = notifyPort(h.env);
    const outcomes = await drainOutbox(h.town, port, { now });
    expect(outcomes.map((d) => d.outcome)).toEqual(['held', 'sent']);
    expect(sink.received.map((r) => r.body.title)).toEqual(['production down']);
    const held = new Date(outcomes[0]?.next_at ?? '');
    expect(`${String(held.getUTCHours()).padStart(2, '0')}:00`).toBe(end);
    expect(await drainOutbox(h.town, port, { now: new Date(held.getTime() - 60_000) })).toEqual([]);
    expect((await drainOutbox(h.town, port, { now: held })).map((d) => d.outcome)).toEqual(['sent']);
    expect(sink.received.map((r) => r.body.title)).toEqual(['production down', 'can wait']);
  });

  it('subscribed town events become notifications once; the first pass looks back ten minutes, no further', async () => {
    const h = await townHarness();
    const sink = await WebhookSink.start();
    // An event from last week (written as an older gt would have), and one from a minute ago.
    const db = new SqliteDatabase(join(h.root, '.gt', 'ledger.db'));
    db.prepare(`INSERT INTO town_events (kind, actor, bead, payload, at) VALUES ('convoy.landed', 'deacon', 'hq-old', '{"name":"last week"}', ?)`).run(
      new Date(Date.now() - 7 * 86_400_000).toISOString().replace('Z', '000000Z'),
    );
    db.close();
    await h.ledger.emit({ kind: 'convoy.landed', bead: 'hq-recent', payload: { name: 'just now' } });
    await withChannels(
      h,
      `[notify.hook]\ntype = "webhook"\nurl = "${sink.url}/in"\n[notify.quiet]\ntype = "webhook"\nurl = "${sink.url}/quiet"\nevents = ["convoy.landed"]\nmin_severity = "high"\n`,
    );
    expect(await notifyOnEvents(h.town)).toBe(1);
    await h.ledger.emit({ kind: 'convoy.landed', bead: 'hq-c1', payload: { name: 'release', total: 3 } });
    await h.ledger.emit({ kind: 'budget.stopped', payload: { reason: 'daily_usd 5 reached' } });
    await h.ledger.emit({ kind: 'mr.merged', bead: 'hq-m1' });
    // A permission request answered before the notifier saw it is not sent.
    const answered = await h.ledger.create({ title: 'Bash: ls', type: 'permission', prefix: 'hq', labels: [PERMISSION_LABEL] });
    await h.ledger.emit({ kind: 'permission.asked', bead: answered.id, agent: 'app/polecats/nux', payload: { tool: 'Bash' } });
    await h.ledger.close([answered.id], { reason: 'approved by human' });
    expect(await notifyOnEvents(h.town)).toBe(2);
    expect(await notifyOnEvents(h.town)).toBe(0);
    await drainOutbox(h.town, notifyPort(h.env));
    expect(sink.received.map((r) => [r.path, r.body.kind, r.body.title])).toEqual([
      ['/in', 'convoy.landed', 'Convoy landed: just now'],
      ['/in', 'convoy.landed', 'Convoy landed: release'],
      ['/in', 'budget.stopped', 'Budget reached: dispatch paused'],
    ]);
  });

  it('the daily digest goes once a day, after its hour, to the channels subscribed to it', async () => {
    const h = await townHarness();
    const sink = await WebhookSink.start();
    await withChannels(
      h,
      `[notify]\ndigest = { at = "06:00", timezone = "UTC" }\n[notify.daily]\ntype = "webhook"\nurl = "${sink.url}/daily"\nevents = ["digest"]\n[notify.other]\ntype = "webhook"\nurl = "${sink.url}/other"\n`,
    );
    await h.ledger.emit({ kind: 'mr.merged', bead: 'app-1', payload: { title: 'Fix the login' } });
    await h.ledger.emit({ kind: 'mr.merged', bead: 'app-2', payload: { title: 'Faster search' } });
    await h.bead('Still open');
    const day = new Date();
    const early = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), 5, 59));
    const late = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), 23, 30));
    expect(await sendDigestIfDue(h.town, early)).toBeUndefined();
    const today = late.toISOString().slice(0, 10);
    expect(await sendDigestIfDue(h.town, late)).toBe(today);
    expect(await sendDigestIfDue(h.town, late)).toBeUndefined();
    await drainOutbox(h.town, notifyPort(h.env));
    expect(sink.received.map((r) => r.path)).toEqual(['/daily']);
    expect(sink.received[0]?.body).toMatchObject({ kind: 'digest', title: `Daily digest ${today}` });
    const body = String(sink.received[0]?.body.body);
    expect(body).toContain('Merged: 2');
    expect(body).toContain('app-1 Fix the login');
    expect(body).toContain('Open work: 1');
    expect(body).toMatch(/Cost \(24 h\): \$0\.00/);
  });

  it('a channel removed from town.toml fails its waiting messages, saying why', async () => {
    const h = await townHarness();
    const original = readFileSync(join(h.root, 'town.toml'), 'utf8');
    await withChannels(h, `[notify.gone]\ntype = "desktop"\n`);
    await enqueueNotification(h.town, { channel: 'gone', severity: 'info', kind: 'message', title: 'x' });
    writeFileSync(join(h.root, 'town.toml'), original);
    h.town.reloadConfig();
    expect(await drainOutbox(h.town, notifyPort(h.env))).toMatchObject([{ outcome: 'failed', error: 'channel gone is no longer configured in town.toml' }]);
  });
});

/** A town whose notify.phone channel is a Telegram chat with buttons, and that channel as the sender sees it. */
async function phoneTown() {
  const h = await townHarness();
  await withChannels(h, `[notify.phone]\ntype = "telegram"\ntoken = "t"\nchat_id = "42"\n`);
  const channel = {
    type: 'telegram',
    token: 't',
    chat_id: '42',
    api_base: 'http://x',
    buttons: true,
    min_severity: 'info',
    default: false,
    rate_limit: { count: 20, per: '1m' },
  } as const;
  return { h, channel };
}

describe('answers from the phone', () => {
  it('approves a permission request from the configured chat, as gt permission approve does; another chat is refused and recorded', async () => {
    const { h, channel } = await phoneTown();
    const request = await h.ledger.create({
      title: 'Bash: npm publish',
      type: 'permission',
      prefix: 'hq',
      labels: [PERMISSION_LABEL],
      metadata: { agent: 'app/polecats/nux', tool: 'Bash', input: { command: 'npm publish' }, cwd: '/x', rule: 'r' },
    });
    const press = (chat: string, data = `gt:approve:${request.id}`) => ({ id: 'cb1', chat, from: 'alice', data, message: '7' });
    expect(await applyAnswer(h.town, 'phone', channel, press('666'))).toMatchObject({ accepted: false });
    expect((await h.ledger.find(request.id))?.status).toBe('open');
    const [refused] = await h.ledger.townEvents(0, { kinds: ['notification.refused'] });
    expect(refused?.payload).toMatchObject({ channel: 'phone', chat: '666', from: 'alice', reason: "chat 666 is not this channel's chat" });
    expect(await applyAnswer(h.town, 'phone', channel, press('42'))).toEqual({ accepted: true, text: `${request.id} approved`, done: true });
    const decided = await h.ledger.find(request.id);
    expect(decided).toMatchObject({
      status: 'closed',
      metadata: expect.objectContaining({ decision: 'allow', decided_by: 'telegram:alice', decided_via: 'person' }) as object,
    });
    const [event] = await h.ledger.townEvents(0, { kinds: ['permission.decided'] });
    expect(event).toMatchObject({ actor: 'telegram:alice', bead: request.id, payload: { decision: 'allow', decided_by: 'telegram:alice' } });
    // A second press (or a deny after the approve) changes nothing and says why.
    expect(await applyAnswer(h.town, 'phone', channel, press('42', `gt:deny:${request.id}`))).toMatchObject({
      accepted: true,
      done: true,
      text: expect.stringMatching(/already allowed/) as string,
    });
  });

  it('"Always allow" from the phone approves and adds the narrowest suggested rule to the rig policy, by the person who pressed it', async () => {
    const { h, channel } = await phoneTown();
    const request = await h.ledger.create({
      title: 'Bash: npm publish',
      type: 'permission',
      prefix: 'hq',
      labels: [PERMISSION_LABEL],
      metadata: {
        agent: 'app/polecats/nux',
        tool: 'Bash',
        input: { command: 'npm publish' },
        cwd: '/x',
        rule: 'r',
        suggested: [{ action: 'allow', tool: 'Bash', command: 'npm publish' }],
      },
    });
    const answer = await applyAnswer(h.town, 'phone', channel, { id: 'cb1', chat: '42', from: 'alice', data: `gt:always:${request.id}`, message: '7' });
    expect(answer).toEqual({ accepted: true, text: `${request.id} approved; added to app/rig.toml: allow Bash command "npm publish"`, done: true });
    h.town.reloadConfig();
    expect(h.town.rig('app').permissions.rules).toMatchObject([
      { action: 'allow', command: 'npm publish', over_ask: true, added_by: 'telegram:alice', request: request.id },
    ]);
  });
});
