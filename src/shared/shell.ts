/** One word for `sh`: single-quoted, with embedded single quotes closed, escaped and reopened. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** What a command gt runs on nobody's behalf keeps of an environment: no API keys, tokens or the caller's identity. */
const PLAIN_ENV = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LC_[A-Z]+|TZ|TMPDIR|TERM)$/;

export function scrubbedEnv(env: Record<string, string | undefined>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined && PLAIN_ENV.test(key)) kept[key] = value;
  return kept;
}
