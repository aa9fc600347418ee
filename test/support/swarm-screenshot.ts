/**
 * A picture of a swarm view, captured from tmux: every pane's screen
 * (`capture-pane -e`, with its colours) placed where tmux lays it out, under
 * its border title in the agent's colour, rendered to PNG by Chromium
 * (playwright-core). Written to test-results/swarm.png; with
 * UPDATE_SCREENSHOTS=1 also to docs/swarm.png (the README's picture).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT } from './env.js';

const BASE = ['#1d1d1b', '#e06c75', '#98c379', '#e5c07b', '#61afef', '#c678dd', '#56b6c2', '#d7d7d2'];
const BRIGHT = ['#7f7f7a', '#ff7b86', '#b5e890', '#ffd88a', '#7cc1ff', '#de8ef5', '#6fd6e3', '#ffffff'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function xterm256(n: number): string {
  if (n < 8) return BASE[n] as string;
  if (n < 16) return BRIGHT[n - 8] as string;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v},${v},${v})`;
  }
  const c = n - 16;
  const level = (x: number) => (x === 0 ? 0 : 55 + x * 40);
  return `rgb(${level(Math.floor(c / 36))},${level(Math.floor(c / 6) % 6)},${level(c % 6)})`;
}

/** One captured screen (SGR escapes kept) as HTML spans. */
export function ansiHtml(text: string): string {
  let out = '';
  let open = false;
  const state: { fg?: string; bg?: string; bold?: boolean } = {};
  for (const part of text.split(/(\u001b\[[0-9;]*m)/)) {
    const sgr = /^\u001b\[([0-9;]*)m$/.exec(part);
    if (!sgr) {
      out += esc(part);
      continue;
    }
    const codes = (sgr[1] || '0').split(';').map(Number);
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i] as number;
      if (code === 0) {
        delete state.fg;
        delete state.bg;
        delete state.bold;
      } else if (code === 1) state.bold = true;
      else if (code === 22) delete state.bold;
      else if (code >= 30 && code <= 37) state.fg = BASE[code - 30];
      else if (code >= 90 && code <= 97) state.fg = BRIGHT[code - 90];
      else if (code >= 40 && code <= 47) state.bg = BASE[code - 40];
      else if (code === 39) delete state.fg;
      else if (code === 49) delete state.bg;
      else if ((code === 38 || code === 48) && codes[i + 1] === 5) {
        state[code === 38 ? 'fg' : 'bg'] = xterm256(codes[i + 2] ?? 0);
        i += 2;
      } else if ((code === 38 || code === 48) && codes[i + 1] === 2) {
        state[code === 38 ? 'fg' : 'bg'] = `rgb(${codes[i + 2]},${codes[i + 3]},${codes[i + 4]})`;
        i += 4;
      }
    }
    if (open) out += '</span>';
    out += `<span style="${state.fg ? `color:${state.fg};` : ''}${state.bg ? `background:${state.bg};` : ''}${state.bold ? 'font-weight:bold;' : ''}">`;
    open = true;
  }
  return open ? `${out}</span>` : out;
}

/** Renders the view's window of server `socket` to `docs/swarm.png` (when asked) and test-results/swarm.png; returns the test-results path, or undefined without Chromium. */
export async function screenshotSwarm(socket: string, window: string, docsPath: string): Promise<string | undefined> {
  const tmux = (args: string[]) => spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' }).stdout;
  const [width, height] = tmux(['display', '-p', '-t', window, '#{window_width} #{window_height}']).trim().split(' ').map(Number) as [number, number];
  const list = tmux(['list-panes', '-t', window, '-F', '#{pane_id}\t#{pane_left}\t#{pane_top}\t#{pane_width}\t#{pane_height}\t#{@gt_colour}\t#{@gt_title}'])
    .trim()
    .split('\n')
    .map((l) => l.split('\t'));
  const cell = { w: 8.4, h: 17 };
  const boxes = list.map(([id, left, top, w, h, colour, title]) => {
    const screen = tmux(['capture-pane', '-p', '-e', '-t', id as string]);
    const c = colour || '#5c5c58';
    const x = Number(left) * cell.w;
    const y = Number(top) * cell.h;
    // pane-border-status top: the title line sits on the border just above the pane.
    return `<div class="title" style="left:${x}px;top:${y - cell.h}px;width:${Number(w) * cell.w}px;border-bottom:2px solid ${c};color:${c}"> ${esc(title ?? '')} </div>
<pre style="left:${x}px;top:${y}px;width:${Number(w) * cell.w}px;height:${Number(h) * cell.h}px;border-left:2px solid ${c};border-right:2px solid ${c}">${ansiHtml(screen)}</pre>`;
  });
  const html = `<!doctype html><meta charset="utf-8"><style>
body{margin:0;background:#151514}
#w{position:relative;width:${width * cell.w + 8}px;height:${(height + 1) * cell.h}px;margin:8px;font:14px/17px 'DejaVu Sans Mono',monospace;color:#d7d7d2}
pre{position:absolute;margin:0;overflow:hidden;font:inherit;box-sizing:border-box;padding:0 4px}
.title{position:absolute;white-space:pre;overflow:hidden;font-weight:bold;box-sizing:border-box;height:${cell.h}px}
</style><div id="w" style="top:${cell.h}px">${boxes.join('\n')}</div>`;
  if (!existsSync('/usr/bin/chromium')) return undefined;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: Math.ceil(width * cell.w + 16), height: Math.ceil((height + 2) * cell.h + 16) } });
    await page.setContent(html);
    const path = join(ROOT, 'test-results', 'swarm.png');
    mkdirSync(dirname(path), { recursive: true });
    await page.screenshot({ path, fullPage: true });
    if (process.env.UPDATE_SCREENSHOTS === '1') copyFileSync(path, docsPath);
    return path;
  } finally {
    await browser.close();
  }
}
