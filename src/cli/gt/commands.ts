/** The full command table of gt: one line per command file, each loaded only when invoked. */
import type { CommandEntry } from '../dispatch.js';
import type { GtContext } from './context.js';

export type Entry = CommandEntry<GtContext>;

/** The command table: one line per command file. */
export const COMMANDS: Entry[] = [
  { names: ['install'], summary: 'Create a town (default ~/gt)', load: () => import('./commands/install.js') },
  { names: ['rig'], summary: 'Rigs (git repositories): add, list, show, remove', load: () => import('./commands/rig.js') },
  { names: ['crew'], summary: 'Long-lived named workers: add, list, attach', load: () => import('./commands/crew.js') },
  { names: ['config'], summary: 'Town settings and agent runtimes', load: () => import('./commands/config.js') },
  { names: ['sling'], summary: "Put beads on workers' hooks and start them", load: () => import('./commands/sling.js') },
  { names: ['hook'], summary: 'Show the work on a hook', load: () => import('./commands/hook.js') },
  { names: ['unsling'], summary: 'Take a bead off its hook', load: () => import('./commands/hook.js') },
  { names: ['prime'], summary: 'What an agent needs to know at session start', load: () => import('./commands/prime.js') },
  { names: ['signal'], summary: 'Runtime hook events (turn boundaries deliver mail)', load: () => import('./commands/signal.js') },
  { names: ['done'], summary: 'Finish the hooked work: merge request, free the worker', load: () => import('./commands/done.js') },
  { names: ['handoff'], summary: 'Note to self, checkpoint, fresh session', load: () => import('./commands/done.js') },
  { names: ['polecat'], summary: 'Polecats: list, nuke', load: () => import('./commands/polecat.js') },
  { names: ['mail'], summary: 'Durable messages: send, inbox, read, ack, reply, check', load: () => import('./commands/mail.js') },
  { names: ['nudge'], summary: 'Wake an agent with a short message', load: () => import('./commands/nudge.js') },
  { names: ['agents'], summary: 'Every agent: role, runtime, session, hook, last signal', load: () => import('./commands/agents.js') },
  { names: ['peek'], summary: "The last lines of an agent's session", load: () => import('./commands/agents.js') },
  { names: ['attach'], summary: "Watch and type into an agent's tmux session", load: () => import('./commands/agents.js') },
  { names: ['mayor'], summary: 'The Mayor, your coordinator agent: start, attach, stop', load: () => import('./commands/mayor.js') },
  { names: ['mq'], summary: 'The merge queue: list, status, run, retry, reject', load: () => import('./commands/mq.js') },
  { names: ['refinery'], summary: 'The merge queue of a rig: run, queue (same as gt mq)', load: () => import('./commands/mq.js') },
  { names: ['up'], summary: 'Start the town daemon', load: () => import('./commands/daemon.js') },
  { names: ['down'], summary: 'Stop the town daemon (and with --all, every session)', load: () => import('./commands/daemon.js') },
  { names: ['status'], summary: 'The town at a glance', load: () => import('./commands/daemon.js') },
  { names: ['formula'], summary: 'Formulas (workflow templates): list, show, cook', load: () => import('./commands/formula.js') },
  { names: ['gate'], summary: 'Gates: list, approve, check, wait', load: () => import('./commands/gate.js') },
  { names: ['convoy'], summary: 'Convoys: beads tracked together until all are closed', load: () => import('./commands/convoy.js') },
  { names: ['witness'], summary: 'GUPP patrol: wake idle agents with hooked work, restart crashed ones', load: () => import('./commands/witness.js') },
  { names: ['permission'], summary: "Agents' permission requests: list, approve, deny, log", load: () => import('./commands/permission.js') },
  { names: ['escalate'], summary: 'Raise a problem to a person (severity, routes, re-escalation)', load: () => import('./commands/escalate.js') },
  { names: ['escalations'], summary: 'Escalations: list, show, ack, close', load: () => import('./commands/escalate.js') },
  { names: ['events'], summary: 'The town event stream: what happened, in order (--follow)', load: () => import('./commands/events.js') },
  { names: ['doctor'], summary: 'Check the town: file modes, secret exposure, push protection', load: () => import('./commands/doctor.js') },
  { names: ['costs'], summary: 'Tokens and USD by agent, bead, convoy, rig or day', load: () => import('./commands/costs.js') },
  { names: ['model-server'], summary: 'A scripted local model server for dry runs and tests', load: () => import('./commands/model-server.js') },
  { names: ['demo'], summary: 'The whole loop in a temporary town, no API key needed', load: () => import('./commands/demo.js') },
  { names: ['completion'], summary: 'Shell completion script: bash, zsh, fish', load: () => import('./commands/completion.js') },
  { names: ['__complete'], summary: 'Values for shell completion', hidden: true, load: () => import('./commands/completion.js') },
  { names: ['run-shell'], summary: 'The shell runtime', hidden: true, load: () => import('./commands/internal.js') },
  { names: ['session'], summary: 'Session control', hidden: true, load: () => import('./commands/internal.js') },
];
