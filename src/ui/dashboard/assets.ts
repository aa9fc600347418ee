/**
 * The page's stylesheet and its one small script, served from memory (no
 * build step). The script does three things htmx does not: it follows the
 * SSE endpoint the page names in `sse-connect` (resuming by Last-Event-ID,
 * polling the panels while the stream is down), adds the CSRF header to every
 * htmx request, and runs the command palette (Ctrl/Cmd+K).
 */

export const APP_CSS = `
:root { color-scheme: light dark; --bg:#f7f7f5; --fg:#1d1d1b; --muted:#6b6b66; --card:#fff; --line:#e3e3de;
  --good:#1a7f37; --bad:#c62828; --warn:#9a6700; --info:#0b5cad; font: 14px/1.4 system-ui, sans-serif; }
@media (prefers-color-scheme: dark) { :root { --bg:#151514; --fg:#e8e8e3; --muted:#9a9a93; --card:#1f1f1d; --line:#33332f;
  --good:#4ac26b; --bad:#ff6b6b; --warn:#d4a72c; --info:#58a6ff; } }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); }
header { display:flex; align-items:center; justify-content:space-between; padding:.6rem 1rem; border-bottom:1px solid var(--line); position:sticky; top:0; background:var(--bg); z-index:2; }
h1 { font-size:1.1rem; margin:0; } h2 { font-size:.95rem; margin:0 0 .5rem; } h3 { font-size:.8rem; margin:.6rem 0 .3rem; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
main { display:grid; grid-template-columns:repeat(auto-fill, minmax(340px, 1fr)); gap:.8rem; padding:.8rem; align-items:start; grid-auto-flow:row dense; }
.panel { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:.7rem .8rem; min-width:0; overflow:hidden; }
.panel.wide { grid-column:span 2; } @media (max-width: 760px) { .panel.wide { grid-column:auto; } }
.rows { list-style:none; margin:0; padding:0; } .rows li { padding:.25rem 0; border-bottom:1px solid var(--line); overflow-wrap:anywhere; }
.rows li:last-child { border-bottom:0; }
.muted, time { color:var(--muted); } time { font-size:.85em; margin-left:.3em; }
.count { color:var(--muted); font-weight:normal; }
.badge { display:inline-block; padding:0 .4em; border-radius:4px; font-size:.8em; border:1px solid currentColor; }
.good { color:var(--good); } .bad { color:var(--bad); } .warn { color:var(--warn); } .info { color:var(--info); } .dim { color:var(--muted); }
.stat.good b { color:var(--good); } .stat.bad b { color:var(--bad); } .stat.warn b { color:var(--warn); } .stat { color:var(--fg); }
.stats { display:flex; flex-wrap:wrap; gap:.8rem; } .stat { display:flex; flex-direction:column; min-width:5.5rem; } .stat b { font-size:1.25rem; } .stat span { color:var(--muted); font-size:.8rem; }
.bead { font-family:ui-monospace, monospace; font-size:.9em; }
pre, code { font-family:ui-monospace, monospace; font-size:.85em; } pre { white-space:pre-wrap; max-height:16rem; overflow:auto; background:var(--bg); padding:.4rem; border-radius:4px; margin:.3rem 0; }
.peek:empty { display:none; }
button { font:inherit; border:1px solid var(--line); background:var(--card); color:var(--fg); border-radius:6px; padding:.2rem .6rem; cursor:pointer; }
button.link { border:0; background:none; color:var(--info); padding:0 .3rem; } button.good { color:var(--good); } button.bad { color:var(--bad); }
.chart { width:100%; height:auto; display:block; } .chart rect { fill:var(--info); } .chart .axis { stroke:var(--line); }
.chart text { fill:var(--muted); font-size:9px; } .chart .label, .chart .value { fill:var(--fg); font-size:10px; }
.progress { width:100%; height:6px; display:block; margin-top:.2rem; } .progress .track { fill:var(--line); } .progress .fill { fill:var(--good); }
.events { max-height:28rem; overflow:auto; } .event .sym { display:inline-block; width:1.3em; text-align:center; } .event .kind { color:var(--muted); font-size:.85em; }
.event.fresh { animation: flash 1.5s ease-out; } @keyframes flash { from { background:rgba(88,166,255,.25); } to { background:transparent; } }
#toast { position:fixed; bottom:1rem; left:50%; transform:translateX(-50%); max-width:92vw; z-index:5; }
#toast .msg { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:.5rem .8rem; box-shadow:0 4px 16px rgba(0,0,0,.2); }
dialog#palette { width:min(560px, 94vw); border:1px solid var(--line); border-radius:10px; padding:0; background:var(--card); color:var(--fg); }
dialog#palette::backdrop { background:rgba(0,0,0,.35); }
#palette input, #palette textarea { font:inherit; width:100%; padding:.5rem .7rem; border:0; border-bottom:1px solid var(--line); background:transparent; color:var(--fg); outline:none; }
#palette ul { list-style:none; margin:0; padding:.3rem 0; max-height:50vh; overflow:auto; } #palette li { padding:.4rem .8rem; cursor:pointer; } #palette li.active { background:var(--bg); }
#palette form { padding:.6rem .8rem; display:flex; flex-direction:column; gap:.4rem; } #palette form label { font-size:.8rem; color:var(--muted); }
#palette form input, #palette form textarea { border:1px solid var(--line); border-radius:6px; }
#palette form[hidden], #palette li[hidden] { display:none; }
@media (max-width: 480px) { main { grid-template-columns:1fr; padding:.4rem; gap:.5rem; } header { padding:.5rem .6rem; } .stat { min-width:4.2rem; } }
`;

export const APP_JS = `
(function () {
  'use strict';
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  document.body.addEventListener('htmx:configRequest', function (e) { e.detail.headers['X-CSRF-Token'] = csrf; });
  // A refused action still shows its message (htmx does not swap error responses by default).
  document.body.addEventListener('htmx:beforeSwap', function (e) {
    if (e.detail.target && e.detail.target.id === 'toast' && e.detail.xhr.status >= 400) { e.detail.shouldSwap = true; e.detail.isError = false; }
  });
  document.body.addEventListener('htmx:afterSwap', function (e) {
    if (e.detail.target && e.detail.target.id === 'toast') {
      clearTimeout(window.__gtToast);
      if (!e.detail.target.querySelector('form, button')) window.__gtToast = setTimeout(function () { e.detail.target.innerHTML = ''; }, 8000);
    }
  });

  // --- live updates -------------------------------------------------------
  var byNoun = JSON.parse(document.body.getAttribute('data-panels') || '{}');
  var pending = {}; var timer = null; var live = false;
  function refresh(names) {
    names.forEach(function (n) { pending[n] = true; });
    if (timer) return;
    timer = setTimeout(function () {
      var all = Object.keys(pending); pending = {}; timer = null;
      all.forEach(function (n) { var el = document.getElementById('panel-' + n); if (el && window.htmx) htmx.trigger(el, 'gt-refresh'); });
    }, 250);
  }
  function setLive(on, text) {
    live = on; var badge = document.getElementById('live');
    if (badge) { badge.textContent = text; badge.className = 'badge ' + (on ? 'good' : 'warn'); }
  }
  var list = document.getElementById('events');
  function connect() {
    var url = document.body.getAttribute('sse-connect');
    if (!url || !window.EventSource) { setLive(false, 'polling'); return; }
    var source = new EventSource(url);
    source.addEventListener('open', function () { setLive(true, 'live'); });
    source.addEventListener('error', function () { setLive(false, 'reconnecting…'); });
    source.addEventListener('town', function (m) {
      var event = JSON.parse(m.data);
      if (list && !list.querySelector('[data-id="' + event.id + '"]')) {
        list.insertAdjacentHTML('afterbegin', event.html);
        var row = list.firstElementChild; if (row) row.classList.add('fresh');
        while (list.children.length > 200) list.removeChild(list.lastElementChild);
      }
      refresh(byNoun[event.kind.split('.')[0]] || []);
    });
  }
  connect();
  // The fallback while the stream is down: every panel, every 15 s.
  setInterval(function () { if (!live) refresh(Object.keys(byNoun).reduce(function (a, k) { return a.concat(byNoun[k]); }, ['health'])); }, 15000);
  // Relative times age without a round trip.
  setInterval(function () { refresh(['health']); }, 60000);

  // --- command palette ----------------------------------------------------
  var dialog = document.getElementById('palette');
  var search = document.getElementById('palette-search');
  var items = Array.prototype.slice.call(dialog.querySelectorAll('li[data-action]'));
  var active = 0;
  function visible() { return items.filter(function (li) { return !li.hidden; }); }
  function mark() { visible().forEach(function (li, i) { li.classList.toggle('active', i === active); }); }
  function showList() {
    dialog.querySelectorAll('form').forEach(function (f) { f.hidden = true; });
    search.hidden = false; dialog.querySelector('ul').hidden = false; search.value = ''; filter();
  }
  function filter() {
    var q = search.value.toLowerCase().trim();
    items.forEach(function (li) { li.hidden = q !== '' && li.textContent.toLowerCase().indexOf(q) === -1 && li.getAttribute('data-action').indexOf(q) === -1; });
    active = 0; mark();
  }
  function choose(li) {
    if (!li) return;
    var form = document.getElementById('form-' + li.getAttribute('data-action').replace(/\\//g, '-'));
    search.hidden = true; dialog.querySelector('ul').hidden = true; form.hidden = false;
    var first = form.querySelector('input:not([type=hidden]), textarea'); if (first) first.focus();
  }
  function open() { if (!dialog.open) { dialog.showModal(); showList(); search.focus(); } }
  document.getElementById('palette-open').addEventListener('click', open);
  document.addEventListener('keydown', function (e) {
    if ((e.ctrlKey || e.metaKey) && (e.key === 'k' || e.key === 'K')) { e.preventDefault(); if (dialog.open) dialog.close(); else open(); }
  });
  search.addEventListener('input', filter);
  search.addEventListener('keydown', function (e) {
    var v = visible();
    if (e.key === 'ArrowDown') { active = Math.min(v.length - 1, active + 1); mark(); e.preventDefault(); }
    else if (e.key === 'ArrowUp') { active = Math.max(0, active - 1); mark(); e.preventDefault(); }
    else if (e.key === 'Enter') { choose(v[active]); e.preventDefault(); }
  });
  items.forEach(function (li) { li.addEventListener('click', function () { choose(li); }); });
  dialog.addEventListener('htmx:afterRequest', function (e) { if (e.detail.successful) dialog.close(); });
  dialog.addEventListener('close', function () { showList(); });
})();
`;
