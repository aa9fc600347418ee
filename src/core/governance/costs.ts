/**
 * Cost and usage (design §2.8): tokens and USD per session from what each
 * runtime reports — Claude Code's stream-json `result` lines (headless), its
 * transcript files (interactive), Codex's `turn.completed` — kept as one
 * JSONL file per run (`.gt/runs/<run>/usage.jsonl`) and summed by agent,
 * bead, convoy, rig or day. Budgets in town.toml pause new dispatch.
 */
import { RUNS_DIR, runDir } from '../../shared/paths.js';
import { GtError } from '../../shared/errors.js';
import type { Identity } from '../agents/identity.js';
import { readRunLogs } from '../agents/run-logs.js';
import type { Town } from '../town/town.js';

export interface Tokens {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
}

export interface UsageRecord extends Tokens {
  at: string;
  run: string;
  agent: string;
  rig?: string;
  bead?: string;
  model?: string;
  usd: number;
  /** False when the model has no known price: its USD is 0, its tokens count. */
  priced: boolean;
  source: 'stream-json' | 'transcript' | 'codex';
  /** The API message it came from (transcripts): each is counted once. */
  message?: string;
}

/** USD per million tokens: input, output. Cache reads cost 0.1× input, 5-minute cache writes 1.25× (Anthropic's published rates). */
const PRICES: Array<[RegExp, number, number]> = [
  [/opus-4-(?:[5-9]|\d\d)/, 5, 25],
  [/opus/, 15, 75],
  [/sonnet/, 3, 15],
  [/haiku-4/, 1, 5],
  [/3-5-haiku|haiku-3-5/, 0.8, 4],
  [/haiku/, 0.25, 1.25],
  [/gpt-5/, 1.25, 10],
];

export function priceOf(model: string | undefined, tokens: Tokens): { usd: number; priced: boolean } {
  const price = model ? PRICES.find(([pattern]) => pattern.test(model)) : undefined;
  if (!price) return { usd: 0, priced: false };
  const [, input, output] = price;
  const usd =
    (tokens.input_tokens * input + tokens.output_tokens * output + tokens.cache_read_tokens * input * 0.1 + tokens.cache_write_tokens * input * 1.25) / 1e6;
  return { usd, priced: true };
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** Anthropic's usage object in gt's names. */
export function anthropicTokens(usage: Record<string, unknown>): Tokens {
  return {
    input_tokens: num(usage.input_tokens),
    output_tokens: num(usage.output_tokens),
    cache_read_tokens: num(usage.cache_read_input_tokens),
    cache_write_tokens: num(usage.cache_creation_input_tokens),
  };
}

/** What a record is attributed to: the session's agent and run, its rig and the bead on its hook. */
export interface Attribution {
  run: string;
  agent: string;
  rig?: string;
  bead?: string;
}

export async function attributionOf(town: Town, identity: Identity, run: string): Promise<Attribution> {
  const hooked = await town.ledger.list({ statuses: ['hooked', 'in_progress'], assignee: identity.address, limit: 1, sort: 'created' });
  return { run, agent: identity.address, ...(identity.rig ? { rig: identity.rig } : {}), ...(hooked[0] ? { bead: hooked[0].id } : {}) };
}

export function appendUsage(town: Town, run: string, records: UsageRecord[]): void {
  if (records.length === 0) return;
  town.ports.files.append(town.path(runDir(run), 'usage.jsonl'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

/**
 * Reads Claude Code's stream-json output (headless): `result` lines carry one
 * turn's usage and the process's running `total_cost_usd`, so a turn's USD is
 * the difference from the previous result.
 */
export class StreamUsageReader {
  private costSoFar = 0;

  constructor(private readonly attribution: () => Attribution) {}

  /** The usage record in one output line, when it has one; the session id of an `init` line goes to `onSession`. */
  read(line: string, now: string, onSession?: (id: string) => void): UsageRecord | undefined {
    if (!line.startsWith('{')) return undefined;
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    if (event.type === 'system' && event.subtype === 'init' && typeof event.session_id === 'string') onSession?.(event.session_id);
    if (event.type !== 'result' || event.usage === null || typeof event.usage !== 'object') return undefined;
    const total = num(event.total_cost_usd);
    const usd = Math.max(0, total - this.costSoFar);
    this.costSoFar = total;
    const models = event.modelUsage && typeof event.modelUsage === 'object' ? Object.keys(event.modelUsage) : [];
    return {
      at: now,
      ...this.attribution(),
      ...anthropicTokens(event.usage as Record<string, unknown>),
      usd,
      priced: true,
      source: 'stream-json',
      ...(models[0] ? { model: models[0].replace(/\[.*\]$/, '') } : {}),
    };
  }
}

/** Codex `exec --json`: `turn.completed` carries the turn's tokens (no USD; priced from the model). */
export function codexUsage(line: string, now: string, attribution: Attribution, model?: string): UsageRecord | undefined {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (event.type !== 'turn.completed' || event.usage === null || typeof event.usage !== 'object') return undefined;
  const usage = event.usage as Record<string, unknown>;
  const cached = num(usage.cached_input_tokens);
  const tokens = {
    input_tokens: Math.max(0, num(usage.input_tokens) - cached),
    output_tokens: num(usage.output_tokens),
    cache_read_tokens: cached,
    cache_write_tokens: 0,
  };
  return { at: now, ...attribution, ...tokens, ...priceOf(model, tokens), source: 'codex', ...(model ? { model } : {}) };
}

/**
 * New usage in Claude Code transcripts (interactive sessions): each assistant
 * message's usage, once per message id. Reads from where the last call
 * stopped (`<run>/usage-offsets.json`), whole lines only.
 */
export async function collectTranscriptUsage(town: Town, run: string): Promise<number> {
  const { files } = town.ports;
  const dir = town.path(runDir(run));
  const listed = files.read(`${dir}/transcripts`);
  if (!listed) return 0;
  const release = await files.lock(`${dir}/usage.lock`, { waitMs: 10_000 });
  try {
    const offsetsFile = `${dir}/usage-offsets.json`;
    const state = JSON.parse(files.read(offsetsFile) ?? '{"offsets":{},"seen":[]}') as { offsets: Record<string, number>; seen: string[] };
    const seen = new Set(state.seen);
    const runInfo = JSON.parse(files.read(`${dir}/run.json`) ?? '{}') as { agent?: string; rig?: string; bead?: string };
    const records: UsageRecord[] = [];
    for (const path of new Set(listed.split('\n').filter(Boolean))) {
      const text = files.read(path);
      if (text === undefined) continue;
      const from = state.offsets[path] ?? 0;
      const end = text.lastIndexOf('\n') + 1;
      if (end <= from) continue;
      for (const line of text.slice(from, end).split('\n')) {
        if (!line.includes('"usage"')) continue;
        let entry: { type?: string; timestamp?: string; message?: { id?: string; model?: string; usage?: Record<string, unknown> } };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          continue;
        }
        const message = entry.message;
        if (entry.type !== 'assistant' || !message?.usage || !message.id || seen.has(message.id)) continue;
        seen.add(message.id);
        const tokens = anthropicTokens(message.usage);
        records.push({
          at: entry.timestamp ?? town.ports.now(),
          run,
          agent: runInfo.agent ?? 'unknown',
          ...(runInfo.rig ? { rig: runInfo.rig } : {}),
          ...(runInfo.bead ? { bead: runInfo.bead } : {}),
          ...tokens,
          ...priceOf(message.model, tokens),
          source: 'transcript',
          message: message.id,
          ...(message.model ? { model: message.model } : {}),
        });
      }
      state.offsets[path] = end;
    }
    appendUsage(town, run, records);
    files.write(offsetsFile, JSON.stringify({ offsets: state.offsets, seen: [...seen] }));
    return records.length;
  } finally {
    release();
  }
}

/** Every usage record of the town (after collecting new transcript usage), oldest first. */
export async function usageRecords(town: Town, options: { since?: string } = {}): Promise<UsageRecord[]> {
  for (const run of town.ports.files.list(town.path(RUNS_DIR))) await collectTranscriptUsage(town, run);
  return readRunLogs<UsageRecord>(town, 'usage.jsonl').filter((r) => !options.since || r.at >= options.since);
}

export const COST_GROUPS = ['agent', 'bead', 'convoy', 'rig', 'day', 'model'] as const;
export type CostGroup = (typeof COST_GROUPS)[number];

export interface CostRow extends Tokens {
  key: string;
  usd: number;
  sessions: number;
  /** Records whose model had no price: their USD is missing from `usd`. */
  unpriced: number;
}

/** The convoys that track each bead (a convoy bead's `tracks` edges). */
export async function convoysOf(town: Town): Promise<Map<string, string[]>> {
  const map = new Map<string, string[]>();
  const convoys = await town.ledger.list({ types: ['convoy'], limit: 0, includeEphemeral: true });
  for (const convoy of convoys) {
    for (const dep of await town.ledger.listDependencies(convoy.id, 'down', 'tracks')) {
      map.set(dep.depends_on_id, [...(map.get(dep.depends_on_id) ?? []), convoy.id]);
    }
  }
  return map;
}

export function addTokens(into: Tokens & { usd: number }, from: Tokens & { usd: number }): void {
  into.input_tokens += from.input_tokens;
  into.output_tokens += from.output_tokens;
  into.cache_read_tokens += from.cache_read_tokens;
  into.cache_write_tokens += from.cache_write_tokens;
  into.usd += from.usd;
}

export async function costReport(town: Town, by: CostGroup, options: { since?: string } = {}): Promise<{ rows: CostRow[]; total: CostRow }> {
  const records = await usageRecords(town, options);
  const convoys = by === 'convoy' ? await convoysOf(town) : new Map<string, string[]>();
  const rows = new Map<string, CostRow & { runs: Set<string> }>();
  const empty = (key: string) => ({
    key,
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    usd: 0,
    sessions: 0,
    unpriced: 0,
    runs: new Set<string>(),
  });
  const total = empty('total');
  for (const record of records) {
    const keys =
      by === 'day'
        ? [record.at.slice(0, 10)]
        : by === 'convoy'
          ? record.bead
            ? (convoys.get(record.bead) ?? ['(none)'])
            : ['(none)']
          : [record[by] ?? '(none)'];
    for (const key of keys) {
      const row = rows.get(key) ?? empty(key);
      addTokens(row, record);
      row.runs.add(record.run);
      if (!record.priced) row.unpriced += 1;
      rows.set(key, row);
    }
    addTokens(total, record);
    total.runs.add(record.run);
    if (!record.priced) total.unpriced += 1;
  }
  const finish = ({ runs, ...row }: CostRow & { runs: Set<string> }): CostRow => ({ ...row, sessions: runs.size, usd: Math.round(row.usd * 1e6) / 1e6 });
  return { rows: [...rows.values()].map(finish).sort((a, b) => b.usd - a.usd || a.key.localeCompare(b.key)), total: finish(total) };
}

/**
 * Refuses new dispatch when a budget in town.toml is spent: today's USD or
 * tokens, or (for beads in a convoy) the convoy's. Running agents are left to
 * finish their turn; the caller escalates.
 */
export async function checkBudgets(town: Town, beads: string[]): Promise<void> {
  const budgets = town.config.budgets;
  if (Object.values(budgets).every((v) => v === undefined)) return;
  const today = town.ports.now().slice(0, 10);
  const tokens = (t: Tokens) => t.input_tokens + t.output_tokens + t.cache_read_tokens + t.cache_write_tokens;
  const over: string[] = [];
  if (budgets.daily_usd !== undefined || budgets.daily_tokens !== undefined) {
    const { total } = await costReport(town, 'day', { since: today });
    if (budgets.daily_usd !== undefined && total.usd >= budgets.daily_usd)
      over.push(`today's spend $${total.usd.toFixed(2)} has reached budgets.daily_usd = ${budgets.daily_usd}`);
    if (budgets.daily_tokens !== undefined && tokens(total) >= budgets.daily_tokens)
      over.push(`today's ${tokens(total)} tokens have reached budgets.daily_tokens = ${budgets.daily_tokens}`);
  }
  if (budgets.convoy_usd !== undefined || budgets.convoy_tokens !== undefined) {
    const convoys = await convoysOf(town);
    const wanted = new Set(beads.flatMap((b) => convoys.get(b) ?? []));
    if (wanted.size > 0) {
      const { rows } = await costReport(town, 'convoy');
      for (const row of rows.filter((r) => wanted.has(r.key))) {
        if (budgets.convoy_usd !== undefined && row.usd >= budgets.convoy_usd)
          over.push(`convoy ${row.key} has spent $${row.usd.toFixed(2)} of budgets.convoy_usd = ${budgets.convoy_usd}`);
        if (budgets.convoy_tokens !== undefined && tokens(row) >= budgets.convoy_tokens)
          over.push(`convoy ${row.key} has used ${tokens(row)} tokens of budgets.convoy_tokens = ${budgets.convoy_tokens}`);
      }
    }
  }
  if (over.length > 0) {
    throw new GtError('conflict', `dispatch is paused: ${over.join('; ')}`, {
      hint: 'running agents finish their turn; raise the budget in town.toml [budgets] (gt config set budgets.daily_usd 100) or wait for tomorrow',
    });
  }
}
