/**
 * gt's one logger: logfmt lines (`time=… level=… msg=… key=value`) written to
 * a sink the edge chooses (the daemon's `.gt/daemon.log`, a session host's
 * `host.log`). Results never go to a log; progress for a person goes to
 * stderr (design §5).
 */
import { redactSecrets } from './secrets.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  log(level: LogLevel, msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** One logfmt line: bare values when they are safe, quoted (JSON) otherwise; undefined fields are left out. */
export function logfmt(fields: LogFields): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = typeof value === 'string' ? value : String(value);
    parts.push(`${key}=${typeof value !== 'string' || /^[\w./:@+-]+$/.test(text) ? text : JSON.stringify(text)}`);
  }
  return `${parts.join(' ')}\n`;
}

export function createLogger(write: (line: string) => void, now: () => string = () => new Date().toISOString()): Logger {
  // No secret in a log (issue 12, finding 5): a gate's output or an error may hold one.
  const log = (level: LogLevel, msg: string, fields: LogFields = {}) => write(redactSecrets(logfmt({ time: now(), level, msg, ...fields })));
  return {
    log,
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
  };
}
