/**
 * A daily window of wall-clock time, `{ start: "08:00", end: "24:00", timezone: "local" }`:
 * the heartbeat's `active_hours` (OpenClaw's `activeHours`, research/peers.md §3) and the
 * notifications' quiet hours. Times are read in the window's zone through Intl, so a DST
 * change moves the window with the clock on the wall, never by an hour. `end` may be
 * "24:00" (midnight at the end of the day); `end` before `start` is a window that crosses
 * midnight (`22:00`–`07:00`). `timezone` is `local` (the process's zone, TZ included), `UTC`
 * or an IANA zone such as `Europe/Berlin`.
 */
import { validationError } from './errors.js';

/** What a person writes in town.toml. */
export interface ActiveHoursInput {
  start: string;
  end: string;
  timezone?: string | undefined;
}

/** A validated window: minutes since midnight, start in [0, 1440), end in (0, 1440], never equal. */
export interface DailyWindow {
  readonly start: number;
  readonly end: number;
  /** `local` or a zone Intl knows. */
  readonly timezone: string;
}

/** One thing wrong with an input, by the key it belongs to (the config layer adds file and table). */
export interface ActiveHoursProblem {
  key: 'start' | 'end' | 'timezone';
  message: string;
}

const CLOCK = /^(\d{2}):(\d{2})$/;
const MINUTES_PER_DAY = 1440;

function minuteOfDay(text: string, allowEndOfDay: boolean): number | undefined {
  const match = CLOCK.exec(text.trim());
  if (!match) return undefined;
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  if (hours === 24 && minutes === 0 && allowEndOfDay) return MINUTES_PER_DAY;
  if (hours > 23 || minutes > 59) return undefined;
  return hours * 60 + minutes;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** One formatter per named zone: building one costs far more than using it, and the daemon asks every tick. */
function formatter(timezone: string): Intl.DateTimeFormat {
  let found = formatters.get(timezone);
  if (found === undefined) {
    found = new Intl.DateTimeFormat('en-US', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: timezone });
    formatters.set(timezone, found);
  }
  return found;
}

/** True when Intl knows the zone (`local` always). */
export function isKnownTimezone(timezone: string): boolean {
  if (timezone === 'local') return true;
  try {
    formatter(timezone);
    return true;
  } catch {
    return false;
  }
}

/** Everything wrong with an input; empty when it is a valid window. */
export function activeHoursProblems(input: ActiveHoursInput): ActiveHoursProblem[] {
  const problems: ActiveHoursProblem[] = [];
  const start = minuteOfDay(input.start, false);
  const end = minuteOfDay(input.end, true);
  if (start === undefined) problems.push({ key: 'start', message: `${JSON.stringify(input.start)} is not a time of day: use "HH:MM", 00:00–23:59` });
  if (end === undefined) problems.push({ key: 'end', message: `${JSON.stringify(input.end)} is not a time of day: use "HH:MM", 00:00–24:00` });
  if (start !== undefined && end !== undefined && start === end) {
    problems.push({ key: 'end', message: `the window ${input.start}–${input.end} is empty: for all day use start "00:00", end "24:00"` });
  }
  const timezone = input.timezone ?? 'local';
  if (!isKnownTimezone(timezone)) {
    problems.push({ key: 'timezone', message: `unknown time zone ${JSON.stringify(timezone)}: use "local", "UTC" or an IANA zone such as "Europe/Berlin"` });
  }
  return problems;
}

/**
 * A validated window, or a validation error naming the key (`where` prefixes it,
 * e.g. `heartbeat.active_hours`). Config files are checked earlier by their schema;
 * this is for inputs that come from elsewhere.
 */
export function parseActiveHours(input: ActiveHoursInput, where = 'active_hours'): DailyWindow {
  const [problem] = activeHoursProblems(input);
  if (problem !== undefined) throw validationError(`${where}.${problem.key}: ${problem.message}`);
  return { start: minuteOfDay(input.start, false) as number, end: minuteOfDay(input.end, true) as number, timezone: input.timezone ?? 'local' };
}

/** The wall-clock minute of the day at an instant, in the window's zone. */
export function wallMinute(timezone: string, at: Date): number {
  // The process's zone as it is now (TZ may change at run time), with its DST rules.
  if (timezone === 'local') return at.getHours() * 60 + at.getMinutes();
  let hour = 0;
  let minute = 0;
  for (const part of formatter(timezone).formatToParts(at)) {
    if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return (hour % 24) * 60 + minute;
}

/** True when the instant falls inside the window (start inclusive, end exclusive). */
export function isWithinWindow(window: DailyWindow, at: Date = new Date()): boolean {
  const minute = wallMinute(window.timezone, at);
  if (window.start < window.end) return minute >= window.start && minute < window.end;
  return minute >= window.start || minute < window.end;
}

const MINUTE_MS = 60_000;

/**
 * The first instant at or after `from` inside the window (`from` itself when it is
 * inside): when held work may go. The clock's distance to `start` is the first guess;
 * a DST change between now and then (or a start that falls in the skipped hour) is
 * found by checking the guess and, if it is off, walking minute by minute (at most a
 * day and a bit, which only DST nights need).
 */
export function nextWindowStart(window: DailyWindow, from: Date = new Date()): Date {
  if (isWithinWindow(window, from)) return from;
  const top = new Date(Math.floor(from.getTime() / MINUTE_MS) * MINUTE_MS);
  const ahead = (window.start - wallMinute(window.timezone, top) + MINUTES_PER_DAY) % MINUTES_PER_DAY;
  const guess = new Date(top.getTime() + ahead * MINUTE_MS);
  if (isWithinWindow(window, guess) && !isWithinWindow(window, new Date(guess.getTime() - MINUTE_MS))) return guess;
  for (let at = top.getTime() + MINUTE_MS; at <= top.getTime() + 26 * 60 * MINUTE_MS; at += MINUTE_MS) {
    if (isWithinWindow(window, new Date(at))) return new Date(at);
  }
  return guess;
}

function clock(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/** `08:00–24:00 local`, for status lines. */
export function describeWindow(window: DailyWindow): string {
  return `${clock(window.start)}–${clock(window.end)} ${window.timezone}`;
}

/**
 * The first instant at or after `from` outside the window (`from` itself when it is
 * outside): when something held for quiet hours may go. A window that covers the whole
 * day never ends; a day from `from` is returned, so a caller looks again then.
 */
export function nextWindowEnd(window: DailyWindow, from: Date = new Date()): Date {
  if (!isWithinWindow(window, from)) return from;
  if (window.start === 0 && window.end === MINUTES_PER_DAY) return new Date(from.getTime() + MINUTES_PER_DAY * MINUTE_MS);
  // The complement is a window too: from this one's end to its start.
  const outside: DailyWindow = { start: window.end % MINUTES_PER_DAY, end: window.start === 0 ? MINUTES_PER_DAY : window.start, timezone: window.timezone };
  return nextWindowStart(outside, from);
}
