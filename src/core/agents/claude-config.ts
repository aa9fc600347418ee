/**
 * Claude Code's user config (`.claude.json`), the few keys gt writes there.
 * Claude Code started with no network stops at "Unable to connect to
 * Anthropic services" unless onboarding is recorded as done and the API key
 * as approved, and at a trust dialog for a folder it has not seen
 * (../../../../shared/docs/claude-code-offline.md): gt sets exactly these
 * keys and keeps every other one as it was.
 */
import { GtError } from '../../shared/errors.js';

type ClaudeConfig = Record<string, unknown> & {
  projects?: Record<string, Record<string, unknown>>;
  customApiKeyResponses?: { approved?: string[]; rejected?: string[] } & Record<string, unknown>;
};

/** `$CLAUDE_CONFIG_DIR/.claude.json`, else `~/.claude.json`; undefined when neither is set. */
export function claudeConfigFile(env: Record<string, string | undefined>): string | undefined {
  return env.CLAUDE_CONFIG_DIR ? `${env.CLAUDE_CONFIG_DIR}/.claude.json` : env.HOME ? `${env.HOME}/.claude.json` : undefined;
}

/** Claude Code remembers an approved key by its last 20 characters. */
export function apiKeySuffix(apiKey: string): string {
  return apiKey.slice(-20);
}

function parse(file: string, text: string | undefined): ClaudeConfig {
  if (text === undefined || text.trim() === '') return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as ClaudeConfig;
  } catch {
    // reported below
  }
  throw new GtError('validation', `${file} is not a JSON object; gt leaves it alone`, { hint: 'fix or move the file, then run the command again' });
}

/**
 * The config text with onboarding done, `apiKey` approved and `dirs` trusted;
 * undefined when all of that is already so (nothing to write).
 */
export function configuredForDryRun(file: string, text: string | undefined, apiKey: string, dirs: string[]): string | undefined {
  const config = parse(file, text);
  const before = JSON.stringify(config);
  config.hasCompletedOnboarding = true;
  const responses = config.customApiKeyResponses ?? {};
  const approved = responses.approved ?? [];
  const suffix = apiKeySuffix(apiKey);
  config.customApiKeyResponses = {
    ...responses,
    approved: approved.includes(suffix) ? approved : [...approved, suffix],
    rejected: (responses.rejected ?? []).filter((r) => r !== suffix),
  };
  for (const dir of dirs) config.projects = { ...config.projects, [dir]: { ...config.projects?.[dir], hasTrustDialogAccepted: true } };
  const after = JSON.stringify(config);
  return after === before ? undefined : `${JSON.stringify(config, null, 2)}\n`;
}

/** What to do when a Claude Code session died at start for want of these keys (its screen says so). */
export function claudeStartHint(output: string): string | undefined {
  if (!/Unable to connect to Anthropic services|Do you trust the files in this folder/.test(output)) return undefined;
  return 'Claude Code stopped at its first-run checks: `gt model-server --setup-claude` records onboarding and approves the API key (see the README, Dry runs)';
}
