/**
 * The hot path: `gt prime`, `gt signal`, `gt hook` and `gt mail check`, which
 * agent hooks run on every turn of every agent. They are parsed with Node's
 * own util.parseArgs instead of commander: commander loads node:child_process
 * and its own code at start (~15 ms of a ~150 ms run, measured with
 * --cpu-prof), a cost 20–50 agents would pay on every turn. `--help` for
 * these commands is served by the full CLI (see isHot).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EXIT_CODES, GtError } from '../../shared/errors.js';
import { reportError, type Io } from '../output.js';
import { GtContext } from './context.js';
import { hookCommand } from './commands/hook.js';
import { mailCheckCommand } from './commands/mail-check.js';
import { primeCommand } from './commands/prime.js';
import { signalCommand } from './commands/signal.js';

const COMMON = { json: { type: 'boolean' }, agent: { type: 'string' }, directory: { type: 'string', short: 'C' } } as const;
const OPTIONS = {
  prime: { ...COMMON, hook: { type: 'boolean' } },
  signal: { ...COMMON, format: { type: 'string', default: 'text' } },
  hook: COMMON,
  mail: { ...COMMON, inject: { type: 'boolean' } },
} satisfies Record<string, ParseArgsConfig['options']>;

export { isHot } from './hot-argv.js';

export async function runHot(argv: string[], io: Io): Promise<number> {
  const ctx = new GtContext(io);
  try {
    const word = argv.find((a) => !a.startsWith('-')) as keyof typeof OPTIONS;
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS[word], allowPositionals: true, strict: true });
    const v = values as { json?: boolean; agent?: string; directory?: string; hook?: boolean; format?: string; inject?: boolean };
    ctx.globals = { ...(v.json ? { json: true } : {}), ...(v.directory ? { directory: v.directory } : {}) };
    const agent = v.agent !== undefined ? { agent: v.agent } : {};
    const [, first] = positionals;
    if (word === 'prime') await primeCommand(ctx, { ...agent, ...(v.hook ? { hook: true } : {}) });
    else if (word === 'hook') await hookCommand(ctx, agent);
    else if (word === 'mail') await mailCheckCommand(ctx, { ...agent, ...(v.inject ? { inject: true } : {}) });
    else {
      if (first === undefined) throw new GtError('usage', 'missing the signal name', { hint: 'see gt signal --help' });
      return await signalCommand(ctx, first, { ...agent, format: v.format ?? 'text' }, positionals.slice(2));
    }
    return 0;
  } catch (error) {
    // util.parseArgs reports an unknown or malformed flag as a TypeError with an ERR_PARSE_ARGS_* code.
    const usage = error instanceof TypeError && String((error as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS');
    reportError(io, usage ? new GtError('usage', error.message, { hint: `see gt ${argv[0] ?? ''} --help` }) : error, ctx.json || argv.includes('--json'));
    return usage ? EXIT_CODES.usage : error instanceof GtError ? EXIT_CODES[error.kind] : EXIT_CODES.internal;
  } finally {
    await ctx.close();
  }
}
