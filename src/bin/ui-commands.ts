/**
 * The commands whose edge is a UI (src/ui/): the CLI parses their flags, the
 * binary hands them the UI, so neither edge imports the other and the UI's
 * code (Hono, Ink, React) loads only when its command runs.
 */
import type { Entry } from '../cli/gt/commands.js';

export const UI_COMMANDS: Entry[] = [
  {
    names: ['dashboard'],
    summary: 'The town in a browser: live panels, metrics, command palette',
    load: async () => {
      const { registerDashboard } = await import('../cli/gt/commands/dashboard.js');
      return {
        default: (program, ctx) =>
          registerDashboard(program, ctx, async (town, options) => (await import('../ui/dashboard/server.js')).startDashboard(town, options)),
      };
    },
  },
  {
    names: ['feed'],
    summary: 'The town in the terminal: agents, convoys, events, problems (--plain for pipes)',
    load: async () => {
      const { registerFeed } = await import('../cli/gt/commands/feed.js');
      return { default: (program, ctx) => registerFeed(program, ctx, async (town, options) => (await import('../ui/feed/run.js')).runFeed(town, options)) };
    },
  },
];
