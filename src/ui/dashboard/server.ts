/**
 * `gt dashboard`: the town in a browser (issue 16). Hono on Node's HTTP
 * server, pages rendered here, htmx from node_modules (no CDN, no build step),
 * live through Server-Sent Events read from the town event stream by cursor.
 * One process, one Town; every action calls core.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { recentEvents } from '../../core/events/follow.js';
import type { TownEvent } from '../../core/events/town-events.js';
import { computeMetrics, loadMetricsInput, type Metrics } from '../../core/metrics/metrics.js';
import type { DaemonStatus } from '../../core/town/ports.js';
import type { Town } from '../../core/town/town.js';
import { parseIdentity } from '../../core/agents/identity.js';
import { peekAgent, townSnapshot, type TownSnapshot } from '../../core/watch/snapshot.js';
import type { RuntimeProbe } from '../../core/work/work.js';
import { redactData } from '../../shared/secrets.js';
import { ACTIONS, statusOf, type Form, type Suggestions } from './actions.js';
import { APP_CSS, APP_JS } from './assets.js';
import { DashboardAuth, type DashboardEnv } from './auth.js';
import { html } from './html.js';
import { confirmation, eventRow, metricsPanel, page, palette, PANELS, renderPanel, toast, type PanelName } from './views.js';

export interface DashboardOptions {
  host: string;
  port: number;
  token?: string;
  daemonStatus: () => DaemonStatus;
  probe: RuntimeProbe;
  prepareSessions: () => void;
  log: (line: string) => void;
  /** How often the stream's head is checked while a browser listens. */
  pollMs?: number;
}

export interface DashboardHandle {
  url: string;
  token: string;
  close: () => Promise<void>;
}

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/** htmx as its package ships it (the bundle finds node_modules from dist/, tests from the source). */
function htmxSource(): string {
  const base = typeof __filename === 'string' ? __filename : import.meta.url;
  return readFileSync(createRequire(base).resolve('htmx.org/dist/htmx.min.js'), 'utf8');
}

/**
 * Wakes listeners when the event stream grows: the ledger's wake-up (PostgreSQL LISTEN, SQLite's
 * data_version) says something was appended, and one cheap read of the head confirms it; a slow
 * poll stays as a fallback. Only while someone listens, so an idle town costs nothing.
 */
class StreamTail {
  private listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private unwatch: Promise<(() => void) | undefined> | undefined;
  private head = -1;

  constructor(
    private readonly town: Town,
    private readonly pollMs: number,
  ) {}

  listen(wake: () => void): () => void {
    this.listeners.add(wake);
    if (!this.timer) {
      this.unwatch = this.town.ledger.watchEvents(() => void this.tick()).catch(() => undefined);
      // Without a wake-up (it failed) the poll is the old fast one; with it, a safety net.
      void this.unwatch.then((stop) => {
        if (this.timer) clearInterval(this.timer);
        if (this.listeners.size > 0) this.timer = setInterval(() => void this.tick(), stop ? Math.max(this.pollMs, 5_000) : this.pollMs);
      });
      this.timer = setInterval(() => void this.tick(), this.pollMs);
    }
    return () => {
      this.listeners.delete(wake);
      if (this.listeners.size === 0) this.stop();
    };
  }

  private async tick(): Promise<void> {
    const head = await this.town.ledger.lastTownEventId().catch(() => this.head);
    if (head === this.head) return;
    this.head = head;
    for (const wake of this.listeners) wake();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const unwatch = this.unwatch;
    this.unwatch = undefined;
    void unwatch?.then((stop) => stop?.());
  }
}

export async function startDashboard(town: Town, options: DashboardOptions): Promise<DashboardHandle> {
  const auth = new DashboardAuth(options.token);
  const tail = new StreamTail(town, options.pollMs ?? 250);
  const htmx = htmxSource();
  const app = new Hono<DashboardEnv>();
  let hosts: Set<string> | undefined;
  const streams = new Set<AbortController>();

  // One snapshot serves the burst of panel refreshes an event causes.
  let cached: { head: number; at: number; value: Promise<TownSnapshot> } | undefined;
  const snapshot = async (): Promise<TownSnapshot> => {
    const head = await town.ledger.lastTownEventId();
    const now = Date.now();
    if (cached && ((cached.head === head && now - cached.at < 2000) || now - cached.at < 300)) return cached.value;
    // Every page and panel renders from this: redacted once here, so no view can show a token a title or an output carried.
    const value = townSnapshot(town, options.daemonStatus(), now).then(redactData);
    cached = { head, at: now, value };
    value.catch(() => (cached = undefined));
    return value;
  };
  const metrics = async (): Promise<[Metrics, Metrics, Metrics]> => {
    const input = await loadMetricsInput(town);
    const until = new Date().toISOString();
    const since = new Date(Date.now() - 24 * 3_600_000).toISOString();
    return [
      computeMetrics(input, { until, since }),
      computeMetrics(input, { until, since, by: 'rig' }),
      computeMetrics(input, { until, since, by: 'runtime' }),
    ];
  };
  const suggestions = async (s: TownSnapshot): Promise<Record<Suggestions, Array<{ value: string; label: string }>>> => {
    const ready = await town.ledger.ready({ limit: 50 }).catch(() => []);
    const agents = s.agents.map((a) => ({ value: a.address, label: a.state }));
    return redactData({
      beads: ready
        .filter((b) => !['message', 'agent', 'convoy', 'merge-request', 'permission'].includes(b.issue_type))
        .map((b) => ({ value: b.id, label: b.title })),
      agents,
      targets: [...town.rigNames().map((r) => ({ value: r, label: 'a polecat of this rig' })), ...agents],
      permissions: s.permissions.map((p) => ({ value: p.id, label: `${p.agent} ${p.tool}` })),
      queued: s.merge_queue.filter((m) => m.status === 'queued').map((m) => ({ value: m.id, label: m.title })),
      rejected: s.merge_queue.filter((m) => m.status === 'rejected').map((m) => ({ value: m.id, label: m.title })),
      escalations: s.escalations.map((e) => ({ value: e.id, label: e.title })),
    });
  };

  app.use('*', async (c, next) => {
    await next();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
  });
  app.use(
    '*',
    auth.middleware(() => hosts),
  );

  app.get('/', async (c) => {
    const now = Date.now();
    const [s, events, cursor] = await Promise.all([snapshot(), recentEvents(town.ledger, {}, 50), town.ledger.lastTownEventId()]);
    return c.html(
      page({
        snapshot: s,
        events,
        csrf: auth.csrfFor(c.get('session')),
        cursor,
        palette: palette({ actions: ACTIONS, suggestions: await suggestions(s) }),
        now,
      }).value,
    );
  });

  app.get('/panel/:name', async (c) => {
    const name = c.req.param('name') as PanelName;
    if (!(PANELS as readonly string[]).includes(name)) return c.text('No such panel.\n', 404);
    const now = Date.now();
    if (name === 'metrics') return c.html(metricsPanel(...(await metrics()), now).value);
    return c.html(renderPanel(name, await snapshot(), now).value);
  });

  app.get('/agents/peek', async (c) => {
    const address = c.req.query('agent') ?? '';
    const agent = await town.agent(parseIdentity(address)).catch(() => undefined);
    if (!agent) return c.html(html`<p class="muted">No agent ${address}.</p>`.value, 404);
    const text = await peekAgent(town, agent, 30);
    return c.html(html`<pre>${text.trimEnd() || '(no output yet)'}</pre>`.value);
  });

  app.get('/toast/clear', (c) => c.html(''));

  app.get('/api/session', (c) => c.json({ csrf: auth.csrfFor(c.get('session')) }));
  app.get('/api/snapshot', async (c) => c.json(redactData(await snapshot())));
  app.get('/api/metrics', async (c) => {
    const by = c.req.query('by');
    const since = c.req.query('since');
    return c.json(
      computeMetrics(await loadMetricsInput(town), {
        until: new Date().toISOString(),
        ...(since ? { since } : {}),
        ...(by === 'rig' || by === 'runtime' || by === 'day' ? { by } : {}),
      }),
    );
  });

  const wantsJson = (c: Context<DashboardEnv>) => (c.req.header('accept') ?? '').includes('application/json') && !c.req.header('hx-request');
  for (const spec of ACTIONS) {
    app.post(`/api/${spec.path}`, async (c) => {
      const body = await c.req.parseBody();
      const form: Form = {};
      for (const [k, v] of Object.entries(body)) if (typeof v === 'string' && k !== '_csrf') form[k] = v;
      if (spec.confirm && form.confirm !== 'yes') {
        const question = spec.confirm(form);
        delete form.confirm;
        return wantsJson(c) ? c.json({ ok: false, confirm: question }, 409) : c.html(confirmation(spec.path, question, form).value, 409);
      }
      delete form.confirm;
      try {
        const result = await spec.run({ town, probe: options.probe, prepareSessions: options.prepareSessions }, form);
        cached = undefined;
        return wantsJson(c)
          ? c.json({ ok: true, message: result.message, data: redactData(result.data ?? null) })
          : c.html(toast(result.message, 'good').value);
      } catch (error) {
        const status = statusOf(error);
        const message = error instanceof Error ? error.message : String(error);
        if (status === 500) options.log(`dashboard: ${spec.path} failed: ${error instanceof Error ? (error.stack ?? message) : message}`);
        return wantsJson(c) ? c.json({ ok: false, error: message }, status) : c.html(toast(message, 'bad').value, status);
      }
    });
  }

  app.get('/events', (c) => {
    const resume = Number(c.req.header('last-event-id') ?? c.req.query('after') ?? 0);
    let cursor = Number.isInteger(resume) && resume >= 0 ? resume : 0;
    return streamSSE(c, async (stream) => {
      const done = new AbortController();
      streams.add(done);
      let wake: () => void = () => undefined;
      const stop = tail.listen(() => wake());
      stream.onAbort(() => done.abort());
      const send = async (event: TownEvent) => {
        await stream.writeSSE({ event: 'town', id: String(event.id), data: JSON.stringify({ id: event.id, kind: event.kind, html: eventRow(event).value }) });
        cursor = event.id;
      };
      try {
        // Whatever happened between the page and this connection (or before a reconnect) first.
        for (const event of await town.ledger.townEvents(cursor, {}, 500)) await send(event);
        let lastWrite = Date.now();
        while (!done.signal.aborted) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 15_000);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
            done.signal.addEventListener('abort', () => wake(), { once: true });
          });
          if (done.signal.aborted) break;
          const events = await town.ledger.townEvents(cursor, {}, 500);
          for (const event of events) await send(event);
          if (events.length) lastWrite = Date.now();
          // A comment now and then keeps proxies from closing an idle stream.
          if (Date.now() - lastWrite >= 15_000) {
            await stream.write(': keep-alive\n\n');
            lastWrite = Date.now();
          }
        }
      } finally {
        stop();
        streams.delete(done);
      }
    });
  });

  app.get('/static/app.css', (c) => c.body(APP_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'no-cache' }));
  app.get('/static/app.js', (c) => c.body(APP_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-cache' }));
  app.get('/static/htmx.min.js', (c) => c.body(htmx, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'max-age=3600' }));

  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: options.host, port: options.port }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  // Bound to loopback: only the names of this machine may address it (no DNS rebinding).
  if (['127.0.0.1', '::1', 'localhost'].includes(options.host))
    hosts = new Set([`127.0.0.1:${address.port}`, `localhost:${address.port}`, `[::1]:${address.port}`]);
  let closed = false;
  return {
    url: `http://${hostPart}:${address.port}`,
    token: auth.token,
    close: async () => {
      if (closed) return;
      closed = true;
      for (const s of streams) s.abort();
      tail.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    },
  };
}
