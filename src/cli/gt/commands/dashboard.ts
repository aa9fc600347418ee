import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { DaemonStatus } from '../../../core/town/ports.js';
import type { Town } from '../../../core/town/town.js';
import type { RuntimeProbe } from '../../../core/work/work.js';
import { GtError, usageError } from '../../../shared/errors.js';
import { action, type GtContext } from '../context.js';

export interface DashboardOptions {
  host: string;
  port: number;
  /** A token the person chose (GT_DASHBOARD_TOKEN or --token-file); a random one otherwise. */
  token?: string;
  daemonStatus: () => DaemonStatus;
  probe: RuntimeProbe;
  /** Writes launchers before a session starts (what `gt sling` does). */
  prepareSessions: () => void;
  log: (line: string) => void;
}

export interface DashboardHandle {
  url: string;
  token: string;
  close: () => Promise<void>;
}

/** The dashboard edge (src/ui/dashboard), handed in by the binary so the CLI never imports another edge. */
export type DashboardEdge = (town: Town, options: DashboardOptions) => Promise<DashboardHandle>;

export function registerDashboard(program: Command, ctx: GtContext, serve: DashboardEdge): void {
  program
    .command('dashboard')
    .description('The town in a browser: agents, convoys, merge queue, permission asks, escalations, mail, costs and metrics, live, with a command palette')
    .option('--port <n>', 'port to listen on (0: any free port)', '7420')
    .option('--bind <address>', 'listen on this address instead of 127.0.0.1 (needs a token you chose: GT_DASHBOARD_TOKEN or --token-file)')
    .option('--token-file <path>', 'read the dashboard token from this file (kept out of argv and shell history)')
    .addHelpText(
      'after',
      `
Prints a URL with a one-time token: opening it trades the token for a cookie (HttpOnly,
SameSite=Strict). Every change (sling, nudge, approve…) is a POST under /api/ that needs the
cookie or "Authorization: Bearer <token>", and the CSRF token from GET /api/session in an
X-CSRF-Token header. Press Ctrl+K (Cmd+K) in the page for the command palette.

Examples:
  gt dashboard                                  # http://127.0.0.1:7420/?token=…
  gt dashboard --port 0                         # any free port
  GT_DASHBOARD_TOKEN=$(cat ~/.gt-token) gt dashboard --bind 0.0.0.0
  curl -H "Authorization: Bearer $T" -H "X-CSRF-Token: $C" -d bead=app-a3f8 -d target=app http://127.0.0.1:7420/api/sling`,
    )
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as { port: string; bind?: string; tokenFile?: string };
        const port = Number(options.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw usageError(`--port ${JSON.stringify(options.port)} is not a port number`);
        let token = ctx.io.env.GT_DASHBOARD_TOKEN?.trim() || undefined;
        if (options.tokenFile) {
          try {
            token = readFileSync(options.tokenFile, 'utf8').trim();
          } catch (error) {
            throw new GtError('not_found', `cannot read --token-file ${options.tokenFile}: ${(error as Error).message}`);
          }
        }
        if (token !== undefined && token.length < 16)
          throw usageError('the dashboard token is shorter than 16 characters', 'use a long random one: openssl rand -hex 24');
        if (options.bind && !token)
          throw usageError(
            `--bind ${options.bind} exposes the town beyond this machine and needs a token you chose`,
            'set GT_DASHBOARD_TOKEN or pass --token-file',
          );
        const town = await ctx.townForSessions();
        const { townDaemon, writeLaunchers } = await import('../../../app/index.js');
        const daemon = townDaemon(town.root, ctx.io.env);
        const handle = await serve(town, {
          host: options.bind ?? '127.0.0.1',
          port,
          ...(token ? { token } : {}),
          daemonStatus: () => daemon.status(),
          probe: ctx.runtimeProbe,
          prepareSessions: () => writeLaunchers(town.root),
          log: (line) => ctx.err(line),
        });
        ctx.out(`Dashboard: ${handle.url}${token ? '' : `/?token=${handle.token}`}`);
        if (token) ctx.err('Open it and sign in with your token: <url>/?token=<token> (it becomes a cookie).');
        ctx.err('Ctrl-C to stop.');
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await handle.close();
      }),
    );
}
