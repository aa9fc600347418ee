/**
 * Claude Code's hook protocol (research/peers.md §4a), answered by gt: each
 * event's JSON in, the JSON Claude Code acts on out. The session host serves
 * these over HTTP (no process per event); `gt signal --format claude` and
 * `gt permission check --format claude` are the same answers for command hooks.
 */
import type { Identity } from './identity.js';
import { brokerPermission, type BrokerOptions, type PermissionOutcome, type ToolRequest } from '../governance/permissions.js';
import { recordSignal, turnSignal, type Signal } from './signals.js';
import type { Town } from '../town/town.js';

/** The events gt takes over HTTP and the signal each one is. PermissionRequest is the broker's alone. */
export const CLAUDE_HTTP_EVENTS: Record<string, Signal | 'permission'> = {
  UserPromptSubmit: 'prompt-submit',
  PreToolUse: 'pre-tool',
  PermissionRequest: 'permission',
  Stop: 'stop',
  StopFailure: 'stop-failure',
  Notification: 'notification',
  SessionEnd: 'session-end',
  TeammateIdle: 'teammate-idle',
  TaskCompleted: 'task-completed',
};

export function toolRequest(input: Record<string, unknown>, fallbackCwd: string): ToolRequest {
  const toolInput = input.tool_input;
  return {
    tool: typeof input.tool_name === 'string' ? input.tool_name : 'unknown',
    input: toolInput !== null && typeof toolInput === 'object' ? (toolInput as Record<string, unknown>) : {},
    cwd: typeof input.cwd === 'string' ? input.cwd : fallbackCwd,
    ...(typeof input.session_id === 'string' ? { session: input.session_id } : {}),
  };
}

/** A broker outcome in the output format of a runtime's pre-tool hook. */
export function permissionOutput(
  outcome: PermissionOutcome,
  event: 'PreToolUse' | 'PermissionRequest',
  format: 'claude' | 'gemini' | 'codex',
): Record<string, unknown> {
  const allow = outcome.action === 'allow';
  const reason = `gt ${allow ? 'allowed' : 'denied'} this (${outcome.rule}): ${outcome.reason}`;
  if (format === 'gemini') return { decision: allow ? 'allow' : 'deny', reason };
  if (event === 'PermissionRequest')
    return { hookSpecificOutput: { hookEventName: event, decision: allow ? { behavior: 'allow' } : { behavior: 'deny', message: reason } } };
  return { hookSpecificOutput: { hookEventName: event, permissionDecision: allow ? 'allow' : 'deny', permissionDecisionReason: reason } };
}

/** The answer to one Claude Code hook event. Unknown events are recorded nowhere and answered with {}. */
export async function answerClaudeHook(
  town: Town,
  identity: Identity,
  event: string,
  input: Record<string, unknown>,
  options: BrokerOptions & { cwd: string },
): Promise<Record<string, unknown>> {
  const what = CLAUDE_HTTP_EVENTS[event];
  if (what === undefined) return {};
  if (what === 'pre-tool' || what === 'permission') {
    if (what === 'pre-tool') await recordSignal(town, identity, 'pre-tool', input);
    // Edits to town.toml or rig.toml apply to the next request, also in a long-lived session host.
    town.reloadConfig();
    const outcome = await brokerPermission(town, identity, toolRequest(input, options.cwd), options);
    return permissionOutput(outcome, event as 'PreToolUse' | 'PermissionRequest', 'claude');
  }
  const text = await turnSignal(town, identity, what, input, 'claude');
  if (text === '') return {};
  // Stop: "block" makes the agent go on with the mail as the reason; at prompt submit it is added context.
  if (what === 'stop') return { decision: 'block', reason: text };
  return { hookSpecificOutput: { hookEventName: event, additionalContext: text } };
}
