/**
 * The dashboard's HTML: one page of panels, each also served alone
 * (`/panel/<name>`) so htmx can swap it when the event stream says it changed.
 * Everything shown comes from a TownSnapshot or the metrics; every value is
 * escaped by `html`.
 */
import type { TownEvent } from '../../core/events/town-events.js';
import type { Metrics } from '../../core/metrics/metrics.js';
import { ruleText } from '../../core/governance/permissions.js';
import { describeEvent } from '../../core/watch/describe.js';
import type { AgentView, TownSnapshot } from '../../core/watch/snapshot.js';
import type { ActionSpec, Suggestions } from './actions.js';
import { barChart, columnChart, progressBar } from './charts.js';
import { html, type HtmlEscapedString } from './html.js';

export const PANELS = ['health', 'problems', 'agents', 'hooked', 'convoys', 'queue', 'escalations', 'permissions', 'mail', 'costs', 'metrics'] as const;
export type PanelName = (typeof PANELS)[number];

/** The panels an event kind's noun can change (the client refreshes only those). */
export const PANELS_BY_NOUN: Record<string, PanelName[]> = {
  bead: ['agents', 'hooked', 'convoys', 'problems', 'health'],
  session: ['agents', 'problems', 'health', 'costs'],
  agent: ['agents', 'hooked', 'problems', 'health'],
  mail: ['mail'],
  nudge: ['agents'],
  work: ['agents', 'hooked', 'queue', 'escalations', 'problems', 'costs'],
  mr: ['queue', 'convoys', 'metrics', 'hooked'],
  convoy: ['convoys', 'metrics'],
  gate: ['escalations', 'problems', 'agents'],
  permission: ['permissions', 'agents', 'problems'],
  escalation: ['escalations', 'problems', 'health'],
  budget: ['health', 'costs'],
};

export function ago(iso: string | undefined, now: number): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : s < 86400 ? `${Math.round(s / 3600)}h ago` : `${Math.round(s / 86400)}d ago`;
}

const usd = (n: number) => `$${n.toFixed(n >= 1 ? 2 : 4)}`;
const pct = (n: number | null) => (n === null ? '–' : `${Math.round(n * 100)}%`);
const minutes = (ms: number) =>
  ms < 60_000 ? `${Math.round(ms / 1000)}s` : ms < 3_600_000 ? `${Math.round(ms / 60_000)}m` : `${(ms / 3_600_000).toFixed(1)}h`;

function stateBadge(state: string): HtmlEscapedString {
  const tone = ['dead', 'zombie', 'stalled', 'gupp-violation'].includes(state)
    ? 'bad'
    : state.startsWith('waiting')
      ? 'warn'
      : state === 'working' || state === 'starting'
        ? 'good'
        : 'dim';
  return html`<span class="badge ${tone}">${state}</span>`;
}

function section(name: PanelName, title: string, body: HtmlEscapedString, options: { lazy?: boolean; count?: number } = {}): HtmlEscapedString {
  return html`<section
    id="panel-${name}"
    class="panel"
    hx-get="/panel/${name}"
    hx-trigger="${options.lazy ? 'load, ' : ''}gt-refresh"
    hx-swap="outerHTML"
    hx-disinherit="*"
  >
    <h2>${title}${options.count !== undefined ? html` <span class="count">${options.count}</span>` : ''}</h2>
    ${body}
  </section>`;
}

function healthPanel(s: TownSnapshot, now: number): HtmlEscapedString {
  const working = s.agents.filter((a) => a.state === 'working' || a.state === 'starting').length;
  return section(
    'health',
    'Town',
    html`<div class="stats">
      <div class="stat ${s.daemon.running ? 'good' : 'bad'}">
        <b>${s.daemon.running ? 'running' : s.daemon.stale_pidfile ? 'crashed' : 'stopped'}</b
        ><span>daemon${s.daemon.pid ? ` (pid ${s.daemon.pid})` : ''}</span>
      </div>
      <div class="stat ${s.mayor ? (s.mayor.alive ? 'good' : 'warn') : 'dim'}">
        <b>${s.mayor ? s.mayor.state : 'none'}</b><span>mayor${s.mayor?.last_activity ? `, ${ago(s.mayor.last_activity, now)}` : ''}</span>
      </div>
      <div class="stat"><b>${working}/${s.agents.length}</b><span>agents working</span></div>
      <div class="stat ${s.problems.length ? 'bad' : 'good'}"><b>${s.problems.length}</b><span>need you</span></div>
      <div class="stat"><b>${usd(s.costs_today.usd)}</b><span>spent today</span></div>
    </div>`,
  );
}

function problemsPanel(s: TownSnapshot, now: number): HtmlEscapedString {
  return section(
    'problems',
    'Needs attention',
    s.problems.length === 0
      ? html`<p class="muted">All clear.</p>`
      : html`<ul class="rows">
          ${s.problems.map((p) => html`<li>${stateBadge(p.kind)} <b>${p.agent}</b> <span>${p.detail}</span> <time>${ago(p.since, now)}</time></li>`)}
        </ul>`,
    { count: s.problems.length },
  );
}

function agentRow(a: AgentView, now: number): HtmlEscapedString {
  const id = `peek-${a.address.replace(/[^a-z0-9]/gi, '-')}`;
  return html`<li class="agent" data-agent="${a.address}">
    ${stateBadge(a.state)} <b>${a.address}</b>
    <span class="muted">${a.runtime ?? ''}${a.host ? html` on ${a.host}` : ''}</span>
    ${a.hooked.length ? html`<span class="bead" title="${a.hooked[0]?.title ?? ''}">${a.hooked.map((h) => h.id).join(', ')}</span>` : ''}
    <time>${ago(a.last_activity, now)}</time>
    ${a.usd_today ? html`<span class="muted">${usd(a.usd_today)}</span>` : ''}
    <button class="link" hx-get="/agents/peek?agent=${encodeURIComponent(a.address)}" hx-target="#${id}" hx-swap="innerHTML">peek</button>
    <div id="${id}" class="peek"></div>
  </li>`;
}

function agentsPanel(s: TownSnapshot, now: number): HtmlEscapedString {
  const order = ['dead', 'stalled', 'gupp-violation', 'zombie', 'waiting-permission', 'waiting-gate', 'working', 'starting', 'idle', 'done'];
  const states = [...new Set(s.agents.map((a) => a.state))].sort((a, b) => ((order.indexOf(a) + 100) % 100) - ((order.indexOf(b) + 100) % 100));
  return section(
    'agents',
    'Agents',
    s.agents.length === 0
      ? html`<p class="muted">No agents yet: sling a bead (Ctrl+K).</p>`
      : html`${states.map(
          (state) =>
            html`<h3>${state} <span class="count">${s.agents.filter((a) => a.state === state).length}</span></h3>
              <ul class="rows">
                ${s.agents.filter((a) => a.state === state).map((a) => agentRow(a, now))}
              </ul>`,
        )}`,
    { count: s.agents.length },
  );
}

function hookedPanel(s: TownSnapshot): HtmlEscapedString {
  const hooked = s.agents.flatMap((a) => a.hooked.map((b) => ({ ...b, agent: a.address, state: a.state })));
  return section(
    'hooked',
    'Hooked work',
    hooked.length === 0
      ? html`<p class="muted">Nothing on a hook.</p>`
      : html`<ul class="rows">
          ${hooked.map((b) => html`<li><span class="bead">${b.id}</span> ${b.title} <span class="muted">on ${b.agent}</span> ${stateBadge(b.state)}</li>`)}
        </ul>`,
    { count: hooked.length },
  );
}

function convoysPanel(s: TownSnapshot, now: number): HtmlEscapedString {
  return section(
    'convoys',
    'Convoys',
    s.convoys.length === 0
      ? html`<p class="muted">No convoys in progress or landed in the last 24 h.</p>`
      : html`<ul class="rows">
          ${s.convoys.map(
            (c) =>
              html`<li class="convoy">
                <b>${c.name}</b> <span class="muted">${c.id}</span> ${stateBadge(c.status === 'open' ? 'working' : c.status)}
                <span>${c.closed}/${c.total}</span> ${c.landed_at ? html`<time>landed ${ago(c.landed_at, now)}</time>` : ''} ${progressBar(c.closed, c.total)}
              </li>`,
          )}
        </ul>`,
    { count: s.convoys.length },
  );
}

function queuePanel(s: TownSnapshot, now: number): HtmlEscapedString {
  const queued = s.merge_queue.filter((m) => m.status === 'queued');
  return section(
    'queue',
    'Merge queue',
    s.merge_queue.length === 0
      ? html`<p class="muted">Nothing queued or merged in the last 24 h.</p>`
      : html`<ul class="rows">
          ${s.merge_queue.map(
            (m) =>
              html`<li>
                <span class="badge ${m.status === 'merged' ? 'good' : m.status === 'rejected' ? 'bad' : 'warn'}">${m.status}</span>
                <span class="bead">${m.bead}</span> ${m.title.replace(/^Merge [^:]+: /, '')} <span class="muted">${m.rig} · ${m.worker}</span>
                <time>${ago(m.at, now)}</time>
                ${
                  m.status === 'rejected'
                    ? html`<button class="link" hx-post="/api/mq/retry" hx-vals='{"id":"${m.id}"}' hx-target="#toast">retry</button>
                        <details>
                          <summary>${m.reason ?? 'rejected'}</summary>
                          <pre>${m.output ?? '(no output recorded)'}</pre>
                        </details>`
                    : ''
                }
                ${m.status === 'queued' ? html`<button class="link" hx-post="/api/mq/reject" hx-vals='{"id":"${m.id}"}' hx-target="#toast">reject</button>` : ''}
              </li>`,
          )}
        </ul>`,
    { count: queued.length },
  );
}

function escalationsPanel(s: TownSnapshot, now: number): HtmlEscapedString {
  const gates = s.gates.filter((g) => g.escalated);
  return section(
    'escalations',
    'Escalations',
    s.escalations.length + gates.length === 0
      ? html`<p class="muted">None.</p>`
      : html`<ul class="rows">
          ${s.escalations.map((e) => html`<li><span class="badge bad">${e.severity}</span> <span class="bead">${e.id}</span> ${e.title} <span class="muted">${e.reason}</span> <time>${ago(e.at, now)}</time></li>`)}
          ${gates.map((g) => html`<li><span class="badge bad">gate</span> <span class="bead">${g.id}</span> ${g.title} <time>${ago(g.created_at, now)}</time></li>`)}
        </ul>`,
    { count: s.escalations.length + gates.length },
  );
}

function inputSummary(input: unknown): string {
  if (input && typeof input === 'object') {
    const o = input as Record<string, unknown>;
    for (const key of ['command', 'file_path', 'path', 'url', 'pattern']) if (typeof o[key] === 'string') return o[key];
    return JSON.stringify(input);
  }
  return typeof input === 'string' ? input : '';
}

function permissionsPanel(s: TownSnapshot, now: number): HtmlEscapedString {
  return section(
    'permissions',
    'Permission asks',
    s.permissions.length === 0
      ? html`<p class="muted">No agent is waiting for a permission.</p>`
      : html`<ul class="rows">
          ${s.permissions.map(
            (p) =>
              html`<li class="permission" data-id="${p.id}">
                <b>${p.agent}</b> <span class="badge warn">${p.tool}</span> <code>${inputSummary(p.input)}</code> <span class="muted">${p.rule}</span>
                <time>${ago(p.created_at, now)}</time>
                <button class="good" hx-post="/api/permission/approve" hx-vals='{"id":"${p.id}"}' hx-target="#toast">Approve</button>
                <button class="bad" hx-post="/api/permission/deny" hx-vals='{"id":"${p.id}"}' hx-target="#toast">Deny</button>
                ${
                  p.suggested[0]
                    ? html`<button hx-post="/api/permission/always" hx-vals='{"id":"${p.id}"}' hx-target="#toast" title="adds: ${ruleText(p.suggested[0])}">
                        Always allow
                      </button>`
                    : ''
                }
              </li>`,
          )}
        </ul>`,
    { count: s.permissions.length },
  );
}

function mailPanel(s: TownSnapshot, now: number): HtmlEscapedString {
  return section(
    'mail',
    'Mail for you',
    s.mail.length === 0
      ? html`<p class="muted">Inbox empty.</p>`
      : html`<ul class="rows">
          ${s.mail.map(
            (m) =>
              html`<li>
                <details>
                  <summary><b>${m.from}</b> ${m.subject} <time>${ago(m.created_at, now)}</time></summary>
                  <pre>${m.body}</pre>
                </details>
              </li>`,
          )}
        </ul>`,
    { count: s.mail.length },
  );
}

function costsPanel(s: TownSnapshot): HtmlEscapedString {
  const spenders = s.agents
    .filter((a) => a.usd_today > 0)
    .sort((a, b) => b.usd_today - a.usd_today)
    .slice(0, 8);
  return section(
    'costs',
    'Costs today',
    html`<p><b>${usd(s.costs_today.usd)}</b> <span class="muted">${s.costs_today.tokens.toLocaleString('en-US')} tokens</span></p>
      ${barChart(
        spenders.map((a) => ({ label: a.address.split('/').slice(-1)[0] ?? a.address, value: a.usd_today, title: `${a.address}: ${usd(a.usd_today)}` })),
        usd,
        'No usage today.',
      )}`,
  );
}

export function metricsPanel(m: Metrics | undefined, byRig: Metrics | undefined, byRuntime: Metrics | undefined, now: number): HtmlEscapedString {
  if (!m || !byRig || !byRuntime) return section('metrics', 'Outcomes (24 h)', html`<p class="muted">Loading…</p>`, { lazy: true });
  const hours: Array<{ label: string; value: number }> = [];
  for (let i = 23; i >= 0; i--) {
    const hour = new Date(now - i * 3_600_000).toISOString().slice(0, 13);
    hours.push({ label: `${hour.slice(11)}h`, value: m.merged_by_hour.find((h) => h.hour === hour)?.merged ?? 0 });
  }
  const t = m.total;
  const perMerged = (rows: Metrics['rows']) => rows.filter((r) => r.usd_per_merged !== null).map((r) => ({ label: r.key, value: r.usd_per_merged ?? 0 }));
  return section(
    'metrics',
    'Outcomes (24 h)',
    html`<div class="stats">
        <div class="stat"><b>${t.merged}</b><span>merged (${m.merged_per_hour}/h)</span></div>
        <div class="stat ${t.success_rate !== null && t.success_rate < 0.8 ? 'warn' : ''}"><b>${pct(t.success_rate)}</b><span>MQ success</span></div>
        <div class="stat"><b>${t.mq_wait.count ? minutes(t.mq_wait.p50_ms) : '–'}</b><span>MQ wait p50</span></div>
        <div class="stat"><b>${t.rework}</b><span>rework (${pct(t.rework_rate)})</span></div>
        <div class="stat"><b>${t.usd_per_merged === null ? '–' : usd(t.usd_per_merged)}</b><span>per merged bead</span></div>
      </div>
      <h3>Merged per hour</h3>
      ${columnChart(hours, { empty: 'No merges in the last 24 h.' })}
      <h3>USD per merged bead, by rig</h3>
      ${barChart(perMerged(byRig.rows), usd, 'Nothing merged yet.')}
      <h3>USD per merged bead, by runtime</h3>
      ${barChart(perMerged(byRuntime.rows), usd, 'Nothing merged yet.')}
      ${
        m.interventions.length
          ? html`<h3>Human interventions per convoy</h3>
              ${barChart(
                m.interventions.map((c) => ({ label: c.name ?? c.convoy, value: c.interventions })),
                (n) => String(n),
              )}`
          : ''
      }`,
  );
}

export function eventRow(event: TownEvent): HtmlEscapedString {
  const line = describeEvent(event);
  return html`<li class="event ${line.tone}" data-id="${event.id}" data-kind="${event.kind}">
    <time datetime="${event.at}">${event.at.slice(11, 19)}</time> <span class="sym">${line.symbol}</span> <span class="kind">${event.kind}</span> ${line.text}
  </li>`;
}

export function activityPanel(events: TownEvent[]): HtmlEscapedString {
  return html`<section id="panel-activity" class="panel wide">
    <h2>Activity <span id="live" class="badge dim">connecting…</span></h2>
    <ul id="events" class="rows events">
      ${[...events].reverse().map(eventRow)}
    </ul>
  </section>`;
}

export function renderPanel(name: PanelName, s: TownSnapshot, now: number): HtmlEscapedString {
  switch (name) {
    case 'health':
      return healthPanel(s, now);
    case 'problems':
      return problemsPanel(s, now);
    case 'agents':
      return agentsPanel(s, now);
    case 'hooked':
      return hookedPanel(s);
    case 'convoys':
      return convoysPanel(s, now);
    case 'queue':
      return queuePanel(s, now);
    case 'escalations':
      return escalationsPanel(s, now);
    case 'permissions':
      return permissionsPanel(s, now);
    case 'mail':
      return mailPanel(s, now);
    case 'costs':
      return costsPanel(s);
    case 'metrics':
      return metricsPanel(undefined, undefined, undefined, now);
  }
}

export interface PaletteInput {
  actions: ActionSpec[];
  suggestions: Record<Suggestions, Array<{ value: string; label: string }>>;
}

/** The command palette: a searchable list of actions, each with its form (posted by htmx, answered in the toast). */
export function palette(p: PaletteInput): HtmlEscapedString {
  return html`<dialog id="palette" aria-label="Command palette">
    <input id="palette-search" placeholder="Type an action… (↑↓ Enter, Esc)" autocomplete="off" />
    <ul>
      ${p.actions.map((a) => html`<li data-action="${a.path}">${a.title}</li>`)}
    </ul>
    ${p.actions.map(
      (a) =>
        html`<form id="form-${a.path.replace(/\//g, '-')}" hx-post="/api/${a.path}" hx-target="#toast" hidden>
          <b>${a.title}</b>
          ${a.fields.map(
            (f) =>
              html`<label
                >${f.label}
                ${
                  f.long
                    ? html`<textarea name="${f.name}" rows="3" ${f.optional ? '' : 'required'}></textarea>`
                    : html`<input name="${f.name}" ${f.list ? html`list="list-${f.list}"` : ''} ${f.optional ? '' : 'required'} autocomplete="off" />`
                }
              </label>`,
          )}
          <button type="submit">${a.confirm ? 'Continue…' : 'Run'}</button>
        </form>`,
    )}
    ${Object.entries(p.suggestions).map(
      ([name, options]) => html`<datalist id="list-${name}">${options.map((o) => html`<option value="${o.value}">${o.label}</option>`)}</datalist>`,
    )}
  </dialog>`;
}

/** An action's answer, in the toast. */
export function toast(message: string, tone: 'good' | 'bad'): HtmlEscapedString {
  return html`<div class="msg ${tone}">${message}</div>`;
}

/** A dangerous action asks again, with the same fields and confirm=yes. */
export function confirmation(path: string, question: string, form: Record<string, string>): HtmlEscapedString {
  return html`<div class="msg warn">
    ${question}
    <button class="bad" hx-post="/api/${path}" hx-vals="${JSON.stringify({ ...form, confirm: 'yes' })}" hx-target="#toast">Confirm</button>
    <button hx-get="/toast/clear" hx-target="#toast">Cancel</button>
  </div>`;
}

export interface PageInput {
  snapshot: TownSnapshot;
  events: TownEvent[];
  csrf: string;
  cursor: number;
  palette: HtmlEscapedString;
  now: number;
}

export function page(p: PageInput): HtmlEscapedString {
  const s = p.snapshot;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="csrf-token" content="${p.csrf}" />
        <meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}' />
        <title>${s.town} · gt dashboard</title>
        <link rel="stylesheet" href="/static/app.css" />
        <script src="/static/htmx.min.js" defer></script>
        <script src="/static/app.js" defer></script>
      </head>
      <body sse-connect="/events?after=${p.cursor}" data-panels="${JSON.stringify(PANELS_BY_NOUN)}">
        <header>
          <h1>${s.town}</h1>
          <button id="palette-open" title="Command palette (Ctrl+K)">⌘K Actions</button>
        </header>
        <main>${renderPanel('health', s, p.now)} ${activityPanel(p.events)} ${PANELS.filter((n) => n !== 'health').map((n) => renderPanel(n, s, p.now))}</main>
        <div id="toast" role="status" aria-live="polite"></div>
        ${p.palette}
      </body>
    </html>`;
}
