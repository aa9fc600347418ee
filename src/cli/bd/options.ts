/**
 * Parsers for flag values shared by several commands. Each error names the flag.
 */
import { parsePriority, parseMetadata } from '../../core/beads/rules.js';
import { validationError } from '../../shared/errors.js';
import { parseWhen } from '../../shared/time.js';

export const collect = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
];

export function priorityOption(value: string | undefined): number | undefined {
  return value === undefined ? undefined : parsePriority(value);
}

export function prioritiesOption(values: string[] | undefined): number[] | undefined {
  return values?.length ? values.map(parsePriority) : undefined;
}

export function whenOption(value: string | undefined, flag: string): string | undefined | null {
  if (value === undefined) return undefined;
  if (value.trim() === '') return null;
  const t = parseWhen(value);
  if (t === undefined)
    throw validationError(`invalid ${flag} format: ${JSON.stringify(value)}`, `use +6h, +2d, tomorrow, 2025-01-15, 2025-01-15 14:00 or RFC3339`);
  return t;
}

export function estimateOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw validationError(`estimate must be a non-negative whole number of minutes, got ${JSON.stringify(value)}`);
  return n;
}

export function metadataOption(value: string | undefined, readFile: (path: string) => string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (value.startsWith('@')) return parseMetadata(readFile(value.slice(1)), `--metadata file ${value.slice(1)}`);
  return parseMetadata(value);
}

export function keyValues(values: string[] | undefined, flag: string): Record<string, string> | undefined {
  if (!values?.length) return undefined;
  const out: Record<string, string> = {};
  for (const pair of values) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw validationError(`${flag} expects key=value, got ${JSON.stringify(pair)}`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export function limitOption(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw validationError(`--limit must be a whole number (0 = no limit), got ${JSON.stringify(value)}`);
  return n;
}
