/**
 * Runs `gt feed` against a town: builds the FeedSource from core calls and
 * loads the Ink UI, which lives in a bundle of its own (dist/gt-feed.mjs:
 * Ink needs ESM and top-level await), so no other command ever parses it.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseIdentity } from '../../core/agents/identity.js';
import { nudgeAgent } from '../../core/comms/nudge.js';
import { recentEvents } from '../../core/events/follow.js';
import { alwaysAllow } from '../../core/governance/always-allow.js';
import { answerPermission } from '../../core/governance/permissions.js';
import type { DaemonStatus } from '../../core/town/ports.js';
import type { Town } from '../../core/town/town.js';
import { peekAgent, townSnapshot } from '../../core/watch/snapshot.js';
import { handoff } from '../../core/work/work.js';
import { notFoundError } from '../../shared/errors.js';
import type { FeedOptions, FeedSource, runFeedApp } from './app.js';

export interface RunFeedOptions {
  daemonStatus: () => DaemonStatus;
  noColor: boolean;
  rig?: string;
  type?: string;
}

/** The feed's data and actions, as calls into core. */
export function feedSource(town: Town, daemonStatus: () => DaemonStatus): FeedSource {
  return {
    snapshot: () => townSnapshot(town, daemonStatus()),
    events: (after) => town.ledger.townEvents(after, {}, 500),
    watch: (wake) => town.ledger.watchEvents(wake),
    recent: (limit) => recentEvents(town.ledger, {}, limit),
    peek: async (address) => {
      const agent = await town.agent(parseIdentity(address));
      if (!agent) throw notFoundError(`no agent ${address}`);
      return peekAgent(town, agent, 40);
    },
    nudge: async (address, text) => {
      const result = await nudgeAgent(town, town.ledger.actor, parseIdentity(address), text, { waitSec: 0, idleWaitSec: 2 });
      return `nudged ${result.agent} (${result.delivery})`;
    },
    answer: async (request, action) => {
      const who = { by: town.ledger.actor, via: 'person' as const };
      const view = action === 'always' ? await alwaysAllow(town, request, who) : await answerPermission(town, request, action, who);
      return `${view.id}: ${view.status} (${view.agent} ${view.tool})${view.rule_added ? `; added to ${view.rule_added.file}: ${view.rule_added.rule}` : ''}`;
    },
    handoff: async (address) => {
      const identity = parseIdentity(address);
      const result = await handoff(town, identity, `Handoff from gt feed by ${town.ledger.actor}.`);
      town.ports.detached.restartSession(identity.address, 300);
      return `handed off ${address}${result.checkpoint ? ` (checkpoint ${result.checkpoint})` : ''}; restarting its session`;
    },
  };
}

type AppModule = { runFeedApp: typeof runFeedApp };

/** The Ink UI: its own bundle next to this one when bundled, the source module otherwise. */
async function loadApp(): Promise<AppModule> {
  const bundled = typeof __filename === 'string' && __filename.endsWith('.cjs');
  // A computed specifier: the bundler leaves it alone, so Ink never enters this bundle.
  const specifier = bundled ? pathToFileURL(join(__dirname, 'gt-feed.mjs')).href : './app.js';
  // Ink reads CI / CONTINUOUS_INTEGRATION once, when it loads, and then draws only a last frame and ignores keys. The
  // feed runs only on a terminal (pipes get --plain), so a CI variable in a person's shell must not turn it off.
  const saved = { CI: process.env.CI, CONTINUOUS_INTEGRATION: process.env.CONTINUOUS_INTEGRATION };
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  try {
    // The launcher's import (src/bin/gt.ts): gt-full runs through V8's code cache, whose compiled code cannot import().
    const load = (globalThis as { __gtImport?: (specifier: string) => Promise<unknown> }).__gtImport ?? ((s: string) => import(s));
    return (await load(specifier)) as AppModule;
  } finally {
    for (const [key, value] of Object.entries(saved)) if (value !== undefined) process.env[key] = value;
  }
}

export async function runFeed(town: Town, options: RunFeedOptions): Promise<void> {
  const { runFeedApp } = await loadApp();
  const feedOptions: FeedOptions = {
    noColor: options.noColor,
    initialFilter: { search: '', ...(options.rig ? { rig: options.rig } : {}), ...(options.type ? { type: options.type } : {}) },
  };
  await runFeedApp(feedSource(town, options.daemonStatus), feedOptions);
}
