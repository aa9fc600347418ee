/**
 * The `shell` runtime: gt's own worker, no LLM. It primes like any agent,
 * runs the hooked bead's `run` commands (a molecule's: step by step, in
 * ready order, waiting at gates) in the worktree (mail is delivered
 * between commands: its turn boundaries), commits what changed, and calls
 * done. A failing command escalates the bead with its output.
 */
import { single } from '../beads/ledger.js';
import { moleculeProgress } from '../formulas/molecule.js';
import type { Identity } from './identity.js';
import { Mailbox, renderInjected } from '../comms/mail.js';
import { assemblePrime, runSteps, stepText, type RunStep } from '../work/prime.js';
import { recordSignal } from './signals.js';
import type { Town } from '../town/town.js';
import { waitOnGates } from '../work/molecule-work.js';
import { finishWork, type DoneResult } from '../work/work.js';
import { dirtyFiles } from '../town/worktree.js';

const STEP_TIMEOUT_MS = 30 * 60_000;

export async function runShellAgent(
  town: Town,
  identity: Identity,
  env: Record<string, string>,
  out: (text: string) => void,
): Promise<{ code: number; done?: DoneResult }> {
  const { ledger, ports } = town;
  const mailbox = new Mailbox(ledger, identity.address);
  await recordSignal(town, identity, 'session-start');
  const agent = await town.agent(identity);
  const dir = town.path(agent?.workdir ?? '.');
  const prime = await assemblePrime(town, identity);
  const bead = prime.input.hooked[0];
  out(prime.text);
  const deliver = async () => {
    const text = renderInjected(identity.address, await mailbox.takePending(identity.address));
    if (text) out(text);
  };
  await deliver();
  if (!bead) {
    out('gt shell: nothing on the hook; freeing this worker.\n');
    const done = await finishWork(town, identity, 'DEFERRED', { message: 'nothing was hooked', caller: identity.address });
    return { code: 0, done };
  }
  const run = async (
    steps: RunStep[],
    label: (index: number) => string,
    stepEnv: Record<string, string>,
  ): Promise<{ code: number; done?: DoneResult } | undefined> => {
    for (const [index, step] of steps.entries()) {
      const { command } = step;
      await recordSignal(town, identity, 'prompt-submit');
      // A script is echoed as a shell shows one typed at its prompt: `$ ` then `> ` per continuation line.
      out(`$ ${command.split('\n').join('\n> ')}\n`);
      const result = await ports.shell.run(stepText(step), {
        cwd: dir,
        env: { ...env, GT_STEP: String(index + 1), ...stepEnv, GT_BEAD: bead.id },
        timeoutMs: STEP_TIMEOUT_MS,
        onOutput: out,
      });
      await recordSignal(town, identity, 'stop');
      await deliver();
      if (result.code !== 0 || result.timedOut) {
        const why = result.timedOut ? 'timed out' : `exited with ${result.code}`;
        out(`gt shell: ${label(index)} ${why}; escalating ${bead.id}.\n`);
        const tail = (result.stdout + result.stderr).slice(-1500);
        const done = await finishWork(town, identity, 'ESCALATED', { message: `${label(index)} \`${command}\` ${why}:\n${tail}`, caller: identity.address });
        return { code: 1, done };
      }
    }
    return undefined;
  };
  if (bead.issue_type === 'molecule') {
    // Walk the molecule: the first ready step, its commands, close it; a gate ends the session until it opens.
    for (;;) {
      const mol = await moleculeProgress(ledger, bead.id);
      const step = mol.current[0];
      if (!step) {
        if (mol.next.length === 0) break;
        if (mol.gates.length > 0) {
          const wait = await waitOnGates(town, identity);
          out(`gt shell: waiting on ${wait.gates.join(', ')}; this session ends and a new one starts at the next step when the gate opens.\n`);
          // Like gt gate wait: the session ends from outside, a moment after this process exits.
          ports.detached.stopSession(identity.address, 300, agent?.run);
          return { code: 0 };
        }
        return escalate(
          town,
          identity,
          out,
          `${bead.id}: no step is ready and none waits on a gate (${mol.next.map((s) => s.id).join(', ')} wait on other beads)`,
        );
      }
      const commands = runSteps(step);
      if (commands.length === 0) return escalate(town, identity, out, `step ${step.id} "${step.title}" has no run commands for the shell runtime`);
      out(`gt shell: step ${step.id} — ${step.title}\n`);
      const failed = await run(commands, (i) => `step ${step.id} command ${i + 1}`, { GT_STEP: step.id });
      if (failed) return failed;
      single(await ledger.close([step.id], { reason: `Ran by ${identity.address}` }));
    }
  } else {
    const steps = runSteps(bead);
    if (steps.length === 0) return escalate(town, identity, out, `${bead.id} has no run commands (metadata "run" or a \`\`\`run block)`);
    const failed = await run(steps, (i) => `step ${i + 1}`, {});
    if (failed) return failed;
  }
  if ((await dirtyFiles(ports.git, dir)).length > 0) {
    await ports.git.run(dir, ['add', '-A']);
    await ports.git.run(dir, ['commit', '-q', '-m', `${bead.id}: ${bead.title}`], { env });
  }
  const done = await finishWork(town, identity, 'COMPLETED', { caller: identity.address });
  out(`gt shell: done: ${done.commits} commit(s) on ${done.branch}, merge request ${done.merge_request}\n`);
  return { code: 0, done };
}

async function escalate(town: Town, identity: Identity, out: (text: string) => void, why: string): Promise<{ code: number; done: DoneResult }> {
  out(`gt shell: ${why}; escalating.\n`);
  const done = await finishWork(town, identity, 'ESCALATED', { message: `the shell runtime stopped: ${why}`, caller: identity.address });
  return { code: 1, done };
}
