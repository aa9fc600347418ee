/**
 * Secrets gt never shows or records (issue 12, finding 5; design §9): known
 * shapes of API keys and tokens, credentials in URLs, and the values of
 * variables named like secrets. Logs, events, `--json` and errors go through
 * `redactSecrets`; a rig URL is stored without its credentials.
 */

const REDACTED = '[redacted]';

/** Known token shapes: Anthropic, OpenAI, GitHub, GitLab, Slack, AWS, Google, Telegram bots. */
const TOKENS: Array<[hint: string, pattern: RegExp]> = [
  ['sk-', /\bsk-ant-[A-Za-z0-9_-]{6,}/g],
  ['sk-', /\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}/g],
  ['gh', /\bgh[pousr]_[A-Za-z0-9]{16,}/g],
  ['github_pat_', /\bgithub_pat_[A-Za-z0-9_]{20,}/g],
  ['glpat-', /\bglpat-[A-Za-z0-9_-]{16,}/g],
  ['xox', /\bxox[abposr]-[A-Za-z0-9-]{10,}/g],
  ['AKIA', /\bAKIA[0-9A-Z]{16}\b/g],
  ['AIza', /\bAIza[0-9A-Za-z_-]{35}\b/g],
  [':AA', /\b\d{8,10}:AA[A-Za-z0-9_-]{33}\b/g],
];

/** `https://user:pass@host`, `https://token@host`: the user part of an http(s) URL, and any URL's password. */
const HTTP_USERINFO = /\b(https?:\/\/)[^\s/@'"]+@/gi;
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/@:'"]+):[^\s/@'"]+@/gi;

/** `ANTHROPIC_API_KEY=…` and `"GITHUB_TOKEN": "…"`: environment variables named like secrets. */
const SECRET_NAME = '[A-Z0-9_]*(?:API_KEY|APIKEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|PRIVATE_KEY)[A-Z0-9_]*';
const SECRET_VARIABLE = new RegExp(`^${SECRET_NAME}$`);

/** A variable named like a secret (`GITHUB_TOKEN`, `ANTHROPIC_API_KEY`, `DB_PASSWORD`…). */
export function isSecretName(name: string): boolean {
  return SECRET_VARIABLE.test(name);
}

const ASSIGNMENT = new RegExp(`\\b(${SECRET_NAME})=("[^"]*"|'[^']*'|[^\\s"',;]+)`, 'g');
const JSON_FIELD = new RegExp(`("${SECRET_NAME}"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'g');

/** A word every secret-named variable holds: without one, ASSIGNMENT and JSON_FIELD cannot match. */
const SECRET_WORD = /API_KEY|APIKEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY/;

/**
 * The text with every known secret replaced by `[redacted]`. Each pattern runs
 * only where a literal it needs is in the text: every `--json` output goes
 * through here, and 13 patterns over a 100-row `bd ready` (33 KB) were ~0.7 ms
 * of a cold process, most of it compiling patterns that could not match.
 */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [hint, pattern] of TOKENS) if (out.includes(hint)) out = out.replace(pattern, REDACTED);
  if (out.includes('@') && out.includes('://'))
    out = out
      .replace(HTTP_USERINFO, `$1${REDACTED}@`)
      // A password already masked as `***` (maskLedgerUrl, shown the same in text) stays `***`.
      .replace(URL_PASSWORD, (match: string, user: string) => (match.endsWith(':***@') ? match : `${user}:${REDACTED}@`));
  if (SECRET_WORD.test(out)) out = out.replace(ASSIGNMENT, `$1=${REDACTED}`).replace(JSON_FIELD, `$1"${REDACTED}"`);
  return out;
}

/** True when the text holds something `redactSecrets` would hide. */
export function holdsSecret(text: string): boolean {
  return redactSecrets(text) !== text;
}

/** A value (event payload, log entry) with its strings redacted; its shape stays. */
export function redactData<T>(value: T): T {
  const text = JSON.stringify(value);
  if (text === undefined) return value;
  const redacted = redactSecrets(text);
  return redacted === text ? value : (JSON.parse(redacted) as T);
}

/**
 * A repository URL without credentials: `https://user:token@host/r.git` →
 * `https://host/r.git`. An scp-like or ssh URL keeps its user (`git@host:r`),
 * which is a login name, not a secret; a password in it goes.
 */
export function withoutCredentials(url: string): string {
  const http = /^(https?:\/\/)[^/@]+@/i.exec(url);
  if (http) return `${http[1] as string}${url.slice(http[0].length)}`;
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]+):[^/@]+@/i, '$1@');
}
