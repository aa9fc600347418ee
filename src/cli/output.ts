/**
 * Rendering shared by every command: results on stdout (text or --json),
 * progress and errors on stderr, colour only on a TTY and never with NO_COLOR.
 */
import { writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { GtError, errorMessage, type ErrorKind } from '../shared/errors.js';
import { redactSecrets } from '../shared/secrets.js';
import { visibleLine } from '../shared/text.js';

export interface Io {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdoutIsTTY: boolean;
}

export function processIo(env: NodeJS.ProcessEnv = process.env): Io {
  let tty: boolean | undefined;
  return {
    cwd: process.cwd(),
    env,
    stdout: fdWriter(1),
    stderr: fdWriter(2),
    // Asked only when colour is in question: node:tty loads node:net.
    get stdoutIsTTY() {
      tty ??= isatty(1);
      return tty;
    },
  };
}

/**
 * Writes straight to a file descriptor. Touching process.stdout or
 * process.stderr builds a stream (a net.Socket for the pipe a hook's output
 * goes to), which loads some 25 built-in modules: ~3 ms and ~2 MB on every
 * start, measured on `bd ready`. Their writes are synchronous for files,
 * pipes and terminals on Linux and macOS anyway, so the order of output is
 * the same. A descriptor opened non-blocking by the parent (EAGAIN) hands the
 * rest to the stream, which waits for it.
 */
function fdWriter(fd: 1 | 2): (text: string) => void {
  let stream: NodeJS.WriteStream | undefined;
  return (text) => {
    if (stream) {
      stream.write(text);
      return;
    }
    let data = Buffer.from(text);
    try {
      while (data.length > 0) data = data.subarray(writeSync(fd, data));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // `bd export | head` closes the pipe early: that is the reader's choice, not an error.
      if (code === 'EPIPE') {
        if (fd === 1) process.exit(0);
        return;
      }
      if (code !== 'EAGAIN') throw error;
      stream = fd === 1 ? process.stdout : process.stderr;
      if (fd === 1) stream.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' ? process.exit(0) : undefined));
      stream.write(data);
    }
  };
}

export interface Style {
  bold: (s: string) => string;
  dim: (s: string) => string;
  red: (s: string) => string;
  green: (s: string) => string;
  yellow: (s: string) => string;
  cyan: (s: string) => string;
}

const plain = (s: string) => s;
const sgr = (code: string) => (s: string) => `\u001b[${code}m${s}\u001b[0m`;

export function style(io: Io): Style {
  // no-color.org: NO_COLOR set to anything but the empty string turns colour off.
  const on = !io.env.NO_COLOR && io.env.TERM !== 'dumb' && io.stdoutIsTTY;
  if (!on) return { bold: plain, dim: plain, red: plain, green: plain, yellow: plain, cyan: plain };
  return { bold: sgr('1'), dim: sgr('2'), red: sgr('31'), green: sgr('32'), yellow: sgr('33'), cyan: sgr('36') };
}

/** Beads' JSON conventions: arrays raw, single objects carry schema_version, 2-space indent. Known secrets are redacted (shared/secrets.ts). */
export function renderJson(data: unknown): string {
  const value = data !== null && typeof data === 'object' && !Array.isArray(data) ? { schema_version: 1, ...data } : data;
  return `${redactSecrets(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? Number(v) : v), 2))}\n`;
}

const CODES: Record<ErrorKind, string> = {
  usage: 'usage',
  validation: 'validation',
  not_found: 'not_found',
  ambiguous: 'ambiguous',
  conflict: 'conflict',
  schema: 'schema',
  external: 'external',
  io: 'io',
  internal: 'internal',
};

/** Prints an error the way a person (or with --json, a script) can act on. */
export function reportError(io: Io, error: unknown, json: boolean): void {
  const known = error instanceof GtError;
  // A failing git command names its URL, a failing gate its output: no secret in either goes to the terminal.
  const message = redactSecrets(known ? error.message : `unexpected error: ${errorMessage(error)}`);
  if (json) {
    const body: Record<string, unknown> = { schema_version: 1, error: message, code: known ? CODES[error.kind] : 'internal' };
    if (known && error.hint) body.hint = redactSecrets(error.hint);
    io.stderr(`${JSON.stringify(body, null, 2)}\n`);
    return;
  }
  io.stderr(`Error: ${message}\n`);
  if (known && error.hint) io.stderr(`Hint: ${redactSecrets(error.hint)}\n`);
  const debug = io.env.GT_DEBUG === '1' || io.env.BD_DEBUG === '1';
  if ((!known || debug) && error instanceof Error && error.stack)
    io.stderr(`${debug ? redactSecrets(error.stack) : 'Run with GT_DEBUG=1 for the stack trace.'}\n`);
}

/** The colour codes style() writes: the only escape sequences a table cell keeps. */
const OWN_SGR = /(\u001b\[(?:0|1|2|31|32|33|36)m)/;

/**
 * Pads columns for a plain table; stable widths, no colour codes counted. Any
 * other control character in a cell is shown, not sent (shared/text.ts).
 */
export function table(cells: string[][]): string {
  const rows = cells.map((row) =>
    row.map((cell) =>
      cell
        .split(OWN_SGR)
        .map((part, i) => (i % 2 === 1 ? part : visibleLine(part)))
        .join(''),
    ),
  );
  const widths: number[] = [];
  const visible = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '').length;
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(cell))));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visible(cell))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
