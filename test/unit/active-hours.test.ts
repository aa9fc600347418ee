import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { activeHoursProblems, describeWindow, isWithinWindow, nextWindowEnd, nextWindowStart, parseActiveHours } from '../../src/shared/active-hours.js';
import { activeHoursSchema, parseConfig } from '../../src/core/town/config.js';
import { GtError } from '../../src/shared/errors.js';

const at = (iso: string) => new Date(iso);

describe('active hours: a daily window of wall-clock time', () => {
  it('holds from start (inclusive) to end (exclusive) in its zone', () => {
    const day = parseActiveHours({ start: '08:00', end: '18:30', timezone: 'UTC' });
    expect(isWithinWindow(day, at('2026-06-01T07:59:59Z'))).toBe(false);
    expect(isWithinWindow(day, at('2026-06-01T08:00:00Z'))).toBe(true);
    expect(isWithinWindow(day, at('2026-06-01T18:29:59Z'))).toBe(true);
    expect(isWithinWindow(day, at('2026-06-01T18:30:00Z'))).toBe(false);
  });

  it('allows "24:00" as the end: the last minute of the day is inside, midnight is not', () => {
    const day = parseActiveHours({ start: '08:00', end: '24:00', timezone: 'UTC' });
    expect(isWithinWindow(day, at('2026-06-01T23:59:30Z'))).toBe(true);
    expect(isWithinWindow(day, at('2026-06-02T00:00:00Z'))).toBe(false);
    const allDay = parseActiveHours({ start: '00:00', end: '24:00', timezone: 'UTC' });
    expect(isWithinWindow(allDay, at('2026-06-02T00:00:00Z'))).toBe(true);
    expect(isWithinWindow(allDay, at('2026-06-02T23:59:59Z'))).toBe(true);
  });

  it('crosses midnight when end is before start', () => {
    const night = parseActiveHours({ start: '22:00', end: '07:00', timezone: 'UTC' });
    expect(isWithinWindow(night, at('2026-06-01T21:59:00Z'))).toBe(false);
    expect(isWithinWindow(night, at('2026-06-01T22:00:00Z'))).toBe(true);
    expect(isWithinWindow(night, at('2026-06-02T03:00:00Z'))).toBe(true);
    expect(isWithinWindow(night, at('2026-06-02T07:00:00Z'))).toBe(false);
    expect(isWithinWindow(night, at('2026-06-02T12:00:00Z'))).toBe(false);
  });

  it('reads the clock of an IANA zone, following its DST (the window stays on the wall clock)', () => {
    const berlin = parseActiveHours({ start: '08:00', end: '09:00', timezone: 'Europe/Berlin' });
    // Winter: UTC+1, so 08:00 Berlin is 07:00Z.
    expect(isWithinWindow(berlin, at('2026-01-15T07:00:00Z'))).toBe(true);
    expect(isWithinWindow(berlin, at('2026-01-15T08:00:00Z'))).toBe(false);
    // Summer: UTC+2, so 08:00 Berlin is 06:00Z.
    expect(isWithinWindow(berlin, at('2026-07-15T06:00:00Z'))).toBe(true);
    expect(isWithinWindow(berlin, at('2026-07-15T07:00:00Z'))).toBe(false);
    const tokyo = parseActiveHours({ start: '09:00', end: '17:00', timezone: 'Asia/Tokyo' });
    expect(isWithinWindow(tokyo, at('2026-07-15T00:00:00Z'))).toBe(true);
    expect(isWithinWindow(tokyo, at('2026-07-15T08:00:00Z'))).toBe(false);
  });

  it('"local" is the process zone (TZ); the default when no zone is given', () => {
    const window = parseActiveHours({ start: '08:00', end: '09:00' });
    expect(window.timezone).toBe('local');
    const eight = new Date(2026, 5, 1, 8, 30);
    expect(isWithinWindow(window, eight)).toBe(true);
    expect(isWithinWindow(window, new Date(2026, 5, 1, 9, 0))).toBe(false);
  });

  it('finds when the window next opens, across midnight and across a DST change', () => {
    const day = parseActiveHours({ start: '08:00', end: '24:00', timezone: 'UTC' });
    expect(nextWindowStart(day, at('2026-06-01T03:17:42Z')).toISOString()).toBe('2026-06-01T08:00:00.000Z');
    expect(nextWindowStart(day, at('2026-06-01T12:00:00Z')).toISOString()).toBe('2026-06-01T12:00:00.000Z');
    // Europe/Berlin springs forward on 2026-03-29 at 02:00 → 03:00: the window opens at 08:00 CEST = 06:00Z, not 07:00Z.
    const berlin = parseActiveHours({ start: '08:00', end: '20:00', timezone: 'Europe/Berlin' });
    expect(nextWindowStart(berlin, at('2026-03-28T22:00:00Z')).toISOString()).toBe('2026-03-29T06:00:00.000Z');
    // A start inside the skipped hour (02:30 does not exist that night) opens at the first minute after the gap.
    const gap = parseActiveHours({ start: '02:30', end: '05:00', timezone: 'Europe/Berlin' });
    expect(nextWindowStart(gap, at('2026-03-28T23:30:00Z')).toISOString()).toBe('2026-03-29T01:00:00.000Z');
    // New York falls back on 2026-11-01 at 02:00 → 01:00: 09:00 EST is 14:00Z.
    const ny = parseActiveHours({ start: '09:00', end: '17:00', timezone: 'America/New_York' });
    expect(nextWindowStart(ny, at('2026-11-01T03:00:00Z')).toISOString()).toBe('2026-11-01T14:00:00.000Z');
  });

  it('finds when a window (quiet hours) next ends', () => {
    const quiet = parseActiveHours({ start: '22:00', end: '07:00', timezone: 'UTC' });
    expect(nextWindowEnd(quiet, at('2026-06-01T23:10:00Z')).toISOString()).toBe('2026-06-02T07:00:00.000Z');
    expect(nextWindowEnd(quiet, at('2026-06-02T12:00:00Z')).toISOString()).toBe('2026-06-02T12:00:00.000Z');
    const evening = parseActiveHours({ start: '18:00', end: '24:00', timezone: 'UTC' });
    expect(nextWindowEnd(evening, at('2026-06-01T19:00:00Z')).toISOString()).toBe('2026-06-02T00:00:00.000Z');
  });

  it('describes itself for status lines', () => {
    expect(describeWindow(parseActiveHours({ start: '08:00', end: '24:00', timezone: 'Europe/Paris' }))).toBe('08:00–24:00 Europe/Paris');
  });

  it('names the key of every problem: bad times, 24:00 as a start, an empty window, an unknown zone', () => {
    expect(activeHoursProblems({ start: '8am', end: '25:00', timezone: 'Mars/Olympus' }).map((p) => p.key)).toEqual(['start', 'end', 'timezone']);
    expect(activeHoursProblems({ start: '24:00', end: '08:00' }).map((p) => p.key)).toEqual(['start']);
    expect(activeHoursProblems({ start: '09:00', end: '09:00' })[0]?.message).toMatch(/empty/);
    expect(activeHoursProblems({ start: '00:00', end: '23:60' }).map((p) => p.key)).toEqual(['end']);
    expect(activeHoursProblems({ start: '00:00', end: '24:00', timezone: 'Asia/Kolkata' })).toEqual([]);
    expect(() => parseActiveHours({ start: '08:00', end: '24:00', timezone: 'Nowhere/Else' }, 'notify.quiet_hours')).toThrow(
      /notify\.quiet_hours\.timezone: unknown time zone "Nowhere\/Else"/,
    );
  });

  it('in a config file, errors name the file and the full key', () => {
    const schema = z.strictObject({ heartbeat: z.strictObject({ active_hours: activeHoursSchema }) });
    const read = (text: string) => parseConfig(schema, text, '/town/town.toml');
    expect(read('[heartbeat]\nactive_hours = { start = "08:00", end = "24:00" }\n').heartbeat.active_hours.timezone).toBe('local');
    const bad = (text: string) => {
      try {
        read(text);
      } catch (error) {
        expect(error).toBeInstanceOf(GtError);
        return (error as GtError).message;
      }
      throw new Error('accepted');
    };
    expect(bad('[heartbeat]\nactive_hours = { start = "08:00", end = "24:00", timezone = "Mars/Base" }\n')).toMatch(
      /^\/town\/town\.toml: key heartbeat\.active_hours\.timezone: unknown time zone "Mars\/Base"/,
    );
    expect(bad('[heartbeat]\nactive_hours = { start = "8", end = "24:00" }\n')).toMatch(/key heartbeat\.active_hours\.start: "8" is not a time of day/);
    expect(bad('[heartbeat]\nactive_hours = { start = "08:00", end = "24:00", tz = "UTC" }\n')).toMatch(/key heartbeat\.active_hours: unknown key\(s\) "tz"/);
  });
});
