/**
 * Extraction before compaction (issue 15 §2; OpenClaw's "memory flush",
 * research/peers.md §3): when the runtime is about to compact an agent's
 * context (Claude Code's PreCompact hook), the compaction is held once and the
 * agent gets one silent turn asking it to write what must survive into
 * today's log, replying NO_REPLY if nothing. When that turn ends, gt asks for
 * the compaction again, and this time lets it through. Once per cycle:
 *
 *   (none) --PreCompact: held--> requested --its prompt--> in-turn --Stop: /compact--> flushed --PreCompact: allowed--> (none)
 *
 * The state is one small file per session, read on the hot path only when a
 * prompt carries the flush marker or a Stop finds the file.
 */
import { GT_DIR } from '../../shared/paths.js';
import { sessionName, type Identity } from '../agents/identity.js';
import type { Town } from '../town/town.js';
import { logFile, MEMORY_ZONE, wallClock } from './memory.js';

export const NO_REPLY = 'NO_REPLY';
export const FLUSH_MARKER = '[gt memory flush]';
/** A flush requested this long ago and still not done no longer holds a compaction back. */
const FLUSH_PATIENCE_MS = 3 * 60_000;

interface FlushState {
  phase: 'requested' | 'in-turn' | 'flushed';
  at: string;
}

const flushFile = (town: Town, identity: Identity) => town.path(GT_DIR, 'memory-flush', `${sessionName(identity)}.json`);

function readFlush(town: Town, identity: Identity): FlushState | undefined {
  const text = town.ports.files.read(flushFile(town, identity));
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as FlushState;
  } catch {
    return undefined;
  }
}

const writeFlush = (town: Town, identity: Identity, state: FlushState) => town.ports.files.write(flushFile(town, identity), JSON.stringify(state));

/** The silent turn's prompt: one line, so it can be typed into an interactive session. */
export function flushPrompt(date: string): string {
  return (
    `${FLUSH_MARKER} Your context is about to be compacted. Write whatever must survive it (decisions, open threads, facts learned) ` +
    `into today's memory log, memory/${date}.md, with \`gt memory add "…"\`. Then reply ${NO_REPLY}. If nothing needs saving, reply ${NO_REPLY} only.`
  );
}

export type PreCompactAnswer = { hold: string } | { allow: true };

/**
 * At PreCompact: the first time in a cycle, hold the compaction and ask for
 * the flush turn (typed or written to stdin once the agent is at its prompt);
 * once the flush is done (or has been waited on long enough), let it through.
 * Only agents that keep a memory (the Mayor, crew) flush.
 */
export async function preCompact(town: Town, identity: Identity, trigger: string): Promise<PreCompactAnswer> {
  if (identity.role !== 'mayor' && identity.role !== 'crew') return { allow: true };
  const state = readFlush(town, identity);
  const now = town.ports.now();
  if (state?.phase === 'flushed' || (state && Date.parse(now) - Date.parse(state.at) > FLUSH_PATIENCE_MS)) {
    town.ports.files.remove(flushFile(town, identity));
    return { allow: true };
  }
  if (state) return { hold: 'gt: the memory flush turn is still running; compaction follows it.' };
  writeFlush(town, identity, { phase: 'requested', at: now });
  const date = wallClock(now, MEMORY_ZONE).date;
  await town.ledger.emit({ kind: 'memory.flush_requested', agent: identity.address, payload: { trigger, log: logFile(date) } });
  town.ports.detached.nudge(identity.address, flushPrompt(date), { raw: true, idleWaitSec: 120, waitSec: 0, afterMs: 300 });
  return { hold: `gt: compaction held for one memory flush turn (${logFile(date)}); gt compacts right after it.` };
}

/** At a prompt hook: the flush prompt arrived, its turn is running. */
export function noteFlushPrompt(town: Town, identity: Identity, prompt: unknown): void {
  if (typeof prompt !== 'string' || !prompt.includes(FLUSH_MARKER)) return;
  const state = readFlush(town, identity);
  if (state?.phase === 'requested') writeFlush(town, identity, { phase: 'in-turn', at: town.ports.now() });
}

/** At Stop: the flush turn ended, so the compaction it held is asked for again. */
export function afterFlushTurn(town: Town, identity: Identity): void {
  const state = readFlush(town, identity);
  if (state?.phase !== 'in-turn') return;
  writeFlush(town, identity, { phase: 'flushed', at: town.ports.now() });
  town.ports.detached.nudge(identity.address, '/compact', { raw: true, idleWaitSec: 60, waitSec: 0, afterMs: 500 });
}
