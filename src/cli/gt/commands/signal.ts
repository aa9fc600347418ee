import type { Command } from 'commander';
import { recordSignal, SIGNALS, turnSignal, type Signal } from '../../../core/agents/signals.js';
import type { Identity } from '../../../core/agents/identity.js';
import { preCompact } from '../../../core/memory/flush.js';
import { assemblePrime } from '../../../core/work/prime.js';
import { usageError } from '../../../shared/errors.js';
import { action, type GtContext } from '../context.js';

/** A runtime hook's JSON on stdin (Claude, Gemini), read with a time limit; {} when there is none. */
export async function readHookInput(): Promise<Record<string, unknown>> {
  if (process.stdin.isTTY) return {};
  const text = await new Promise<string>((resolvePromise) => {
    let data = '';
    const done = () => {
      clearTimeout(timer);
      process.stdin.removeAllListeners();
      process.stdin.pause();
      resolvePromise(data);
    };
    const timer = setTimeout(done, 1000);
    process.stdin
      .setEncoding('utf8')
      .on('data', (chunk: string) => (data += chunk))
      .on('end', done)
      .on('error', done);
  });
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export interface SignalOptions {
  format: string;
  agent?: string;
}

/** Codex runs its `notify` program with the event's JSON as the last argument (`agent-turn-complete`, `last-assistant-message`). */
function payloadInput(payload: string[]): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(payload[payload.length - 1] ?? '');
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export async function signalCommand(ctx: GtContext, event: string, options: SignalOptions, payload: string[] = []): Promise<number> {
  if (!(SIGNALS as readonly string[]).includes(event)) throw usageError(`unknown signal ${JSON.stringify(event)}`, `use one of ${SIGNALS.join(', ')}`);
  const signal = event as Signal;
  const identity = await ctx.me(options.agent);
  // A StopFailure may be a rate limit, and backing its runtime off reads town.toml's [scheduler]; every other signal needs no config.
  const town = signal === 'stop-failure' ? await ctx.town().catch(() => ctx.town({ light: true })) : await ctx.town({ light: true });
  const input = options.format === 'claude' || options.format === 'gemini' ? await readHookInput() : payloadInput(payload);
  if (signal === 'pre-compact') return preCompactSignal(ctx, identity, input);
  const text = await turnSignal(town, identity, signal, input, options.format);
  if (text === '') return 0;
  // Claude's Stop hook: "block" makes the agent continue its turn with the mail as its reason.
  if (signal === 'stop' && options.format === 'claude') ctx.out(JSON.stringify({ decision: 'block', reason: text }));
  else ctx.out(text);
  return 0;
}

/**
 * Claude Code's PreCompact: the Mayor and crew first get one memory flush
 * turn (exit 2 holds the compaction, its stderr says why); otherwise the
 * compaction goes on, with the agent's prime as what the summary keeps.
 */
async function preCompactSignal(ctx: GtContext, identity: Identity, input: Record<string, unknown>): Promise<number> {
  const town = await ctx.town({ light: true });
  await recordSignal(town, identity, 'pre-compact', input);
  const answer = await preCompact(town, identity, typeof input.trigger === 'string' ? input.trigger : 'unknown');
  if ('hold' in answer) {
    ctx.io.stderr(`${answer.hold}\n`);
    return 2;
  }
  ctx.out((await assemblePrime(town, identity)).text);
  return 0;
}

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('signal <event> [payload...]')
    .description(`A runtime hook event: ${SIGNALS.join(', ')}. Records it on the agent; at turn boundaries prints undelivered mail`)
    .option('--format <format>', "output for this runtime's hook protocol: text (default), claude, gemini, codex, cursor, copilot", 'text')
    .option('--agent <address>', "as this agent (default: this session's agent)")
    .addHelpText('after', '\nExamples (normally run by the hooks gt installs):\n  gt signal prompt-submit --format claude\n  gt signal stop')
    .action(
      action(ctx, async (event: unknown, payload: unknown, opts: unknown) =>
        signalCommand(ctx, event as string, opts as SignalOptions, (payload as string[] | undefined) ?? []),
      ),
    );
}
