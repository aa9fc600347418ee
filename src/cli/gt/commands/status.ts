import type { Command } from 'commander';
import { townDaemon } from '../../../app/index.js';
import { statusLines, townStatus, type StatusLine, type Tone, type TownStatus } from '../../../core/town/status.js';
import type { Town } from '../../../core/town/town.js';
import { parseDuration } from '../../../shared/duration.js';
import { usageError } from '../../../shared/errors.js';
import { visibleLine } from '../../../shared/text.js';
import type { Style } from '../../output.js';
import { action, type GtContext } from '../context.js';

/** A line of spans as text no wider than `width` columns, coloured by tone (style() is plain off a TTY or with NO_COLOR). */
function renderLine(line: StatusLine, width: number, s: Style): string {
  const paint: Record<Tone, (text: string) => string> = { ok: s.green, warn: s.yellow, bad: s.red, dim: s.dim, strong: s.bold };
  let room = width;
  let out = '';
  for (const { text, tone } of line) {
    if (room <= 0) break;
    // Titles and paths come from the ledger and the disk: control characters are shown, never sent.
    const visible = [...visibleLine(text)];
    const cut = visible.length > room ? `${visible.slice(0, Math.max(0, room - 1)).join('')}…` : visible.join('');
    room -= [...cut].length;
    out += tone ? paint[tone](cut) : cut;
  }
  return out;
}

function screen(status: TownStatus, width: number, s: Style): string[] {
  return statusLines(status).map((line) => renderLine(line, width, s));
}

async function collect(ctx: GtContext, town: Town): Promise<TownStatus> {
  return townStatus({ town, daemon: townDaemon(town.root, ctx.io.env).status() });
}

const ESC = '\u001b[';

/**
 * Redraws the status in place until q, Ctrl-C or SIGTERM: the alternate
 * screen (the person's scrollback is left as it was), the cursor home, each
 * line cleared to its end, the rest of the screen cleared — no scrolling.
 * Off a terminal each refresh is printed after the last (JSON: one per line).
 */
async function watch(ctx: GtContext, town: Town, intervalMs: number): Promise<void> {
  const tty = ctx.io.stdoutIsTTY && !ctx.json;
  const write = (text: string) => ctx.io.stdout(text);
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const stdin = process.stdin;
  const onKey = (data: Buffer) => {
    const key = data.toString('utf8');
    // q, Ctrl-C (raw mode turns it into a byte instead of SIGINT), Escape.
    if (key === 'q' || key === 'Q' || key === '\u0003' || key === '\u001b') stop();
  };
  const keys = tty && stdin.isTTY;
  if (keys) {
    stdin.setRawMode(true);
    stdin.on('data', onKey);
    stdin.resume();
  }
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (tty) write(`${ESC}?1049h${ESC}?25l`);
  try {
    for (let done = false; !done;) {
      town.reloadConfig();
      const status = await collect(ctx, town);
      if (ctx.json) write(`${JSON.stringify({ schema_version: 1, ...status })}\n`);
      else if (!tty) write(`${screen(status, 80, ctx.style).join('\n')}\n\n`);
      else {
        const width = process.stdout.columns || 80;
        const rows = process.stdout.rows || 24;
        const footer = ctx.style.dim(`every ${intervalMs / 1000}s · ${status.at.slice(11, 19)} UTC · q to quit`);
        const lines = [...screen(status, width, ctx.style).slice(0, rows - 2), '', footer];
        write(`${ESC}H${lines.map((l) => `${l}${ESC}K`).join('\n')}${ESC}J`);
      }
      let timer: NodeJS.Timeout | undefined;
      done = await Promise.race([stopped.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), intervalMs)))]);
      clearTimeout(timer);
    }
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    if (keys) {
      stdin.removeListener('data', onKey);
      stdin.setRawMode(false);
      stdin.pause();
    }
    if (tty) write(`${ESC}?25h${ESC}?1049l`);
  }
}

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('status')
    .description('The whole town on one screen: daemon, rigs, agents by state, hooked work, scheduler queue, convoys, today’s cost, beads')
    .option('--watch', 'redraw in place every --interval until q or Ctrl-C')
    .option('--interval <duration>', 'how often --watch refreshes', '2s')
    .option('--json', 'machine-readable output (with --watch: one JSON object per line per refresh)')
    .addHelpText(
      'after',
      `
Daemon is running, dead (its pidfile outlived it: gt up recovers it) or stopped.
Agents counts states as gt agents shows them and names those that need you (dead or
stalled with work on their hook, waiting for a permission). Colour only on a terminal,
never with NO_COLOR; lines fit the terminal (80 columns off one).

Examples:
  gt status
  gt status --watch               # q or Ctrl-C to leave
  gt status --watch --interval 5s
  gt status --json | jq .agents.by_state`,
    )
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as { watch?: boolean; interval: string };
        let intervalMs: number;
        try {
          intervalMs = parseDuration(options.interval);
        } catch {
          throw usageError(`--interval ${JSON.stringify(options.interval)} is not a duration`, 'use e.g. 2s, 500ms or 1m');
        }
        if (intervalMs < 200) throw usageError('--interval must be at least 200ms');
        const town = await ctx.town();
        if (options.watch) return watch(ctx, town, intervalMs);
        const status = await collect(ctx, town);
        ctx.emit(status, () => screen(status, ctx.io.stdoutIsTTY ? process.stdout.columns || 80 : 80, ctx.style).join('\n'));
      }),
    );
}
