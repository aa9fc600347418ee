/**
 * One error type for everything gt reports to a person. Its kind decides the exit
 * code (design §5); its message says what was wrong, and `hint` says what to do.
 */
export type ErrorKind =
  | 'usage' // bad flags or arguments
  | 'validation' // a value is out of its allowed range
  | 'not_found' // an ID, file or ledger that does not exist
  | 'ambiguous' // a partial ID that matches several
  | 'conflict' // the write would break an invariant (cycle, close guard, claim race)
  | 'schema' // the database was written by a newer gt, or is not a ledger
  | 'external' // a tool gt runs (git, tmux…) failed
  | 'io' // the file system refused
  | 'internal';

/** Exit codes of `gt` (documented in the README). `bd` keeps Beads' single code 1. */
export const EXIT_CODES: Record<ErrorKind, number> = {
  usage: 2,
  validation: 3,
  not_found: 4,
  ambiguous: 4,
  conflict: 5,
  external: 6,
  schema: 7,
  io: 8,
  internal: 1,
};

export class GtError extends Error {
  readonly kind: ErrorKind;
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GtError';
    this.kind = kind;
    this.hint = options.hint;
  }
}

export const usageError = (message: string, hint?: string) => new GtError('usage', message, hint === undefined ? {} : { hint });
export const validationError = (message: string, hint?: string) => new GtError('validation', message, hint === undefined ? {} : { hint });
export const notFoundError = (message: string, hint?: string) => new GtError('not_found', message, hint === undefined ? {} : { hint });
export const conflictError = (message: string, hint?: string) => new GtError('conflict', message, hint === undefined ? {} : { hint });

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
