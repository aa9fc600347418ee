/**
 * Memory kept in git (design §2.10, issue 15 §2): the home of the Mayor (and
 * of each crew member) is a git repository holding `MEMORY.md` (curated,
 * long-term) and `memory/YYYY-MM-DD.md` (daily logs, append-only). Every
 * change gt makes there is a commit by the agent's identity, so history and
 * rollback are git's.
 */
import { crewHome, lockFile } from '../../shared/paths.js';
import { validationError } from '../../shared/errors.js';
import { gitIdentityEnv, sessionName, type Identity } from '../agents/identity.js';
import type { Town } from '../town/town.js';

export const MEMORY_FILE = 'MEMORY.md';
export const LOG_DIR = 'memory';
/** Rolled-up weeks: `memory/weekly/YYYY-Www.md`. */
export const WEEKLY_DIR = `${LOG_DIR}/weekly`;
const DAY_FILE = /^(\d{4})-(\d{2})-(\d{2})\.md$/;

const MEMORY_TEMPLATE = `# Memory

Long-lived notes (curated). Daily notes go to memory/YYYY-MM-DD.md (\`gt memory add "…"\`); both are committed.
`;

/** Only the Mayor and crew members are long-lived enough to keep a memory. */
export function memoryHome(identity: Identity): string {
  if (identity.role === 'mayor') return 'mayor';
  if (identity.role === 'crew' && identity.rig && identity.name) return crewHome(identity.rig, identity.name);
  throw validationError(`${identity.address} keeps no memory`, 'memory belongs to the Mayor and crew members (mayor, <rig>/crew/<name>)');
}

/** A moment as a person reads it in a time zone ("local" = the machine's): its date and HH:MM. */
export function wallClock(iso: string, zone = 'local'): { date: string; time: string } {
  const parts = new Intl.DateTimeFormat('en-CA', {
    ...(zone === 'local' ? {} : { timeZone: zone }),
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(iso));
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '00';
  return { date: `${part('year')}-${part('month')}-${part('day')}`, time: `${part('hour')}:${part('minute')}` };
}

/** The day before a `YYYY-MM-DD` date. */
export function dayBefore(date: string): string {
  return new Date(Date.parse(`${date}T12:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
}

export const logFile = (date: string): string => `${LOG_DIR}/${date}.md`;

/**
 * Memory dates are the machine's local dates (TZ), everywhere: prime runs on
 * every session start without loading town.toml, and a log's name must not
 * depend on which command wrote it.
 */
export const MEMORY_ZONE = 'local';

/** What prime shows of an agent's memory, in bytes (README: "Heartbeat, memory and notifications"). */
export const PRIME_MEMORY_BUDGET = 8000;

/** The identity's home, created (a git repository with MEMORY.md) when missing; absolute path. */
export async function ensureHome(town: Town, identity: Identity): Promise<string> {
  const home = town.path(memoryHome(identity));
  const { files, git } = town.ports;
  files.mkdirp(`${home}/${LOG_DIR}`);
  if (!files.exists(`${home}/${MEMORY_FILE}`)) files.write(`${home}/${MEMORY_FILE}`, MEMORY_TEMPLATE);
  if (!files.exists(`${home}/.git`)) {
    await git.run(home, ['init', '-q', '-b', 'main']);
    await commitPaths(town, identity, home, [MEMORY_FILE], 'Memory home');
  }
  return home;
}

/**
 * Commits exactly these paths as the identity (`git commit -- <paths>`: what the
 * agent itself has staged stays staged and out of this commit). Returns the
 * commit, or undefined when nothing changed. One writer at a time per home.
 */
async function commitPaths(town: Town, identity: Identity, home: string, paths: string[], message: string): Promise<string | undefined> {
  const release = await town.ports.files.lock(town.path(lockFile(`memory-${sessionName(identity)}`)), { waitMs: 30_000 });
  try {
    const env = gitIdentityEnv(identity);
    await town.ports.git.run(home, ['add', '--', ...paths], { env });
    const changed = await town.ports.git.probe(home, ['diff', '--cached', '--quiet', '--', ...paths], { env });
    if (changed.code === 0) return undefined;
    await town.ports.git.run(home, ['commit', '-q', '--no-verify', '-m', message, '--', ...paths], { env });
    return (await town.ports.git.run(home, ['rev-parse', 'HEAD'])).trim();
  } finally {
    release();
  }
}

export interface MemoryEntry {
  agent: string;
  file: string;
  line: string;
  commit?: string;
}

/**
 * Appends one entry to today's log (`- HH:MM text`; further lines indented)
 * and commits it. Append-only: nothing before it is rewritten.
 */
export async function appendMemoryLog(town: Town, identity: Identity, text: string, options: { at?: string } = {}): Promise<MemoryEntry> {
  const body = text.trim();
  if (body === '') throw validationError('a memory entry needs text', 'gt memory add "what to remember"');
  const home = await ensureHome(town, identity);
  const { date, time } = wallClock(options.at ?? town.ports.now(), MEMORY_ZONE);
  const file = logFile(date);
  const path = `${home}/${file}`;
  const [first, ...rest] = body.split('\n');
  const line = [`- ${time} ${first ?? ''}`, ...rest.map((l) => `  ${l}`)].join('\n');
  const current = town.ports.files.read(path);
  if (current === undefined) town.ports.files.write(path, `# ${date}\n\n${line}\n`);
  else town.ports.files.append(path, `${current.endsWith('\n') || current === '' ? '' : '\n'}${line}\n`);
  const commit = await commitPaths(town, identity, home, [file], `memory ${date}: ${(first ?? '').slice(0, 60)}`);
  return { agent: identity.address, file, line, ...(commit ? { commit } : {}) };
}

/** Appends a line to MEMORY.md (curated, long-term memory) and commits it. */
export async function appendLongTermMemory(town: Town, identity: Identity, text: string): Promise<MemoryEntry> {
  const body = text.trim();
  if (body === '') throw validationError('a memory entry needs text', 'gt memory add --long-term "what to keep"');
  const home = await ensureHome(town, identity);
  const path = `${home}/${MEMORY_FILE}`;
  const current = town.ports.files.read(path) ?? '';
  const line = `- ${body.replace(/\n/g, '\n  ')}`;
  town.ports.files.write(path, `${current}${current === '' || current.endsWith('\n') ? '' : '\n'}${line}\n`);
  const commit = await commitPaths(town, identity, home, [MEMORY_FILE], `MEMORY.md: ${body.split('\n')[0]?.slice(0, 60) ?? ''}`);
  return { agent: identity.address, file: MEMORY_FILE, line, ...(commit ? { commit } : {}) };
}

/** The memory files of a home, newest log first: MEMORY.md, daily logs, weekly roll-ups. */
export function memoryFiles(town: Town, identity: Identity): string[] {
  const home = town.path(memoryHome(identity));
  const files = town.ports.files;
  const days = files
    .list(`${home}/${LOG_DIR}`)
    .filter((f) => DAY_FILE.test(f))
    .sort()
    .reverse()
    .map((f) => `${LOG_DIR}/${f}`);
  const weeks = files
    .list(`${home}/${WEEKLY_DIR}`)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .reverse()
    .map((f) => `${WEEKLY_DIR}/${f}`);
  return [...(files.exists(`${home}/${MEMORY_FILE}`) ? [MEMORY_FILE] : []), ...days, ...weeks];
}

export interface MemoryView {
  agent: string;
  home: string;
  files: Array<{ file: string; text: string }>;
}

/** MEMORY.md and the logs of `days` days back from today (1 = today only). */
export function showMemory(town: Town, identity: Identity, options: { days?: number; date?: string } = {}): MemoryView {
  const home = town.path(memoryHome(identity));
  const read = (file: string) => town.ports.files.read(`${home}/${file}`);
  const out: MemoryView['files'] = [];
  const longTerm = read(MEMORY_FILE);
  if (longTerm !== undefined && !options.date) out.push({ file: MEMORY_FILE, text: longTerm });
  let date = options.date ?? wallClock(town.ports.now(), MEMORY_ZONE).date;
  for (let i = 0; i < (options.date ? 1 : (options.days ?? 2)); i++, date = dayBefore(date)) {
    const text = read(logFile(date));
    if (text !== undefined) out.push({ file: logFile(date), text });
  }
  return { agent: identity.address, home, files: out };
}

/**
 * What prime shows: MEMORY.md, then today's and yesterday's logs, within
 * `budget` bytes in all (8,000). A log
 * that does not fit keeps its newest lines: they matter most.
 */
export function primeMemory(town: Town, identity: Identity, budget = PRIME_MEMORY_BUDGET): string {
  if (budget <= 0) return '';
  const view = showMemory(town, identity, { days: 2 });
  const parts: string[] = [];
  let left = budget;
  for (const { file, text } of view.files) {
    const body = text.trim();
    if (body === '' || left <= 0) continue;
    const header = `### ${file}`;
    const room = left - header.length - 2;
    if (room <= 40) break;
    let shown = body;
    if (Buffer.byteLength(body) > room) {
      // Newest lines last in a log: keep the tail; MEMORY.md keeps its head.
      shown =
        file === MEMORY_FILE
          ? `${body.slice(0, room - 40)}\n… (cut: gt memory show)`
          : `… (older lines: gt memory show)\n${body.slice(body.length - (room - 40))}`;
    }
    parts.push(`${header}\n${shown}`);
    left -= Buffer.byteLength(header) + Buffer.byteLength(shown) + 2;
  }
  return parts.join('\n\n');
}

export interface SearchHit {
  file: string;
  line: number;
  text: string;
}

/**
 * Full-text search over MEMORY.md, the daily logs and the weekly roll-ups:
 * every word of the query must appear in the line (case-insensitive); newest
 * files first. A year of logs is ~400 small files read once: milliseconds
 * (bench/memory.ts).
 */
export function searchMemory(town: Town, identity: Identity, query: string, options: { limit?: number } = {}): SearchHit[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) throw validationError('an empty search', 'gt memory search "words to find"');
  const home = town.path(memoryHome(identity));
  const limit = options.limit ?? 50;
  const hits: SearchHit[] = [];
  for (const file of memoryFiles(town, identity)) {
    const text = town.ports.files.read(`${home}/${file}`) ?? '';
    const lower = text.toLowerCase();
    // Most files hold no match at all: one scan of the whole file decides before splitting it into lines.
    if (!words.every((w) => lower.includes(w))) continue;
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      const l = line.toLowerCase();
      if (words.every((w) => l.includes(w))) {
        hits.push({ file, line: i + 1, text: line });
        if (hits.length >= limit) return hits;
      }
    }
  }
  return hits;
}

/** The ISO week of a date: `2026-W48`. */
export function isoWeek(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  // The Thursday of this date's week decides its year (ISO 8601).
  d.setUTCDate(d.getUTCDate() + 4 - (d.getUTCDay() || 7));
  const week = Math.ceil(((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

export interface Rollup {
  agent: string;
  weeks: Array<{ week: string; file: string; days: string[] }>;
  commit?: string;
}

/**
 * Rolls daily logs older than `afterDays` into weekly files, deterministically:
 * each week's logs are joined under one heading per day, in order, nothing
 * paraphrased — no tokens spent, nothing a model could drop, and git keeps
 * the daily files in history. (A model-written summary can be a HEARTBEAT.md
 * task on top of this; the README says why this part is not one.)
 */
export async function rollupMemory(town: Town, identity: Identity, afterDays: number, options: { dryRun?: boolean } = {}): Promise<Rollup> {
  const result: Rollup = { agent: identity.address, weeks: [] };
  if (afterDays <= 0) return result;
  const home = town.path(memoryHome(identity));
  const files = town.ports.files;
  let cutoff = wallClock(town.ports.now(), MEMORY_ZONE).date;
  for (let i = 0; i < afterDays; i++) cutoff = dayBefore(cutoff);
  const old = files
    .list(`${home}/${LOG_DIR}`)
    .filter((f) => DAY_FILE.test(f) && f.slice(0, 10) <= cutoff)
    .sort();
  if (old.length === 0) return result;
  const byWeek = new Map<string, string[]>();
  for (const f of old) {
    const week = isoWeek(f.slice(0, 10));
    byWeek.set(week, [...(byWeek.get(week) ?? []), f]);
  }
  if (options.dryRun) {
    for (const [week, days] of byWeek) result.weeks.push({ week, file: `${WEEKLY_DIR}/${week}.md`, days: days.map((d) => d.slice(0, 10)) });
    return result;
  }
  const touched: string[] = [];
  for (const [week, days] of byWeek) {
    const file = `${WEEKLY_DIR}/${week}.md`;
    const path = `${home}/${file}`;
    let text = files.read(path) ?? `# Week ${week}\n`;
    for (const day of days) {
      const body = (files.read(`${home}/${LOG_DIR}/${day}`) ?? '').replace(/^# .*\n+/, '').trimEnd();
      text += `\n## ${day.slice(0, 10)}\n\n${body}\n`;
      files.remove(`${home}/${LOG_DIR}/${day}`);
      touched.push(`${LOG_DIR}/${day}`);
    }
    files.write(path, text);
    touched.push(file);
    result.weeks.push({ week, file, days: days.map((d) => d.slice(0, 10)) });
  }
  const commit = await commitPaths(town, identity, home, touched, `memory: roll ${old.length} daily log(s) into ${byWeek.size} week(s)`);
  return commit ? { ...result, commit } : result;
}

/** Every identity with a memory home on disk: the Mayor, and each crew member whose home exists. */
export async function memoryOwners(town: Town): Promise<Identity[]> {
  const owners: Identity[] = [{ address: 'mayor', role: 'mayor' }];
  for (const agent of await town.agents()) {
    if (agent.role !== 'crew' || !agent.rig || !agent.name) continue;
    const identity: Identity = { address: agent.address, role: 'crew', rig: agent.rig, name: agent.name };
    if (town.ports.files.exists(town.path(memoryHome(identity), '.git'))) owners.push(identity);
  }
  return owners;
}
