/**
 * Notifications through the real gt CLI and daemon, to real receivers on
 * loopback: an SMTP server (smtp-server), a Bot API stand-in for Telegram, a
 * webhook receiver, and a stand-in `notify-send` on PATH. Secrets are given by
 * variable names and must never come back in any output, event or log.
 */
import { appendFileSync, chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { describe, expect, it } from 'vitest';
import { onCleanup, type RunResult } from '../support/env.js';
import { TelegramStandIn, WebhookSink } from '../support/notify-servers.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

// Not shaped like any known token: only the channels' own scrubbing can keep them out of sight.
const TOKEN = 'gt-test-bot-token-9f8e7d6c';
const SMTP_PASSWORD = 'smtp-pa55-QRS-4242';
const HOOK_SECRET = 'hook-secret-path-ABC123xyz';
const NTFY_AUTH = 'Bearer ntfy-tk-secret-777';
const QUERY_SECRET = 'query-token-5150-XYZ';
const SECRETS = [TOKEN, SMTP_PASSWORD, HOOK_SECRET, NTFY_AUTH, QUERY_SECRET];

interface LogRow {
  id: number;
  channel: string;
  status: string;
  attempts: number;
  kind: string;
  title: string;
  last_error?: string;
  next_at: string;
}

/** Every output a person or a tool sees, collected to check no secret is in any. */
class Seen {
  private readonly texts: string[] = [];
  add(r: RunResult): RunResult {
    this.texts.push(r.stdout, r.stderr);
    return r;
  }
  async assertNoSecret(town: TestTown): Promise<void> {
    const events = await town.gtAsync(['events', '--limit', '1000', '--json']);
    const log = await town.gtAsync(['notify', 'log', '--limit', '1000', '--json']);
    const daemonLog = (() => {
      try {
        return readFileSync(join(town.root, '.gt', 'daemon.log'), 'utf8');
      } catch {
        return '';
      }
    })();
    const all = [...this.texts, events.stdout, events.stderr, log.stdout, log.stderr, daemonLog].join('\n');
    for (const secret of SECRETS) expect(all, `a secret leaked`).not.toContain(secret);
  }
}

function configure(town: TestTown, toml: string): void {
  appendFileSync(join(town.root, 'town.toml'), `\n${toml}\n`);
}

function townName(town: TestTown): string {
  return /^name = "([^"]+)"/m.exec(readFileSync(join(town.root, 'town.toml'), 'utf8'))?.[1] ?? '';
}

describe('notification channels from the CLI', () => {
  it('a bad channel config names the file and the key, and nothing is sent', async () => {
    const town = makeTown();
    const bot = await TelegramStandIn.start(TOKEN);
    const file = join(town.root, 'town.toml');
    const original = readFileSync(file, 'utf8');
    const attempt = (toml: string) => {
      writeFileSync(file, `${original}\n${toml}\n`);
      return town.gtAsync(['notify', 'send', 'hello'], { env: { TELEGRAM_TOKEN: TOKEN } });
    };
    const cases: Array<[string, RegExp]> = [
      [
        `[notify.phone]\ntype = "pager"\nchat_id = "42"`,
        /town\.toml: key notify\.phone\.type: Invalid discriminator value\. Expected 'telegram' \| 'email' \| 'desktop' \| 'webhook'/,
      ],
      [`[notify.phone]\ntype = "telegram"\nchat_id = "42"\napi_base = "${bot.url}"`, /town\.toml: key notify\.phone\.token: missing: set token_env/],
      [
        `[notify]\nquiet_hours = { start = "22:00", end = "07:00", timezone = "Atlantis/Capital" }\n[notify.phone]\ntype = "telegram"\ntoken_env = "TELEGRAM_TOKEN"\nchat_id = "42"\napi_base = "${bot.url}"`,
        /town\.toml: key notify\.quiet_hours\.timezone: unknown time zone "Atlantis\/Capital"/,
      ],
      [
        `[notify]\nquiet_hours = { start = "22:00", end = "25:00" }\n[notify.phone]\ntype = "telegram"\ntoken_env = "TELEGRAM_TOKEN"\nchat_id = "42"\napi_base = "${bot.url}"`,
        /town\.toml: key notify\.quiet_hours\.end: "25:00" is not a time of day/,
      ],
    ];
    for (const [toml, message] of cases) {
      const r = await attempt(toml);
      expect(r.code, toml).toBe(3);
      expect(r.stderr).toMatch(message);
    }
    expect(bot.received).toEqual([]);
  });

  it('Telegram: a test message, HTML escaped, long ones split, a 429 waited out; the token never shows', async () => {
    const town = makeTown();
    const seen = new Seen();
    const bot = await TelegramStandIn.start(TOKEN);
    configure(town, `[notify.phone]\ntype = "telegram"\ntoken_env = "TELEGRAM_TOKEN"\nchat_id = "42"\napi_base = "${bot.url}"`);
    // A second chat with the token written in town.toml itself (not advised, but it must not show either).
    expect(
      seen.add(town.gt(['config', 'set', 'notify.spare', `{ type = "telegram", token = "${TOKEN}", chat_id = "43", api_base = "${bot.url}" }`])).stdout,
    ).toBe('notify.spare = [redacted]\n');
    expect(seen.add(town.gt(['config', 'set', 'notify.spare.token', TOKEN])).stdout).toBe('notify.spare.token = [redacted]\n');
    expect(seen.add(town.gt(['config', 'show', '--json'])).stdout).toContain('"token": "[redacted]"');
    expect(seen.add(town.gt(['config', 'get', 'notify.spare.token'])).stdout).toBe('[redacted]\n');
    expect(JSON.parse(seen.add(await town.gtAsync(['notify', 'test', 'spare', '--json'])).stdout)).toMatchObject({ status: 'sent' });
    // Taken off the stand-in's list: the checks below count the first chat's messages.
    expect(bot.messages().shift()).toMatchObject({ chat_id: '43' });
    const env = { TELEGRAM_TOKEN: TOKEN };
    expect(JSON.parse(seen.add(await town.gtAsync(['notify', 'test', 'phone', '--json'], { env })).stdout)).toMatchObject({
      channel: 'phone',
      type: 'telegram',
      status: 'sent',
    });
    expect(bot.messages()[0]).toMatchObject({ chat_id: '42', parse_mode: 'HTML', text: expect.stringContaining('<b>gt test notification</b>') as string });

    expect(seen.add(await town.gtAsync(['notify', 'send', '--severity', 'high', 'Deploy <v2> & go\nsee <https://x/?a=1&b=2>'], { env })).code).toBe(0);
    expect(bot.messages()[1]?.text).toContain('<b>Deploy &lt;v2&gt; &amp; go</b>\n\nsee &lt;https://x/?a=1&amp;b=2&gt;');

    const long = Array.from({ length: 300 }, (_, i) => `${i}: ${'x'.repeat(40)}`).join('\n');
    expect(seen.add(await town.gtAsync(['notify', 'send', `Long report\n${long}`], { env })).code).toBe(0);
    const parts = bot.messages().slice(2);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    for (const part of parts) expect(part.text.length).toBeLessThanOrEqual(4096);
    expect(parts.map((p) => p.text).join('\n')).toContain(`299: ${'x'.repeat(40)}`);

    // Too many requests: the message waits as long as Telegram says, then goes.
    bot.tooManyRequests = { count: 1, retryAfter: 7 };
    const [queued] = JSON.parse(seen.add(await town.gtAsync(['notify', 'send', '--json', 'Slow down'], { env })).stdout) as Array<{
      id: number;
      status: string;
    }>;
    expect(queued?.status).toBe('queued');
    const row = (JSON.parse(seen.add(await town.gtAsync(['notify', 'log', '--json'], { env })).stdout) as LogRow[]).find((r) => r.id === queued?.id);
    expect(row).toMatchObject({ status: 'pending', attempts: 1, last_error: expect.stringContaining('retry after 7') as string });
    const wait = Date.parse(row?.next_at ?? '') - Date.now();
    expect(wait).toBeGreaterThan(2_000);
    expect(wait).toBeLessThanOrEqual(7_000);

    // The variable missing, or a token Telegram refuses: clear errors that name no secret.
    const missing = seen.add(await town.gtAsync(['notify', 'test', 'phone']));
    expect(missing.code).toBe(6);
    expect(missing.stderr).toContain("notify.phone.token_env names TELEGRAM_TOKEN, which is not set in the daemon's environment");
    const refused = seen.add(await town.gtAsync(['notify', 'test', 'phone'], { env: { TELEGRAM_TOKEN: `${TOKEN}-wrong` } }));
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/telegram sendMessage: HTTP 401 401 Unauthorized/);
    expect(refused.stderr).not.toContain(`${TOKEN}-wrong`);
    await seen.assertNoSecret(town);
  });

  it('email reaches a real SMTP server, with its password from the environment', async () => {
    const town = makeTown();
    const seen = new Seen();
    const received: Array<{ user: string | undefined; from: string; to: string[]; raw: string }> = [];
    const server = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      logger: false,
      onAuth(auth, _session, callback) {
        if (auth.username === 'gt' && auth.password === SMTP_PASSWORD) callback(null, { user: 'gt' });
        else callback(new Error('Invalid username or password'));
      },
      onData(stream, session, callback) {
        let raw = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => (raw += chunk));
        stream.on('end', () => {
          received.push({
            user: typeof session.user === 'string' ? session.user : undefined,
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.server.address() as AddressInfo).port;
    configure(
      town,
      `[notify.mail]\ntype = "email"\nhost = "127.0.0.1"\nport = ${port}\nsecure = false\nuser = "gt"\npassword_env = "GT_SMTP_PASSWORD"\nfrom = "gt@town.test"\nto = ["me@home.test", "ops@home.test"]`,
    );
    const env = { GT_SMTP_PASSWORD: SMTP_PASSWORD };
    const sent = JSON.parse(
      seen.add(await town.gtAsync(['notify', 'send', '--json', '--severity', 'high', 'Disk almost full\nOnly 2 GB left on /srv'], { env })).stdout,
    ) as Array<{
      status: string;
    }>;
    expect(sent).toMatchObject([{ channel: 'mail', status: 'sent' }]);
    expect(received).toHaveLength(1);
    const [mail] = received;
    expect(mail).toMatchObject({ user: 'gt', from: 'gt@town.test', to: ['me@home.test', 'ops@home.test'] });
    expect(mail?.raw).toMatch(new RegExp(`^Subject: \\[gt ${townName(town)}\\] HIGH: Disk almost full\\r?$`, 'm'));
    expect(mail?.raw).toContain('Only 2 GB left on /srv');
    const log = JSON.parse(seen.add(await town.gtAsync(['notify', 'log', '--json'])).stdout) as Array<LogRow & { receipt?: string }>;
    expect(log[0]).toMatchObject({ status: 'sent', attempts: 1, receipt: expect.stringMatching(/^<.+>$/) as string });

    const wrong = seen.add(await town.gtAsync(['notify', 'test', 'mail'], { env: { GT_SMTP_PASSWORD: `${SMTP_PASSWORD}-no` } }));
    expect(wrong.code).toBe(6);
    expect(wrong.stderr).toMatch(/mail: email: .*Invalid username or password/);
    expect(received).toHaveLength(1);
    await seen.assertNoSecret(town);
  });

  it('desktop: notify-send on PATH gets the message; without it, a clear error', async () => {
    const town = makeTown();
    const bin = join(town.base, 'bin');
    mkdirSync(bin);
    const out = join(town.base, 'notify-send.args');
    writeFileSync(join(bin, 'notify-send'), `#!/bin/sh\nprintf '%s\\n' "$@" >> "${out}"\n`);
    chmodSync(join(bin, 'notify-send'), 0o755);
    configure(town, `[notify.desk]\ntype = "desktop"`);
    const r = await town.gtAsync(['notify', 'send', '--severity', 'critical', 'Build broke\nmain is red since 10:02'], {
      env: { PATH: `${bin}:${town.env.PATH ?? ''}` },
    });
    expect(r.code).toBe(0);
    expect(readFileSync(out, 'utf8').split('\n')).toEqual([
      '--app-name=gt',
      '--urgency=critical',
      '--',
      `gt ${townName(town)}: Build broke`,
      'main is red since 10:02',
      '',
    ]);
    const empty = join(town.base, 'empty');
    mkdirSync(empty);
    const none = await town.gtAsync(['notify', 'test', 'desk'], { env: { PATH: empty } });
    expect(none.code).toBe(6);
    expect(none.stderr).toContain('desktop notifications need notify-send (libnotify-bin); none was found on PATH on linux');
  });

  it('webhooks: plain, Slack, Discord and ntfy shapes; the secret URL and header never show', async () => {
    const town = makeTown();
    const seen = new Seen();
    const sink = await WebhookSink.start();
    configure(
      town,
      [
        `[notify.plain]\ntype = "webhook"\nurl = "${sink.url}/plain"`,
        `[notify.slack]\ntype = "webhook"\nformat = "slack"\nurl_env = "SLACK_WEBHOOK_URL"`,
        `[notify.discord]\ntype = "webhook"\nformat = "discord"\nurl = "${sink.url}/discord"`,
        `[notify.ntfy]\ntype = "webhook"\nformat = "ntfy"\nurl = "${sink.url}/gt-alerts"\nheaders_env = { Authorization = "NTFY_AUTH" }`,
      ].join('\n'),
    );
    const env = { SLACK_WEBHOOK_URL: `${sink.url}/services/${HOOK_SECRET}`, NTFY_AUTH };
    const sent = JSON.parse(seen.add(await town.gtAsync(['notify', 'send', '--json', 'Release 1.2 is out\nChangelog attached'], { env })).stdout) as Array<{
      channel: string;
      status: string;
    }>;
    expect(sent.map((s) => [s.channel, s.status])).toEqual([
      ['plain', 'sent'],
      ['slack', 'sent'],
      ['discord', 'sent'],
      ['ntfy', 'sent'],
    ]);
    const by = (path: string) => sink.received.find((r) => r.path === path);
    expect(by('/plain')?.body).toMatchObject({
      town: townName(town),
      severity: 'info',
      kind: 'message',
      title: 'Release 1.2 is out',
      body: 'Changelog attached',
    });
    expect(by(`/services/${HOOK_SECRET}`)?.body).toMatchObject({ text: expect.stringContaining('Release 1.2 is out') as string });
    expect(by('/discord')?.body).toMatchObject({ content: `[gt ${townName(town)}] Release 1.2 is out`, embeds: [{ title: 'Release 1.2 is out' }] });
    const ntfy = by('/');
    expect(ntfy?.body).toMatchObject({ topic: 'gt-alerts', title: `[gt ${townName(town)}] Release 1.2 is out`, message: 'Changelog attached' });
    expect(ntfy?.headers.authorization).toBe(NTFY_AUTH);
    expect(seen.add(await town.gtAsync(['notify', 'channels'], { env })).stdout).toContain('slack webhook ($SLACK_WEBHOOK_URL)');
    // The receiver goes away: the error says so, without the URL that is the secret.
    sink.status = 500;
    const failed = seen.add(await town.gtAsync(['notify', 'test', 'slack'], { env }));
    expect(failed.code).toBe(6);
    expect(failed.stderr).toContain('slack: webhook: the webhook answered HTTP 500');
    // A token in the query string is as secret, even when the receiver quotes the address back in its error.
    const echo = createServer((req, res) => {
      res.writeHead(500);
      res.end(`no route for ${req.url ?? ''}`);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    configure(town, `[notify.query]\ntype = "webhook"\nurl = "http://127.0.0.1:${(echo.address() as AddressInfo).port}/hook?token=${QUERY_SECRET}"`);
    const quoted = seen.add(await town.gtAsync(['notify', 'test', 'query'], { env }));
    echo.close();
    expect(quoted.code).toBe(6);
    expect(quoted.stderr).toContain('no route for /hook[redacted]');
    await seen.assertNoSecret(town);
  });

  it('a channel down for a minute loses nothing: the daemon delivers every message after it returns, exactly once', async () => {
    const town = makeTown();
    const seen = new Seen();
    const sink = await WebhookSink.start();
    await sink.down();
    expect(town.gt(['config', 'set', 'daemon.interval', '"1s"']).code).toBe(0);
    configure(town, `[notify]\nretry = { first = "2s", max = "8s" }\n[notify.hook]\ntype = "webhook"\nurl = "${sink.url}/in"`);
    for (const text of ['first', 'second', 'third']) {
      const [row] = JSON.parse(seen.add(await town.gtAsync(['notify', 'send', '--json', text])).stdout) as Array<{ status: string; detail: string }>;
      expect(row?.status).toBe('queued');
      expect(row?.detail).toMatch(/ECONNREFUSED/);
    }
    expect(seen.add(town.gt(['up'])).code).toBe(0);
    const downSince = Date.now();
    // A minute of outage, during which the daemon keeps trying (with back-off) and nothing is dropped.
    await waitFor('a minute of outage', () => Date.now() - downSince >= 60_000 || undefined, 70_000);
    const during = JSON.parse(seen.add(await town.gtAsync(['notify', 'log', '--json'])).stdout) as LogRow[];
    expect(during.map((r) => r.status)).toEqual(['pending', 'pending', 'pending']);
    expect(Math.min(...during.map((r) => r.attempts))).toBeGreaterThanOrEqual(4);
    await sink.up();
    await waitFor('every message to arrive', () => sink.received.length >= 3 || undefined, 60_000);
    // A few more passes: nothing arrives twice.
    await new Promise((r) => setTimeout(r, 4000));
    expect(sink.received.map((r) => r.body.title).sort()).toEqual(['first', 'second', 'third']);
    const after = JSON.parse(seen.add(await town.gtAsync(['notify', 'log', '--json'])).stdout) as LogRow[];
    expect(after.map((r) => r.status)).toEqual(['sent', 'sent', 'sent']);
    const events = JSON.parse(seen.add(await town.gtAsync(['events', '--type', 'notification', '--limit', '500', '--json'])).stdout) as Array<{ kind: string }>;
    expect(events.filter((e) => e.kind === 'notification.sent')).toHaveLength(3);
    expect(events.filter((e) => e.kind === 'notification.failed').length).toBeGreaterThanOrEqual(12);
    expect(readFileSync(join(town.root, '.gt', 'daemon.log'), 'utf8')).toMatch(/notification\.sent/);
    await seen.assertNoSecret(town);
  }, 240_000);
});
