/**
 * Talking to agents: nudges typed into a real tmux session, and mail
 * delivered at turn boundaries by the agent's hooks, exactly once. The agent
 * is a small interactive script (test/fixtures/fake-agent.sh) that calls
 * gt's hooks the way Claude Code does; the real Claude Code runs in issue 4's tests.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OWN_FIXTURES } from '../support/env.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

const AGENT = 'app/crew/ada';

function startFakeAgent(town: TestTown): string {
  const log = join(town.base, 'agent.log');
  expect(town.gt(['config', 'agent', 'set', 'fake', `sh ${join(OWN_FIXTURES, 'fake-agent.sh')} ${log}`]).code).toBe(0);
  expect(town.gt(['crew', 'add', 'ada', '--rig', 'app']).code).toBe(0);
  const started = town.gt(['crew', 'attach', 'ada', '--agent', 'fake', '--backend', 'tmux', '--detached']);
  expect(started.code, started.stderr).toBe(0);
  return log;
}

const read = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8') : '');
const count = (text: string, needle: string) => text.split(needle).length - 1;

async function idle(town: TestTown, log: string): Promise<void> {
  // A runtime without a prompt argument gets its start-up prompt typed: that is its first turn.
  await waitFor('the start-up prompt', () => read(log).includes('turn: [gt] You are app/crew/ada') || undefined, 30_000);
  await waitFor(
    'the agent to be idle',
    () => {
      const agent = town.json<Array<{ agent: string; state: string; last_signal: string | null }>>(['agents']).find((a) => a.agent === AGENT);
      return agent?.state === 'idle' && agent.last_signal !== null ? true : undefined;
    },
    30_000,
  );
}

describe('nudges and mail', () => {
  it('two nudges sent at once arrive as two whole turns, each confirmed by the next hook event', async () => {
    const town = makeTown({ rig: 'app' });
    const log = startFakeAgent(town);
    await idle(town, log);
    const [a, b] = await Promise.all([
      town.gtAsync(['nudge', AGENT, 'first message alpha', '--json']),
      town.gtAsync(['nudge', AGENT, 'second message beta', '--json']),
    ]);
    for (const r of [a, b]) {
      expect(r?.code, r?.stderr).toBe(0);
      expect(JSON.parse(r?.stdout ?? '{}')).toMatchObject({ agent: AGENT, delivery: 'typed', confirmed: true });
    }
    await waitFor('both turns', () => count(read(log), 'turn: [nudge') === 2 || undefined);
    const turns = read(log)
      .split('\n')
      .filter((l) => l.startsWith('turn: [nudge'))
      .sort();
    expect(turns).toEqual(['turn: [nudge from human] first message alpha', 'turn: [nudge from human] second message beta']);
  });

  it('mail sent while the agent works arrives at its next turn boundary exactly once', async () => {
    const town = makeTown({ rig: 'app' });
    const log = startFakeAgent(town);
    await idle(town, log);
    const slow = town.json<{ delivery: string; confirmed: boolean }>(['nudge', AGENT, 'a slow task']);
    expect(slow).toMatchObject({ delivery: 'typed', confirmed: true });
    // Mid-turn: a mail, and a nudge that must not be typed into the busy agent.
    const sent = town.json<{ id: string }>(['mail', 'send', AGENT, '-s', 'Heads up', '-m', 'the API moved to v2']);
    const queued = town.json<{ delivery: string }>(['nudge', AGENT, 'ping while busy', '--idle-wait', '0']);
    expect(queued.delivery).toBe('queued');
    expect(count(read(log), '] Heads up')).toBe(0);
    await waitFor('delivery at the end of the turn', () => read(log).includes('] Heads up') || undefined, 20_000);
    // The next turn boundary delivers nothing twice.
    await idle(town, log);
    expect(town.json<{ confirmed: boolean }>(['nudge', AGENT, 'another task']).confirmed).toBe(true);
    await waitFor('the third turn', () => read(log).includes('turn: [nudge from human] another task') || undefined);
    await waitFor(
      'its stop hook',
      () => town.json<Array<{ agent: string; last_signal: string }>>(['agents']).find((x) => x.agent === AGENT)?.last_signal === 'stop' || undefined,
    );
    const text = read(log);
    expect(count(text, '] Heads up')).toBe(1); // the injected form: [mail <id> from human] Heads up
    expect(count(text, 'the API moved to v2')).toBe(1);
    expect(count(text, 'ping while busy')).toBe(1);
    expect(text).toContain('<system-reminder>');
    const inbox = town.json<Array<{ id: string; delivered: boolean; read: boolean }>>(['mail', 'inbox', '--agent', AGENT]);
    expect(inbox.find((m) => m.id === sent.id)).toMatchObject({ delivered: true, read: false });
    // Reading, replying and acknowledging, as the agent.
    expect(town.json<{ read: boolean }>(['mail', 'read', sent.id, '--agent', AGENT]).read).toBe(true);
    const reply = town.json<{ to: string; thread: string }>(['mail', 'reply', sent.id, '-m', 'on it', '--agent', AGENT]);
    expect(reply).toMatchObject({ to: 'human', thread: sent.id });
    expect(town.json<Array<{ subject: string }>>(['mail', 'thread', sent.id]).map((m) => m.subject)).toEqual(['Heads up', 'Re: Heads up']);
    town.json(['mail', 'ack', sent.id, '--agent', AGENT]);
    expect(town.json<Array<{ id: string }>>(['mail', 'inbox', '--agent', AGENT]).map((m) => m.id)).not.toContain(sent.id);
  });

  it('mail to an idle agent wakes it, and its prompt hook delivers the mail once', async () => {
    const town = makeTown({ rig: 'app' });
    const log = startFakeAgent(town);
    await idle(town, log);
    const sent = town.json<{ id: string; delivery: string }>(['mail', 'send', AGENT, '-s', 'Wake up', '-m', 'new orders']);
    expect(sent.delivery).toBe('wake');
    await waitFor('the wake-up turn', () => read(log).includes('turn: [nudge from human] New mail from human: Wake up') || undefined, 20_000);
    await waitFor('the mail', () => read(log).includes('new orders') || undefined, 20_000);
    await idle(town, log);
    expect(count(read(log), 'new orders')).toBe(1);
    expect(town.json<Array<{ id: string; delivered: boolean }>>(['mail', 'inbox', '--agent', AGENT]).find((m) => m.id === sent.id)?.delivered).toBe(true);
  });

  it('a headless agent with a stream protocol gets its prompt, nudges and mail on stdin', async () => {
    const town = makeTown({ rig: 'app' });
    const log = join(town.base, 'stream.log');
    expect(town.gt(['config', 'agent', 'set', 'streamy', `sh ${join(OWN_FIXTURES, 'fake-stream-agent.sh')} ${log}`, '--like', 'claude']).code).toBe(0);
    expect(town.gt(['crew', 'add', 'ada', '--rig', 'app']).code).toBe(0);
    expect(town.gt(['crew', 'attach', 'ada', '--rig', 'app', '--agent', 'streamy', '--backend', 'headless', '--detached']).code).toBe(0);
    const lines = () =>
      read(log)
        .split('\n')
        .filter((l) => l)
        .map((l) => JSON.parse(l) as { type: string; message: { role: string; content: string } });
    await waitFor('the start-up prompt', () => lines().length === 1 || undefined);
    expect(lines()[0]).toMatchObject({ type: 'user', message: { role: 'user' } });
    expect(lines()[0]?.message.content).toContain('You are app/crew/ada');
    const sent = town.json<{ id: string; delivery: string }>(['mail', 'send', AGENT, '-s', 'Over the wire', '-m', 'stdin body']);
    expect(sent.delivery).toBe('stdin');
    await waitFor('the mail line', () => lines().length === 2 || undefined);
    expect(lines()[1]?.message.content).toContain('stdin body');
    expect(town.json<Array<{ id: string; delivered: boolean }>>(['mail', 'inbox', '--agent', AGENT]).find((m) => m.id === sent.id)?.delivered).toBe(true);
    expect(town.json<{ delivery: string }>(['nudge', AGENT, 'keep going', '--no-wait']).delivery).toBe('stdin');
    await waitFor('the nudge line', () => lines().length === 3 || undefined);
    expect(lines()[2]?.message.content).toBe('[nudge from human] keep going');
  });

  it('Cursor-style project hooks go into the worktree without touching the repository or its status', () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'agent', 'set', 'cursorish', 'sleep 600', '--like', 'cursor']).code).toBe(0);
    expect(town.gt(['crew', 'add', 'ada', '--rig', 'app']).code).toBe(0);
    expect(town.gt(['crew', 'attach', 'ada', '--rig', 'app', '--agent', 'cursorish', '--detached']).code).toBe(0);
    const dir = join(town.root, 'app', 'crew', 'ada');
    const hooks = JSON.parse(readFileSync(join(dir, '.cursor', 'hooks.json'), 'utf8')) as { hooks: Record<string, Array<{ command: string }>> };
    expect(hooks.hooks.sessionStart?.[0]?.command).toMatch(/\/\.gt\/bin\/gt prime --hook$/);
    expect(hooks.hooks.beforeSubmitPrompt?.[0]?.command).toContain('signal prompt-submit --format cursor');
    expect(town.git(dir, ['status', '--porcelain'])).toBe('');
  });
});
