/**
 * A scripted model server: a local HTTP server that speaks the Anthropic
 * Messages API (streaming SSE and plain JSON) and the OpenAI Responses API,
 * answering each agent turn from a script and recording every request.
 *
 * Tests point the real Claude Code at it with ANTHROPIC_BASE_URL; users can do
 * the same for a dry run of a town (`gt model-server`). A base URL may carry a
 * lane (`http://127.0.0.1:<port>/<lane>`): each lane has its own script, so one
 * server can drive several agents at once.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from '../shared/zod.js';
import { GtError } from '../shared/errors.js';

const usageSchema = z.strictObject({
  input_tokens: z.number().int().nonnegative().default(0),
  output_tokens: z.number().int().nonnegative().default(0),
  cache_read_input_tokens: z.number().int().nonnegative().default(0),
  cache_creation_input_tokens: z.number().int().nonnegative().default(0),
});

const turnSchema = z.strictObject({
  /** Answer only a request whose newest user content contains this text; earlier turns wait. */
  match: z.string().optional(),
  text: z.string().optional(),
  tools: z.array(z.strictObject({ name: z.string(), input: z.record(z.string(), z.unknown()), id: z.string().optional() })).default([]),
  usage: usageSchema.partial().optional(),
  /** Fail this request with an API error instead of answering. */
  error: z.strictObject({ status: z.number().int().min(400).max(599), type: z.string(), message: z.string() }).optional(),
  delay_ms: z.number().int().nonnegative().default(0),
});

export const modelScriptSchema = z.strictObject({
  model: z.string().default('claude-sonnet-4-5'),
  turns: z.array(turnSchema).default([]),
  /** The reply once every turn is used, and to requests that carry no tools (titles, summaries). */
  idle_text: z.string().default('Done.'),
});

export type ModelScript = z.infer<typeof modelScriptSchema>;
export type ScriptTurn = z.infer<typeof turnSchema>;
export type Usage = z.infer<typeof usageSchema>;

export interface RecordedRequest {
  lane: string;
  at: string;
  method: string;
  path: string;
  api: 'anthropic' | 'openai' | 'other';
  /** True for the agent loop's requests (they carry the tool list); false for side requests. */
  main: boolean;
  body: Record<string, unknown>;
  /** The index of the script turn that answered, when one did. */
  turn?: number;
}

interface Lane {
  script: ModelScript;
  used: Set<number>;
}

/** Parses a script (JSON text or an object) with errors that say where it is wrong. */
export function parseModelScript(input: unknown, source = 'script'): ModelScript {
  const result = modelScriptSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : '(top level)';
  throw new GtError('validation', `${source}: key ${where}: ${issue?.message ?? 'invalid'}`, {
    hint: 'a script is {"turns": [{"text": "...", "tools": [{"name": "Bash", "input": {"command": "..."}}]}]}',
  });
}

/** Text of the newest user message, tool results included: what a `match` is tested against. */
function newestUserText(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages)
    ? (body.messages as { role?: string; content?: unknown }[])
    : Array.isArray(body.input)
      ? (body.input as { role?: string; content?: unknown }[])
      : [];
  const last = [...messages].reverse().find((m) => m.role === 'user' || m.role === undefined);
  return last ? flatten(last.content ?? last) : typeof body.input === 'string' ? body.input : '';
}

function flatten(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map(flatten).join('\n');
  if (content && typeof content === 'object') {
    const c = content as Record<string, unknown>;
    return ['text', 'content', 'output']
      .map((k) => (k in c ? flatten(c[k]) : ''))
      .filter(Boolean)
      .join('\n');
  }
  return '';
}

/** Every text the model was sent in one request: system prompt and messages. */
export function requestText(request: RecordedRequest): string {
  return [flatten(request.body.system), flatten(request.body.instructions), flatten(request.body.messages), flatten(request.body.input)].join('\n');
}

function fullUsage(turn: ScriptTurn | undefined): Usage {
  return { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, ...turn?.usage };
}

export class ScriptedModelServer {
  readonly requests: RecordedRequest[] = [];
  private readonly lanes = new Map<string, Lane>();
  private server: Server | undefined;
  private ids = 0;
  port = 0;

  constructor(script?: ModelScript) {
    if (script) this.setScript('', script);
  }

  /** Gives a lane (`''` is the default lane) its script; the lane starts over. */
  setScript(lane: string, script: ModelScript): void {
    this.lanes.set(lane, { script, used: new Set() });
  }

  /** The base URL an agent is given (ANTHROPIC_BASE_URL / OPENAI_BASE_URL without `/v1`). */
  url(lane = ''): string {
    return `http://127.0.0.1:${this.port}${lane ? `/${lane}` : ''}`;
  }

  /** The agent loop's requests of one lane, in order. */
  mainRequests(lane = ''): RecordedRequest[] {
    return this.requests.filter((r) => r.lane === lane && r.main);
  }

  /** How many of a lane's turns are answered. */
  turnsUsed(lane = ''): number {
    return this.lanes.get(lane)?.used.size ?? 0;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<void> {
    this.server = createServer(
      (req, res) =>
        void this.handle(req, res).catch((error: unknown) => {
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: String(error) } }));
        }),
    );
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(port, host, () => resolve());
    });
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://localhost');
    // `/<lane>/v1/...`: the lane is whatever precedes `/v1/`.
    const at = url.pathname.indexOf('/v1/');
    const lane = at > 0 ? url.pathname.slice(1, at) : '';
    const endpoint = at >= 0 ? url.pathname.slice(at) : url.pathname;
    let body: Record<string, unknown> = {};
    if (chunks.length > 0) {
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'body is not JSON' } }));
        return;
      }
    }
    const api = endpoint === '/v1/messages' ? 'anthropic' : endpoint === '/v1/responses' ? 'openai' : 'other';
    const main = Array.isArray(body.tools) && body.tools.length > 0;
    const record: RecordedRequest = { lane, at: new Date().toISOString(), method: req.method ?? 'GET', path: url.pathname, api, main, body };
    if (req.method !== 'POST' || api === 'other') {
      if (endpoint === '/v1/messages/count_tokens') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ input_tokens: 100 }));
        return;
      }
      if (endpoint === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: this.lanes.get(lane)?.script.model ?? 'claude-sonnet-4-5', object: 'model' }] }));
        return;
      }
      res.writeHead(req.method === 'HEAD' || url.pathname === '/' ? 200 : 404);
      res.end();
      return;
    }
    const laneState = this.lanes.get(lane) ?? this.lanes.get('');
    const turnIndex = main && laneState ? this.pickTurn(laneState, body) : undefined;
    if (turnIndex !== undefined) record.turn = turnIndex;
    this.requests.push(record);
    const script = laneState?.script ?? modelScriptSchema.parse({});
    const turn = turnIndex !== undefined ? script.turns[turnIndex] : undefined;
    if (turn?.delay_ms) await new Promise((r) => setTimeout(r, turn.delay_ms));
    if (turn?.error) {
      res.writeHead(turn.error.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: turn.error.type, message: turn.error.message } }));
      return;
    }
    const reply: ScriptTurn = turn ?? { text: script.idle_text, tools: [], delay_ms: 0 };
    const model = typeof body.model === 'string' ? body.model : script.model;
    if (api === 'openai') this.replyResponses(res, reply, model, body.stream === true);
    else this.replyMessages(res, reply, model, body.stream === true);
  }

  private pickTurn(lane: Lane, body: Record<string, unknown>): number | undefined {
    const text = newestUserText(body);
    for (let i = 0; i < lane.script.turns.length; i++) {
      if (lane.used.has(i)) continue;
      const turn = lane.script.turns[i] as ScriptTurn;
      // A turn waiting for a match holds back the ones after it: scripts stay in order.
      if (turn.match !== undefined && !text.includes(turn.match)) return undefined;
      lane.used.add(i);
      return i;
    }
    return undefined;
  }

  private nextId(prefix: string): string {
    this.ids += 1;
    return `${prefix}_${String(this.ids).padStart(6, '0')}${Math.random().toString(36).slice(2, 10)}`;
  }

  private replyMessages(res: ServerResponse, turn: ScriptTurn, model: string, stream: boolean): void {
    const usage = fullUsage(turn);
    const blocks: Record<string, unknown>[] = [];
    if (turn.text) blocks.push({ type: 'text', text: turn.text });
    for (const tool of turn.tools) blocks.push({ type: 'tool_use', id: tool.id ?? this.nextId('toolu'), name: tool.name, input: tool.input });
    if (blocks.length === 0) blocks.push({ type: 'text', text: '' });
    const stopReason = turn.tools.length > 0 ? 'tool_use' : 'end_turn';
    const id = this.nextId('msg');
    if (!stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id, type: 'message', role: 'assistant', model, content: blocks, stop_reason: stopReason, stop_sequence: null, usage }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (event: string, data: Record<string, unknown>) => res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
    send('message_start', {
      message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
    });
    blocks.forEach((block, index) => {
      if (block.type === 'text') {
        send('content_block_start', { index, content_block: { type: 'text', text: '' } });
        send('content_block_delta', { index, delta: { type: 'text_delta', text: block.text } });
      } else {
        send('content_block_start', { index, content_block: { ...block, input: {} } });
        send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
      }
      send('content_block_stop', { index });
    });
    send('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
    send('message_stop', {});
    res.end();
  }

  /** The OpenAI Responses API: function calls become `function_call` items (Codex's `shell` tool among them). */
  private replyResponses(res: ServerResponse, turn: ScriptTurn, model: string, stream: boolean): void {
    const usage = fullUsage(turn);
    const output: Record<string, unknown>[] = [];
    if (turn.text)
      output.push({
        type: 'message',
        id: this.nextId('msg'),
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: turn.text, annotations: [] }],
      });
    for (const tool of turn.tools) {
      output.push({
        type: 'function_call',
        id: this.nextId('fc'),
        call_id: tool.id ?? this.nextId('call'),
        name: tool.name,
        arguments: JSON.stringify(tool.input),
        status: 'completed',
      });
    }
    const response = {
      id: this.nextId('resp'),
      object: 'response',
      created_at: Math.floor(Date.now() / 1000),
      model,
      status: 'completed',
      output,
      usage: {
        input_tokens: usage.input_tokens + usage.cache_read_input_tokens,
        input_tokens_details: { cached_tokens: usage.cache_read_input_tokens },
        output_tokens: usage.output_tokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: usage.input_tokens + usage.cache_read_input_tokens + usage.output_tokens,
      },
    };
    if (!stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(response));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let sequence = 0;
    const send = (type: string, data: Record<string, unknown>) =>
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...data })}\n\n`);
    send('response.created', { response: { ...response, status: 'in_progress', output: [] } });
    output.forEach((item, output_index) => {
      send('response.output_item.added', { output_index, item });
      if (item.type === 'message') send('response.output_text.delta', { output_index, item_id: item.id, content_index: 0, delta: turn.text });
      send('response.output_item.done', { output_index, item });
    });
    send('response.completed', { response });
    res.end();
  }
}

/** Reads a script from a JSON request body for the control endpoint, or from a file's text. */
export function scriptFromText(text: string, source: string): ModelScript {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new GtError('validation', `${source}: not JSON: ${(error as Error).message}`);
  }
  return parseModelScript(parsed, source);
}
