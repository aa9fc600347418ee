import { appendFileSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { modelServer, townFiles } from '../../../app/index.js';
import { apiKeySuffix, claudeConfigFile, configuredForDryRun } from '../../../core/agents/claude-config.js';
import { GtError, usageError } from '../../../shared/errors.js';
import { action, type GtContext } from '../context.js';

interface ModelServerOptions {
  script?: string;
  port: string;
  record?: string;
  setupClaude?: boolean;
  apiKey?: string;
}

/** A key for dry runs: the scripted server takes any, and Claude Code only needs it approved. */
const DRY_RUN_KEY = 'sk-ant-gt-dry-run-0000000000000000000000';

/**
 * Writes into Claude Code's config (of this HOME, or CLAUDE_CONFIG_DIR) the
 * keys it needs to start with no network, and nothing else: onboarding done,
 * the API key approved, the current directory trusted.
 */
function setupClaude(
  ctx: GtContext,
  options: ModelServerOptions,
): { file: string; changed: boolean; api_key: string; api_key_suffix: string; trusted: string } {
  const file = claudeConfigFile(ctx.io.env);
  if (!file)
    throw usageError(
      'neither HOME nor CLAUDE_CONFIG_DIR is set: there is no Claude Code config to write',
      "set HOME (or CLAUDE_CONFIG_DIR) as the town's sessions see it",
    );
  const apiKey = options.apiKey ?? ctx.io.env.ANTHROPIC_API_KEY ?? DRY_RUN_KEY;
  const text = configuredForDryRun(file, townFiles.read(file), apiKey, [ctx.cwd]);
  if (text !== undefined) townFiles.write(file, text);
  return {
    file,
    changed: text !== undefined,
    api_key: apiKey === DRY_RUN_KEY ? apiKey : `…${apiKeySuffix(apiKey)}`,
    api_key_suffix: apiKeySuffix(apiKey),
    trusted: ctx.cwd,
  };
}

/**
 * Serves a scripted model until interrupted: a dry run of a town with real
 * agent CLIs and no API bill. Each request is printed (and recorded) as one JSON line.
 */
async function modelServerCommand(ctx: GtContext, options: ModelServerOptions): Promise<void> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw usageError(`--port ${JSON.stringify(options.port)} is not a port number`, 'use 0 for any free port, or 1–65535');
  if (options.setupClaude) {
    const setup = setupClaude(ctx, options);
    const keyNote =
      options.apiKey === undefined && ctx.io.env.ANTHROPIC_API_KEY === undefined ? ` (set ANTHROPIC_API_KEY=${DRY_RUN_KEY} for the sessions)` : '';
    if (options.script === undefined) {
      ctx.emit(
        setup,
        () =>
          `${setup.changed ? 'Wrote' : 'Already set in'} ${setup.file}: onboarding done, API key ${setup.api_key} approved${keyNote}, ${setup.trusted} trusted.`,
      );
      return;
    }
    ctx.err(
      `${setup.changed ? 'Wrote' : 'Already set in'} ${setup.file}: onboarding done, API key ${setup.api_key} approved${keyNote}, ${setup.trusted} trusted.`,
    );
  }
  if (options.script === undefined) throw usageError('--script <file> is required (or --setup-claude alone)', 'see gt model-server --help');
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
  program
    .command('model-server')
    .description('A local model server that answers agents from a script (Anthropic Messages and OpenAI Responses APIs): dry runs without an API key')
    .option('--script <file>', 'JSON script: {"turns": [{"text": "…", "tools": [{"name": "Bash", "input": {"command": "…"}}], "usage": {…}}]} (see the README)')
    .option('--port <n>', 'port to listen on (0: any free port)', '0')
    .option('--record <file>', 'append every request, whole, to this JSONL file')
    .option(
      '--setup-claude',
      'first write the keys Claude Code needs to start offline into $CLAUDE_CONFIG_DIR/.claude.json or ~/.claude.json (onboarding done, the API key approved, this directory trusted), no other key; alone, only that',
    )
    .option('--api-key <key>', 'the key --setup-claude approves (default: ANTHROPIC_API_KEY, else a dry-run key it prints)')
    .addHelpText(
      'after',
      `
Each line on stdout is one request: {at, lane, path, main, turn}. A base URL may end in /<lane>;
each lane can have its own script (tests use this to drive several agents from one server).

A turn is {text, tools, usage, match, error, delay_ms}; the README has the whole format.

Examples:
  export ANTHROPIC_BASE_URL=http://127.0.0.1:8787 ANTHROPIC_API_KEY=${DRY_RUN_KEY}
  gt model-server --setup-claude --script dry-run.json --port 8787 &
  claude -p "hello"                         # or: gt sling <bead> <rig> --agent claude`,
    )
    .action(action(ctx, async (opts: unknown) => modelServerCommand(ctx, opts as ModelServerOptions)));
}
