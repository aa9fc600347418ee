/**
 * Escalations with real processes: an agent (the shell runtime in tmux) runs
 * `gt escalate`; the person sees it in the inbox, `gt status`, `gt agents`
 * and `bd blocked`; the daemon raises an unacked one again; bad routes are
 * refused naming file and key. And shell completions, run in real shells.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BD, GT } from '../support/env.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

interface EscalationRow {
  id: string;
  severity: string;
  state: string;
  source: string;
  subject?: string;
  agent?: string;
  reescalations: number;
}
interface MailRow {
  id: string;
  subject: string;
  escalation?: string;
}

describe('escalations', () => {
  it("an agent's gt escalate reaches the human inbox, gt status, gt agents and bd blocked; acking its mail acks it, closing it frees the bead", async () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Deploy to staging', ['gt escalate -s high "the staging key is missing"', 'sleep 60']);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'shell']);
    const agent = slung?.agent ?? '';
    const escalation = await waitFor('the escalation', () => town.json<EscalationRow[]>(['escalations']).find((e) => e.subject === bead), 60_000);
    expect(escalation).toMatchObject({ severity: 'high', state: 'open', source: 'agent', agent });

    const inbox = town.json<MailRow[]>(['mail', 'inbox']);
    expect(inbox.filter((m) => m.escalation === escalation?.id).map((m) => m.subject)).toEqual(['the staging key is missing']);
    expect(town.json<MailRow[]>(['mail', 'inbox', '--agent', 'mayor']).some((m) => m.escalation === escalation?.id)).toBe(true);

    const status = town.gt(['status']);
    expect(status.stdout).toMatch(/Escalations\s+1 open · 0 acked/);
    expect(status.stdout).toContain(escalation?.id);
    expect(town.json<{ escalations: EscalationRow[] }>(['status']).escalations.map((e) => e.id)).toEqual([escalation?.id]);

    const agents = town.json<Array<{ agent: string; escalations: Array<{ id: string }> }>>(['agents']);
    expect(agents.find((a) => a.agent === agent)?.escalations.map((e) => e.id)).toEqual([escalation?.id]);
    expect(town.gt(['agents']).stdout).toContain(`escalated (${escalation?.id})`);

    const blocked = town.json<Array<{ id: string; escalated?: Array<{ escalation: string }> }>>(['bd', 'blocked']);
    expect(blocked.find((b) => b.id === bead)?.escalated?.map((e) => e.escalation)).toEqual([escalation?.id]);
    expect(town.gt(['bd', 'blocked']).stdout).toContain(`blocked by escalation ${escalation?.id}: the staging key is missing`);

    const mail = inbox.find((m) => m.escalation === escalation?.id);
    expect(town.gt(['mail', 'ack', mail?.id ?? '']).stdout).toContain(`Acked escalation ${escalation?.id}`);
    expect(town.json<EscalationRow>(['escalations', 'show', escalation?.id ?? ''])).toMatchObject({ state: 'acked' });
    expect(town.gt(['escalations', 'close', escalation?.id ?? '', '-r', 'put the key in the vault']).code).toBe(0);
    expect(town.json<EscalationRow[]>(['escalations'])).toEqual([]);
    expect(town.json<unknown[]>(['bd', 'blocked'])).toEqual([]);
    expect(town.gt(['status']).stdout).toMatch(/Escalations\s+none open/);
  });

  it('the daemon raises an unacked high escalation again after stale_after, up to max_reescalations', async () => {
    const town = makeTown({ rig: 'app' });
    for (const [key, value] of [
      ['escalation.stale_after', '"1s"'],
      ['escalation.max_reescalations', '1'],
      ['daemon.interval', '"1s"'],
    ])
      expect(town.gt(['config', 'set', key as string, value as string]).code).toBe(0);
    const raised = town.json<EscalationRow>(['escalate', '-s', 'high', 'the build machine is out of disk']);
    expect(town.gt(['up']).code).toBe(0);
    const again = await waitFor(
      'the re-escalation',
      () => {
        const row = town.json<EscalationRow>(['escalations', 'show', raised.id]);
        return row.reescalations === 1 ? row : undefined;
      },
      60_000,
    );
    expect(again).toMatchObject({ severity: 'critical', state: 'open' });
    const subjects = town
      .json<MailRow[]>(['mail', 'inbox'])
      .filter((m) => m.escalation === raised.id)
      .map((m) => m.subject);
    expect(subjects.sort()).toEqual(['RE-ESCALATED (1) the build machine is out of disk', 'the build machine is out of disk']);
    const events = town.json<Array<{ kind: string }>>(['events', '--type', 'escalation']).map((e) => e.kind);
    expect(events).toEqual(['escalation.raised', 'escalation.reescalated']);
    expect(town.gt(['down']).code).toBe(0);
  });

  it('bad routes are refused with the file and the key, and nothing changes', () => {
    const town = makeTown();
    const file = join(town.root, 'town.toml');
    const before = readFileSync(file, 'utf8');
    const set = town.gt(['config', 'set', 'escalation.routes.high', '["mail:mayor", "pager:ops"]']);
    expect(set.code).toBe(3);
    expect(set.stderr).toContain('escalation.routes.high.1');
    expect(set.stderr).toContain(file);
    expect(readFileSync(file, 'utf8')).toBe(before);
    // A hand edit is caught where the town is read.
    writeFileSync(file, `${before}\n[escalation.routes]\ncritical = ["mail:"]\n`);
    const list = town.gt(['escalate', 'anything']);
    expect(list.code).toBe(3);
    expect(list.stderr).toContain(`${file}: key escalation.routes.critical.0`);
    writeFileSync(file, before);
    expect(town.json<EscalationRow[]>(['escalations'])).toEqual([]);
  });
});

/** A directory with `gt` and `bd` as commands, for completion scripts that call them at TAB time. */
function binDir(town: TestTown): string {
  const bin = join(town.base, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const [name, script] of [
    ['gt', GT],
    ['bd', BD],
  ] as const) {
    writeFileSync(join(bin, name), `#!/bin/sh\nexec "${process.execPath}" "${script}" "$@"\n`);
    chmodSync(join(bin, name), 0o755);
  }
  return bin;
}

const has = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;

describe('shell completions', () => {
  /** A town with a rig, a crew member, an open bead and an escalation: what completes dynamically. */
  function completionTown(): { town: TestTown; env: NodeJS.ProcessEnv; bead: string; escalation: string } {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['crew', 'add', 'ada', '--rig', 'app']).code).toBe(0);
    const bead = town.bead('Fix the login', ['true']);
    const escalation = town.json<{ id: string }>(['escalate', 'look at this']).id;
    const env = { ...town.env, PATH: `${binDir(town)}:${town.env.PATH ?? ''}` };
    return { town, env, bead, escalation };
  }

  it('bash: commands, subcommands, flags and their choices from the program; rigs, agents, bead and escalation IDs from the town', () => {
    const { town, env, bead, escalation } = completionTown();
    const script = join(town.base, 'gt.bash');
    writeFileSync(script, town.gt(['completion', 'bash']).stdout);
    writeFileSync(join(town.base, 'bd.bash'), spawnSync(process.execPath, [BD, 'completion', 'bash'], { env, encoding: 'utf8' }).stdout);
    const complete = (line: string, tool = 'gt') => {
      const words = line.split(' ');
      const run = spawnSync(
        'bash',
        [
          '-c',
          `source "$1"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _${tool}_completion; printf '%s\\n' "\${COMPREPLY[@]}"`,
          'test',
          join(town.base, `${tool}.bash`),
        ],
        { cwd: town.root, env, encoding: 'utf8' },
      );
      expect(run.stderr).toBe('');
      return run.stdout.split('\n').filter((l) => l !== '');
    };
    expect(complete('gt esc')).toEqual(['escalate', 'escalations']);
    expect(complete('gt escalations ')).toEqual(['list', 'show', 'ack', 'close']);
    expect(complete('gt escalate -s ')).toEqual(['low', 'medium', 'high', 'critical']);
    expect(complete('gt escalations ack ')).toEqual([escalation]);
    expect(complete('gt mail send --')).toEqual(expect.arrayContaining(['--subject', '--message', '--priority', '--json', '--help']));
    expect(complete('gt crew list --rig ')).toEqual(['app']);
    expect(complete('gt mail send app/')).toEqual(['app/crew/ada']);
    expect(complete('gt sling ')).toEqual(expect.arrayContaining([bead, 'app', 'mayor', 'app/crew/ada']));
    expect(complete('gt sling ')).not.toContain(escalation);
    expect(complete('gt -C . mail in')).toEqual(['inbox']);
    expect(complete('bd sh', 'bd')).toEqual(['show']);
    expect(complete('bd show ', 'bd')).toContain(bead);
    expect(complete('bd close --', 'bd')).toEqual(expect.arrayContaining(['--reason', '--json']));
  });

  // zsh and fish are optional on a machine: the test needs the shell itself.
  it.skipIf(!has('zsh'))('zsh: the same candidates through the zsh script (compadd recorded)', () => {
    const { town, env, escalation } = completionTown();
    const script = join(town.base, 'gt.zsh');
    writeFileSync(script, town.gt(['completion', 'zsh']).stdout);
    expect(spawnSync('zsh', ['-n', script]).status).toBe(0);
    const run = spawnSync(
      'zsh',
      ['-f', '-c', `source "$1"; compadd() { shift; print -rl -- "$@"; }; words=(gt escalations ack ''); CURRENT=4; _gt_completion`, 'test', script],
      { cwd: town.root, env, encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toEqual([escalation]);
  });

  it.skipIf(!has('fish'))('fish: complete -C offers subcommands with descriptions, flag choices and town values', () => {
    const { town, env, bead } = completionTown();
    const script = join(town.base, 'gt.fish');
    writeFileSync(script, town.gt(['completion', 'fish']).stdout);
    expect(spawnSync('fish', ['--no-execute', script]).status).toBe(0);
    const complete = (line: string) =>
      spawnSync('fish', ['-c', `source $argv[1]; complete -C '${line}'`, script], { cwd: town.root, env, encoding: 'utf8' })
        .stdout.split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split('\t')[0]);
    expect(complete('gt escalations ')).toEqual(expect.arrayContaining(['list', 'show', 'ack', 'close']));
    expect(complete('gt escalate -s ').sort()).toEqual(['critical', 'high', 'low', 'medium']);
    expect(complete('gt crew list --rig ')).toEqual(['app']);
    expect(complete('gt sling ')).toContain(bead);
  });
});
