/**
 * The real Claude Code CLI (the pinned devDependency) against a scripted
 * model server: its config lives in the test town's HOME with onboarding
 * done and the test key approved (../shared/docs/claude-code-offline.md), so
 * it starts with no network. Trusting each worktree is gt's job, not this file's.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScriptedModelServer, parseModelScript, requestText, type RecordedRequest } from '../../src/infra/model-server.js';
import { onCleanup, ROOT } from './env.js';
import type { TestTown } from './town.js';

export const CLAUDE_BIN = join(ROOT, 'node_modules', '.bin', 'claude');
export const claudeInstalled = existsSync(CLAUDE_BIN);
const API_KEY = 'sk-ant-gt-test-0123456789abcdefghijklmnop';

/** Starts a scripted model server and points the town's sessions at it. */
export async function useScriptedClaude(town: TestTown, turns: unknown[]): Promise<ScriptedModelServer> {
  const server = new ScriptedModelServer(parseModelScript({ turns }));
  await server.listen();
  onCleanup(() => server.close());
  writeFileSync(
    join(town.env.HOME as string, '.claude.json'),
    JSON.stringify({
      hasCompletedOnboarding: true,
      customApiKeyResponses: { approved: [API_KEY.slice(-20)], rejected: [] },
    }),
  );
  // Claude Code keeps scratch files in TMPDIR: inside the test's directory, they go with it.
  const tmp = join(town.base, 'tmp');
  mkdirSync(tmp, { recursive: true });
  Object.assign(town.env, {
    TMPDIR: tmp,
    ANTHROPIC_BASE_URL: server.url(),
    ANTHROPIC_API_KEY: API_KEY,
    DISABLE_TELEMETRY: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    PATH: `${join(ROOT, 'node_modules', '.bin')}:${town.env.PATH ?? ''}`,
  });
  return server;
}

/** A Bash tool call turn. */
export const bash = (command: string, usage?: Record<string, number>) => ({
  tools: [{ name: 'Bash', input: { command, description: command.slice(0, 40) } }],
  ...(usage ? { usage } : {}),
});
export const say = (text: string, usage?: Record<string, number>) => ({ text, ...(usage ? { usage } : {}) });

/** How many of the agent loop's requests contain `text`. */
export function requestsContaining(server: ScriptedModelServer, text: string): RecordedRequest[] {
  return server.mainRequests().filter((r) => requestText(r).includes(text));
}

/** The text of the newest user message of a request (tool results and hook context included). */
export function lastUserText(request: RecordedRequest): string {
  const messages = (request.body.messages ?? []) as Array<{ role: string; content: unknown }>;
  const last = [...messages].reverse().find((m) => m.role === 'user');
  return last ? JSON.stringify(last.content) : '';
}

if (!claudeInstalled) console.warn(`Skipping the Claude Code tests: ${CLAUDE_BIN} is missing (npm ci installs the pinned devDependency).`);
