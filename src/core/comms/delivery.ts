import type { Identity } from '../agents/identity.js';
import { stdinMessage } from '../agents/runtimes.js';
import type { Town } from '../town/town.js';
import { Mailbox, renderInjected } from './mail.js';

/**
 * After the durable write: a headless agent with a stream protocol gets its
 * pending mail on stdin now (marked delivered as it is written); an agent in
 * tmux that sits idle at its prompt is woken, so its prompt hook delivers the
 * mail. A busy agent gets it at its next turn boundary anyway.
 */
export async function wakeForMail(town: Town, recipient: Identity, from: string, subject: string): Promise<'stdin' | 'wake' | 'inbox'> {
  const agent = await town.agent(recipient);
  if (!agent?.active || !agent.backend || !(await town.sessionAlive(agent))) return 'inbox';
  const runtime = town.runtimeFor(recipient, agent.runtime);
  if (agent.backend === 'headless') {
    // Only a stream protocol can take a message mid-session; check before taking anything.
    if (stdinMessage(runtime, '') === undefined) return 'inbox';
    const taken = await new Mailbox(town.ledger, recipient.address).takePending(recipient.address);
    if (taken.length === 0) return 'inbox';
    await town.ports.backend('headless').send(agent.session, stdinMessage(runtime, renderInjected(recipient.address, taken)) as string);
    return 'stdin';
  }
  town.ports.detached.nudge(recipient.address, `New mail from ${from}: ${subject}`, { ifIdle: true, idleWaitSec: 2, waitSec: 5 });
  return 'wake';
}
