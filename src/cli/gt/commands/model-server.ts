import { appendFileSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { modelServer } from '../../../app/index.js';
import { GtError, usageError } from '../../../shared/errors.js';
import { action, type GtContext } from '../context.js';

interface ModelServerOptions {
  script: string;
  port: string;
  record?: string;
}

/**
 * Serves a scripted model until interrupted: a dry run of a town with real
 * agent CLIs and no API bill. Each request is printed (and recorded) as one JSON line.
 */
async function modelServerCommand(ctx: GtContext, options: ModelServerOptions): Promise<void> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw usageError(`--port ${JSON.stringify(options.port)} is not a port number`, 'use 0 for any free port, or 1–65535');
  let text: string;
  try {
    text = readFileSync(options.script, 'utf8');
  } catch (error) {
    throw new GtError('not_found', `cannot read the script ${options.script}: ${(error as Error).message}`);
  }
  const { ScriptedModelServer, scriptFromText } = await modelServer();
  const server = new ScriptedModelServer(scriptFromText(text, options.script));
  await server.listen(port);
  ctx.err(`Scripted model server on ${server.url()} (ANTHROPIC_BASE_URL=${server.url()}, OPENAI_BASE_URL=${server.url()}/v1). Ctrl-C stops it.`);
  let seen = 0;
  const flush = () => {
    for (const request of server.requests.slice(seen)) {
      const line = JSON.stringify({ at: request.at, lane: request.lane, path: request.path, main: request.main, turn: request.turn ?? null });
      ctx.out(line);
      if (options.record) appendFileSync(options.record, `${JSON.stringify(request)}\n`);
    }
    seen = server.requests.length;
  };
  const timer = setInterval(flush, 200);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(timer);
  flush();
  await server.close();
}

export default function register(program: Command, ctx: GtContext): void {
  program.command('model-server').description('A local model server that answers agents from a script (Anthropic Messages and OpenAI Responses APIs): dry runs without an API key')
    .requiredOption('--script <file>', 'JSON script: {"turns": [{"text": "…", "tools": [{"name": "Bash", "input": {"command": "…"}}], "usage": {…}}]}')
    .option('--port <n>', 'port to listen on (0: any free port)', '0')
    .option('--record <file>', 'append every request, whole, to this JSONL file')
    .addHelpText('after', `
Each line on stdout is one request: {at, lane, path, main, turn}. A base URL may end in /<lane>;
each lane can have its own script (tests use this to drive several agents from one server).

Examples:
  gt model-server --script dry-run.json --port 8787
  ANTHROPIC_BASE_URL=http://127.0.0.1:8787 ANTHROPIC_API_KEY=dry-run claude -p "hello"`)
    .action(action(ctx, async (opts: unknown) => modelServerCommand(ctx, opts as ModelServerOptions)));
}
