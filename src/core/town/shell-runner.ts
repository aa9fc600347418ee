/**
 * The `shell` runtime: gt's own worker, no LLM. It primes like any agent,
 * runs the hooked bead's `run` commands in the worktree (mail is delivered
 * between commands: its turn boundaries), commits what changed, and calls
 * done. A failing command escalates the bead with its output.
 */
import type { Identity } from './identity.js';
import { Mailbox, renderInjected } from './mail.js';
import { renderPrime, runSteps } from './prime.js';
import { recordSignal } from './signals.js';
import type { Town } from './town.js';
import { finishWork, hookedWork, type DoneResult } from './work.js';
import { dirtyFiles } from './worktree.js';

const STEP_TIMEOUT_MS = 30 * 60_000;

export async function runShellAgent(town: Town, identity: Identity, env: Record<string, string>, out: (text: string) => void): Promise<{ code: number; done?: DoneResult }> {
  const { ledger, ports } = town;
  const mailbox = new Mailbox(ledger, identity.address);
  await recordSignal(town, identity, 'session-start');
  const agent = await town.agent(identity);
  const dir = town.path(agent?.workdir ?? '.');
  const hooked = await hookedWork(ledger, identity.address);
  const bead = hooked[0];
  const inbox = await mailbox.inbox(identity.address);
  const handoff = inbox.find((m) => m.kind === 'handoff');
  out(renderPrime({ identity, hooked, mail: inbox.filter((m) => m.kind !== 'handoff'), ...(handoff ? { handoff } : {}), ...(bead ? { steps: runSteps(bead) } : {}) }));
  const deliver = async () => {
    const text = renderInjected(identity.address, await mailbox.takePending(identity.address));
    if (text) out(text);
  };
  await deliver();
  if (!bead) {
    out('gt shell: nothing on the hook; freeing this worker.\n');
    const done = await finishWork(town, identity, 'DEFERRED', 'nothing was hooked');
    endSession(town, identity);
    return { code: 0, done };
  }
  const steps = runSteps(bead);
  if (steps.length === 0) {
    out(`gt shell: ${bead.id} has no run commands (metadata "run" or a \`\`\`run block); escalating.\n`);
    const done = await finishWork(town, identity, 'ESCALATED', 'the shell runtime found no run commands in the bead');
    endSession(town, identity);
    return { code: 1, done };
  }
  for (const [index, step] of steps.entries()) {
    await recordSignal(town, identity, 'prompt-submit');
    out(`$ ${step}\n`);
    const result = await ports.shell.run(step, { cwd: dir, env: { ...env, GT_BEAD: bead.id, GT_STEP: String(index + 1) }, timeoutMs: STEP_TIMEOUT_MS, onOutput: out });
    await recordSignal(town, identity, 'stop');
    await deliver();
    if (result.code !== 0 || result.timedOut) {
      const why = result.timedOut ? 'timed out' : `exited with ${result.code}`;
      out(`gt shell: step ${index + 1} ${why}; escalating ${bead.id}.\n`);
      const tail = (result.stdout + result.stderr).slice(-1500);
      const done = await finishWork(town, identity, 'ESCALATED', `step ${index + 1} \`${step}\` ${why}:\n${tail}`);
      endSession(town, identity);
      return { code: 1, done };
    }
  }
  if ((await dirtyFiles(ports.git, dir)).length > 0) {
    await ports.git.run(dir, ['add', '-A']);
    await ports.git.run(dir, ['commit', '-q', '-m', `${bead.id}: ${bead.title}`], { env });
  }
  const done = await finishWork(town, identity, 'COMPLETED');
  out(`gt shell: done: ${done.commits} commit(s) on ${done.branch}, merge request ${done.merge_request}\n`);
  endSession(town, identity);
  return { code: 0, done };
}

/** Like `gt done`: a polecat's session ends with its work (from outside, a moment after this process exits). */
function endSession(town: Town, identity: Identity): void {
  if (identity.role === 'polecat') town.detach(['session', 'stop', identity.address, '--after-ms', '300']);
}
