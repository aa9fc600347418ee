/**
 * Work at scale (issue 5): convoys — beads tracked together until all are closed —
 * and gates that hold a poured molecule's steps.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeTown, waitFor } from '../support/town.js';

interface Convoy {
  id: string;
  name: string;
  status: string;
  closed: number;
  total: number;
  owner: string;
  notify: string[];
}

describe('convoys', () => {
  it('lands once every tracked bead is closed: never when empty, idempotently, and reopens when work is added', () => {
    const town = makeTown({ rig: 'app' });
    const a = town.bead('Part A', ['true']);
    const b = town.bead('Part B', ['true']);
    const unknown = town.gt(['convoy', 'create', 'Nope', a, 'app-zzz']);
    expect(unknown.code).toBe(4);
    expect(town.json<Convoy[]>(['convoy', 'list', '--all'])).toEqual([]);

    const convoy = town.json<Convoy>(['convoy', 'create', 'Login rework', a, b, '--notify', 'mayor']);
    expect(convoy).toMatchObject({ name: 'Login rework', status: 'open', closed: 0, total: 2, owner: 'human', notify: ['mayor'] });
    expect(convoy.id).toMatch(/^hq-cv-/);
    const empty = town.json<Convoy>(['convoy', 'create', 'Nothing yet']);
    expect(town.json<Convoy[]>(['convoy', 'check'])).toEqual([]);

    expect(town.gt(['bd', 'close', a]).code).toBe(0);
    expect(town.json<Convoy[]>(['convoy', 'check'])).toEqual([]);
    expect(town.json<Convoy>(['convoy', 'show', convoy.id])).toMatchObject({ status: 'open', closed: 1, total: 2 });
    expect(town.gt(['bd', 'close', b]).code).toBe(0);
    expect(town.json<Convoy[]>(['convoy', 'check'])).toMatchObject([{ id: convoy.id, status: 'landed', closed: 2 }]);
    expect(town.json<Convoy[]>(['convoy', 'check'])).toEqual([]);
    for (const who of ['human', 'mayor']) {
      expect(
        town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', who]).filter((m) => m.subject === 'Convoy landed: Login rework'),
        who,
      ).toHaveLength(1);
    }
    expect(town.json<Convoy>(['convoy', 'show', empty.id]).status).toBe('open');
    expect(town.json<Convoy[]>(['convoy', 'list']).map((c) => c.id)).toEqual([empty.id]);

    const c = town.bead('Part C', ['true']);
    expect(town.json<Convoy>(['convoy', 'add', convoy.id, c])).toMatchObject({ status: 'open', closed: 2, total: 3 });
    const closed = town.json<Convoy>(['convoy', 'close', empty.id]);
    expect(closed.status).toBe('closed');
    expect(town.gt(['convoy', 'close', empty.id]).code).toBe(5);
    expect(town.gt(['convoy', 'show', 'hq-nope']).code).toBe(4);
  });

  it('create refuses an invalid --notify address and writes nothing; one convoy with a bad address stored never stops check from landing the others', () => {
    const town = makeTown({ rig: 'app' });
    const a = town.bead('Part A', ['true']);
    const b = town.bead('Part B', ['true']);
    const bad = town.gt(['convoy', 'create', 'Typo', a, '--notify', '--human']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('invalid agent address "--human"');
    expect(town.json<Convoy[]>(['convoy', 'list', '--all'])).toEqual([]);

    // One written before validation existed (or by hand): its address is broken.
    const broken = town.json<Convoy>(['convoy', 'create', 'Broken', a]);
    expect(town.gt(['bd', 'update', broken.id, '--metadata', '{"owner":"human","notify":["--human"]}']).code).toBe(0);
    const fine = town.json<Convoy>(['convoy', 'create', 'Fine', b, '--notify', 'mayor']);
    expect(town.gt(['bd', 'close', a, b]).code).toBe(0);
    const check = town.gt(['convoy', 'check', '--json']);
    expect(check.code).toBe(0);
    expect((JSON.parse(check.stdout) as Convoy[]).map((c) => c.id).sort()).toEqual([broken.id, fine.id].sort());
    expect(check.stderr).toContain(`could not tell "--human" that ${broken.id} landed`);
    expect(town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'mayor']).map((m) => m.subject)).toContain('Convoy landed: Fine');
    expect(
      town
        .json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'human'])
        .map((m) => m.subject)
        .sort(),
    ).toEqual(['Convoy landed: Broken', 'Convoy landed: Fine']);
  });

  it('lands when the refinery merges the last bead (a close event), and says so to the owner', async () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Ship it', ['echo shipped > SHIPPED.md', 'git add SHIPPED.md', 'git commit -qm "ship it"']);
    const convoy = town.json<Convoy>(['convoy', 'create', 'Release', bead]);
    expect(town.gt(['sling', bead, 'app', '--agent', 'shell']).code).toBe(0);
    await waitFor('the merge request', () => town.json<unknown[]>(['refinery', 'queue', 'app']).length === 1 || undefined, 60_000);
    expect(town.json<Array<{ result: string }>>(['refinery', 'run', 'app'])).toMatchObject([{ result: 'merged' }]);
    expect(town.json<Convoy>(['convoy', 'show', convoy.id])).toMatchObject({ status: 'landed', closed: 1, total: 1 });
    expect(town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'human']).some((m) => m.subject === 'Convoy landed: Release')).toBe(true);
  });
});

describe('convoys and dispatch', () => {
  it('gt sling of several beads tracks them as one convoy, unless --no-convoy or a convoy already tracks them', () => {
    const town = makeTown({ rig: 'app' });
    const [a, b, c, d] = ['A', 'B', 'C', 'D'].map((t) => town.bead(`Part ${t}`, ['true']));
    const slung = town.json<Array<{ bead: string; convoy?: string }>>(['sling', a as string, b as string, 'app', '--no-start']);
    const convoy = slung[0]?.convoy as string;
    expect(convoy).toMatch(/^hq-cv-/);
    expect(slung.every((r) => r.convoy === convoy)).toBe(true);
    expect(town.json<Convoy>(['convoy', 'show', convoy])).toMatchObject({ name: 'Work: Part A (+1)', total: 2, owner: 'human' });
    expect(
      town.json<Array<{ convoy?: string }>>(['sling', c as string, d as string, 'app', '--no-start', '--no-convoy']).every((r) => r.convoy === undefined),
    ).toBe(true);
    expect(town.json<Convoy[]>(['convoy', 'list'])).toHaveLength(1);
  });

  it('feeds stranded convoys one bead per scan, goes on past a failed dispatch and an unknown rig, and closes empty ones', async () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'convoys.stranded_grace', '"0s"']).code).toBe(0);
    expect(town.gt(['config', 'set', 'agent', 'shell', '--rig', 'app']).code).toBe(0);
    expect(town.gt(['rig', 'add', 'bad', town.origin('bad')]).code).toBe(0);
    expect(town.gt(['config', 'set', 'agent', 'nosuchbot', '--rig', 'bad']).code).toBe(0);
    const badBead = town.gt(['bd', 'create', 'Cannot run', '--silent'], { cwd: `${town.root}/bad` }).stdout.trim();
    const loose = town.gt(['bd', 'create', 'Belongs to no rig', '--silent'], { cwd: town.root }).stdout.trim();
    // Ready order is priority first: One goes before Two.
    const one = town.bead('One', ['echo one > ONE.md'], ['-p', '1']);
    const two = town.bead('Two', ['echo two > TWO.md'], ['-p', '3']);
    const failing = town.json<Convoy>(['convoy', 'create', 'Failing', badBead]);
    const moving = town.json<Convoy>(['convoy', 'create', 'Moving', one, two]);
    const orphan = town.json<Convoy>(['convoy', 'create', 'Orphan', loose]);
    const empty = town.json<Convoy>(['convoy', 'create', 'Empty']);

    type Action = { convoy: string; action: string; bead?: string; detail: string };
    const first = new Map(town.json<Action[]>(['convoy', 'stranded']).map((a) => [a.convoy, a]));
    expect([...first.keys()].sort()).toEqual([failing.id, moving.id, orphan.id, empty.id].sort());
    expect(first.get(failing.id)).toMatchObject({ action: 'failed', bead: badBead, detail: expect.stringContaining('nosuchbot') });
    expect(first.get(moving.id)).toMatchObject({ action: 'slung', bead: one });
    expect(first.get(orphan.id)).toMatchObject({ action: 'skipped', detail: expect.stringContaining(`no rig has the prefix of ${loose}`) });
    expect(first.get(empty.id)).toMatchObject({ action: 'closed-empty' });
    expect(town.json<Array<{ status: string }>>(['bd', 'show', two])[0]?.status).toBe('open');
    // The next scan leaves a convoy that is being worked on alone; the empty one is gone.
    const second = town.json<Array<{ convoy: string; action: string }>>(['convoy', 'stranded']);
    expect(second.map((a) => a.convoy)).not.toContain(empty.id);
    expect(second.filter((a) => a.convoy === moving.id && a.action === 'slung')).toHaveLength(0);
    await waitFor('the first bead to reach the refinery', () => town.json<unknown[]>(['refinery', 'queue', 'app']).length === 1 || undefined, 60_000);
  });

  it('the daemon lands a convoy on a close event; other events change nothing; gt down twice is fine', async () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'daemon.interval', '"1s"']).code).toBe(0);
    expect(town.gt(['config', 'set', 'convoys.stranded_grace', '"1h"']).code).toBe(0);
    const [a, b] = ['A', 'B'].map((t) => town.bead(`Part ${t}`, ['true']));
    const convoy = town.json<Convoy>(['convoy', 'create', 'Watched', a as string, b as string, '--notify', 'mayor']);
    expect(town.gt(['up']).code).toBe(0);
    expect(town.gt(['bd', 'update', a as string, '--add-label', 'touched']).code).toBe(0);
    expect(town.gt(['bd', 'close', a as string]).code).toBe(0);
    await new Promise((r) => setTimeout(r, 2500));
    expect(town.json<Convoy>(['convoy', 'show', convoy.id]).status).toBe('open');
    expect(town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'mayor'])).toEqual([]);
    expect(town.gt(['bd', 'close', b as string]).code).toBe(0);
    await waitFor(
      'the landing mail',
      () => town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'mayor']).some((m) => m.subject === 'Convoy landed: Watched') || undefined,
      20_000,
    );
    expect(town.json<Convoy>(['convoy', 'show', convoy.id]).status).toBe('landed');
    expect(town.gt(['down']).code).toBe(0);
    expect(town.gt(['down']).code).toBe(0);
  });
});

describe('gates', () => {
  it('timer, command, bead and human gates hold their steps until their condition holds; an overdue one escalates once', async () => {
    const town = makeTown({ rig: 'app' });
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(`${town.root}/formulas`);
    writeFileSync(
      `${town.root}/formulas/gated.formula.toml`,
      `formula = "gated"
[vars.other]
required = true
[[steps]]
id = "after-timer"
title = "After the timer"
[steps.gate]
type = "timer"
timeout = "1s"
[[steps]]
id = "after-command"
title = "After the command"
[steps.gate]
type = "command"
command = "test -e READY"
timeout = "1s"
[[steps]]
id = "after-bead"
title = "After another bead"
[steps.gate]
type = "bead"
await_id = "{{other}}"
[[steps]]
id = "after-person"
title = "After a person"
[steps.gate]
type = "human"
`,
    );
    const other = town.bead('Something else first', ['true']);
    // Poured in the rig: its command gate runs in the rig's worktree.
    const pour = town.gt(['bd', 'mol', 'pour', 'gated', '--var', `other=${other}`, '--json'], { cwd: `${town.root}/app` });
    const poured = JSON.parse(pour.stdout) as { root: string; steps: Record<string, string>; gates: Record<string, string> };
    const ready = () =>
      town
        .json<Array<{ id: string }>>(['bd', 'ready', '--mol', poured.root])
        .map((i) => i.id)
        .sort();
    const check = () => Object.fromEntries(town.json<Array<{ gate: string; result: string }>>(['gate', 'check']).map((o) => [o.gate, o.result]));
    expect(ready()).toEqual([]);
    expect(town.json<unknown[]>(['gate', 'list'])).toHaveLength(4);
    const timer = poured.gates['after-timer'] as string;
    const command = poured.gates['after-command'] as string;
    // Every outcome of every check, so the test waits on what the checks report, not on the clock:
    // on a busy machine the 1 s timeouts can pass before the first check.
    const seen: Record<string, string[]> = {};
    const record = (outcomes: Record<string, string>) => {
      for (const [gate, result] of Object.entries(outcomes)) (seen[gate] ??= []).push(result);
      return outcomes;
    };
    const due = Math.min(...town.json<Array<{ created_at: string }>>(['gate', 'list']).map((g) => Date.parse(g.created_at))) + 1000;
    const first = record(check());
    if (Date.now() < due)
      expect(first).toEqual({
        [timer]: 'waiting',
        [command]: 'waiting',
        [poured.gates['after-bead'] as string]: 'waiting',
        [poured.gates['after-person'] as string]: 'waiting',
      });
    await waitFor(
      'the timer to open and the command gate to escalate',
      () => {
        if (seen[timer]?.includes('resolved') && seen[command]?.includes('escalated')) return true;
        record(check());
        return undefined;
      },
      30_000,
    );
    // Until then each check left them waiting; the timer opens once, the overdue command gate escalates once.
    expect(seen[timer]?.filter((r) => r !== 'waiting')).toEqual(['resolved']);
    expect(seen[command]?.filter((r) => r !== 'waiting')).toEqual(['escalated']);
    for (const gate of [poured.gates['after-bead'], poured.gates['after-person']]) expect(new Set(seen[gate as string])).toEqual(new Set(['waiting']));
    expect(ready()).toEqual([poured.steps['after-timer']]);
    expect(check()[command]).toBe('waiting');
    expect(town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'mayor']).filter((m) => m.subject.startsWith('GATE TIMEOUT'))).toHaveLength(1);
    writeFileSync(`${town.root}/app/refinery/READY`, '');
    expect(town.gt(['bd', 'close', other]).code).toBe(0);
    const third = check();
    expect(third[poured.gates['after-command'] as string]).toBe('resolved');
    expect(third[poured.gates['after-bead'] as string]).toBe('resolved');
    expect(town.json<{ status: string }>(['gate', 'approve', poured.gates['after-person'] as string, '--reason', 'fine'])).toMatchObject({
      status: 'resolved',
    });
    expect(ready()).toEqual(Object.values(poured.steps).sort());
    expect(town.gt(['gate', 'approve', poured.gates['after-person'] as string]).code).toBe(5);
    expect(town.gt(['gate', 'approve', 'hq-nope']).code).toBe(4);
  });
});

describe('GitHub gates', () => {
  it('gh:run and gh:pr gates follow the gh CLI: success or merge opens them, failure or a closed PR escalates, no gh waits', async () => {
    const town = makeTown({ rig: 'app' });
    const { chmodSync, mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(`${town.root}/formulas`);
    writeFileSync(
      `${town.root}/formulas/ci.formula.toml`,
      `formula = "ci"
[[steps]]
id = "after-run"
title = "After CI run 42"
[steps.gate]
type = "gh:run"
await_id = "42"
[[steps]]
id = "after-pr"
title = "After PR 7"
[steps.gate]
type = "gh:pr"
await_id = "7"
`,
    );
    const poured = town.json<{ root: string; gates: Record<string, string> }>(['bd', 'mol', 'pour', 'ci']);
    const check = (env?: Record<string, string>) =>
      Object.fromEntries(
        town
          .json<Array<{ gate: string; result: string; detail: string }>>(['gate', 'check'], env ? { env } : {})
          .map((o) => [o.gate, `${o.result}: ${o.detail}`]),
      );
    const runGate = poured.gates['after-run'] as string;
    const prGate = poured.gates['after-pr'] as string;
    // Without gh: both wait, and say why.
    expect(check({ PATH: '/usr/bin:/bin' })[runGate]).toBe('waiting: gh is not installed');
    // A stand-in gh (GitHub cannot be reached from tests) answers from files.
    const bin = `${town.base}/fake-gh`;
    mkdirSync(bin);
    writeFileSync(
      `${bin}/gh`,
      `#!/bin/sh\ncase "$1 $2" in\n  "run view") cat "${bin}/run.json" ;;\n  "pr view") cat "${bin}/pr.json" ;;\n  *) exit 2 ;;\nesac\n`,
    );
    chmodSync(`${bin}/gh`, 0o755);
    const env = { PATH: `${bin}:${town.env.PATH ?? ''}` };
    writeFileSync(`${bin}/run.json`, '{"status":"in_progress","conclusion":""}');
    writeFileSync(`${bin}/pr.json`, '{"state":"OPEN"}');
    expect(check(env)).toEqual({ [runGate]: 'waiting: run 42 is in_progress', [prGate]: 'waiting: PR 7 is OPEN' });
    writeFileSync(`${bin}/run.json`, '{"status":"completed","conclusion":"failure"}');
    writeFileSync(`${bin}/pr.json`, '{"state":"MERGED"}');
    expect(check(env)).toEqual({ [runGate]: 'escalated: run 42 ended failure', [prGate]: 'resolved: PR 7 merged' });
    expect(
      town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'mayor']).filter((m) => m.subject.startsWith(`GATE FAILED ${runGate}`)),
    ).toHaveLength(1);
    writeFileSync(`${bin}/run.json`, '{"status":"completed","conclusion":"success"}');
    expect(check(env)).toEqual({ [runGate]: 'resolved: run 42 succeeded' });
    expect(town.json<Array<{ status: string }>>(['bd', 'show', poured.root])[0]?.status).toBe('open');
  });
});

interface Prime {
  text: string;
  molecule?: { id: string; closed: number; total: number; current: Array<{ id: string; title: string }>; next: Array<{ title: string }>; gates: string[] };
}
interface FormulaSling {
  molecule: string;
  agent: string;
  bead: string;
  formula: string;
  steps: number;
}

describe('formulas on the work loop', () => {
  it('gt sling <formula> pours and hooks the root; prime shows the step now and the ones after; closing steps advances; gt done finishes', () => {
    const town = makeTown({ rig: 'app' });
    const before = town.json<unknown[]>(['bd', 'list', '--all', '--json']).length;
    const bad = town.gt(['sling', 'release', 'app', '--var', 'version=one', '--no-start']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('version');
    expect(bad.stderr).toContain('does not match');
    expect(town.gt(['sling', 'no-such-formula', 'app', '--no-start']).stderr).toMatch(/no bead or formula named "no-such-formula"/);
    expect(town.json<unknown[]>(['bd', 'list', '--all', '--json']).length).toBe(before);

    const slung = town.json<FormulaSling>(['sling', 'tdd-cycle', 'app', '--var', 'behaviour=empty input is refused', '--no-start']);
    expect(slung).toMatchObject({ formula: 'tdd-cycle', steps: 3, bead: slung.molecule });
    expect(slung.molecule).toMatch(/^app-mol-/);
    const root = town.json<Array<{ status: string; assignee: string; issue_type: string }>>(['bd', 'show', slung.molecule, '--json'])[0];
    expect(root).toMatchObject({ status: 'hooked', assignee: slung.agent, issue_type: 'molecule' });

    let prime = town.json<Prime>(['prime', '--agent', slung.agent, '--json']);
    expect(prime.molecule).toMatchObject({ id: slung.molecule, closed: 0, total: 3 });
    expect(prime.molecule?.current.map((s) => s.title)).toEqual(['Write a failing test: empty input is refused']);
    expect(prime.text).toContain('Now: ');
    expect(prime.text).toContain('Then: Make it pass: empty input is refused → Refactor with the tests green');
    const first = prime.molecule?.current[0]?.id as string;
    expect(town.gt(['bd', 'close', first]).code).toBe(0);
    prime = town.json<Prime>(['prime', '--agent', slung.agent, '--json']);
    expect(prime.molecule?.current.map((s) => s.title)).toEqual(['Make it pass: empty input is refused']);
    expect(prime.molecule?.closed).toBe(1);

    // The worker's commit; gt done closes the step still open and files the merge request; the root waits for the merge.
    const dir = `${town.root}/app/polecats/${slung.agent.split('/')[2]}`;
    town.git(dir, ['-c', 'user.name=Nux', '-c', 'user.email=nux@example.com', 'commit', '-q', '--allow-empty', '-m', 'red, green']);
    const done = town.gt(['done', '--json'], { env: { GT_AGENT: slung.agent }, cwd: dir });
    expect(done.code, done.stderr).toBe(0);
    const steps = town.json<Array<{ id: string; status: string }>>(['bd', 'list', '--parent', slung.molecule, '--all', '--json']);
    expect(steps.map((s) => s.status)).toEqual(['closed', 'closed', 'closed']);
    expect(town.json<Array<{ status: string }>>(['bd', 'show', slung.molecule, '--json'])[0]?.status).toBe('in_progress');
    expect(town.json<Array<{ result: string }>>(['refinery', 'run', 'app'])).toMatchObject([{ result: 'merged' }]);
    expect(town.json<Array<{ status: string }>>(['bd', 'show', slung.molecule, '--json'])[0]?.status).toBe('closed');
  });

  it('a molecule whose steps change no code is closed by gt done (nothing to merge); without close_with_merge bd closes the root with the last step', () => {
    const town = makeTown({ rig: 'app' });
    const slung = town.json<FormulaSling>(['sling', 'code-review', 'app', '--var', 'target=feature-x', '--no-start']);
    const dir = `${town.root}/app/polecats/${slung.agent.split('/')[2]}`;
    const done = town.gt(['done', '--json'], { env: { GT_AGENT: slung.agent }, cwd: dir });
    expect(done.code, done.stderr).toBe(0);
    expect((JSON.parse(done.stdout) as { merge_request?: string }).merge_request).toBeUndefined();
    expect(town.json<Array<{ status: string }>>(['bd', 'show', slung.molecule, '--json'])[0]?.status).toBe('closed');

    const poured = town.json<{ root: string; steps: Record<string, string> }>(['bd', 'mol', 'pour', 'tdd-cycle', '--var', 'behaviour=x', '--json']);
    for (const id of Object.values(poured.steps)) expect(town.gt(['bd', 'close', id]).code).toBe(0);
    expect(town.json<Array<{ status: string }>>(['bd', 'show', poured.root, '--json'])[0]?.status).toBe('closed');
  });

  it('the shell runner walks the steps, ends its session at a gate (waiting-gate, left alone by the witness) and a fresh one finishes after approval', async () => {
    const town = makeTown({ rig: 'app' });
    mkdirSync(`${town.root}/formulas`, { recursive: true });
    writeFileSync(
      `${town.root}/formulas/gated-note.formula.toml`,
      `formula = "gated-note"
description = "Write a note, wait for a person, commit it"
version = 1

[vars.name]
required = true
pattern = "^[a-z]+$"

[[steps]]
id = "write"
title = "Write {{name}}.md"
run = ["echo drafted > {{name}}.md"]

[[steps]]
id = "commit"
title = "Commit {{name}}.md"
needs = ["write"]
run = ["git add {{name}}.md", "git commit -qm 'note {{name}}'"]

[steps.gate]
type = "human"
timeout = "1h"
`,
    );
    const slung = town.json<FormulaSling>(['sling', 'gated-note', 'app', '--var', 'name=memo', '--agent', 'shell']);
    const agents = () => town.json<Array<{ agent: string; state: string; session_alive: boolean }>>(['agents', '--json']);
    await waitFor(
      'the worker to wait at the gate',
      () => agents().find((a) => a.agent === slung.agent && a.state === 'waiting-gate' && !a.session_alive),
      60_000,
    );
    const prime = town.json<Prime>(['prime', '--agent', slung.agent, '--json']);
    expect(prime.molecule).toMatchObject({ closed: 1, total: 2, current: [] });
    expect(prime.molecule?.gates).toHaveLength(1);
    expect(prime.text).toContain('gt gate wait');
    expect(town.json<unknown[]>(['witness', 'patrol', '--json'])).toEqual([]);
    expect(town.json<unknown[]>(['refinery', 'queue', 'app'])).toEqual([]);

    const gate = prime.molecule?.gates[0] as string;
    const approved = town.gt(['gate', 'approve', gate, '--json']);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stderr).toContain(`${slung.agent} restarted on ${slung.molecule}`);
    await waitFor('the merge request', () => town.json<unknown[]>(['refinery', 'queue', 'app']).length === 1 || undefined, 60_000);
    expect(town.json<Array<{ result: string }>>(['refinery', 'run', 'app'])).toMatchObject([{ result: 'merged' }]);
    expect(town.git(`${town.root}/app/refinery`, ['show', 'main:memo.md']).trim()).toBe('drafted');
    expect(town.json<Array<{ status: string }>>(['bd', 'show', slung.molecule, '--json'])[0]?.status).toBe('closed');
  }, 150_000);

  it('gt gate check opens a command gate and starts a fresh session at the next step', async () => {
    const town = makeTown({ rig: 'app' });
    mkdirSync(`${town.root}/formulas`, { recursive: true });
    writeFileSync(
      `${town.root}/formulas/ci-wait.formula.toml`,
      `formula = "ci-wait"
version = 1

[[steps]]
id = "build"
title = "Build"
run = ["echo built > BUILD.md"]

[[steps]]
id = "ship"
title = "Ship after CI"
needs = ["build"]
run = ["git add BUILD.md", "git commit -qm build"]

[steps.gate]
type = "command"
command = "test -f ${town.root}/ci-green"
`,
    );
    const slung = town.json<FormulaSling>(['sling', 'ci-wait', 'app', '--agent', 'shell']);
    const state = () => town.json<Array<{ agent: string; state: string; session_alive: boolean }>>(['agents', '--json']).find((a) => a.agent === slung.agent);
    await waitFor('the worker to wait at the gate', () => (state()?.state === 'waiting-gate' && state()?.session_alive === false) || undefined, 60_000);
    expect(town.json<Array<{ result: string }>>(['gate', 'check', '--json'])).toMatchObject([{ result: 'waiting' }]);
    expect(state()?.state).toBe('waiting-gate');
    writeFileSync(`${town.root}/ci-green`, '');
    const check = town.gt(['gate', 'check', '--json']);
    expect(JSON.parse(check.stdout)).toMatchObject([{ result: 'resolved' }]);
    expect(check.stderr).toContain(`${slung.agent} restarted on ${slung.molecule}`);
    await waitFor('the merge request', () => town.json<unknown[]>(['refinery', 'queue', 'app']).length === 1 || undefined, 60_000);
  }, 150_000);

  it('gt gate wait from an agent marks it waiting-gate; approving the gate starts its session at the next step', async () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'agent', 'shell', '--rig', 'app']).code).toBe(0);
    mkdirSync(`${town.root}/formulas`, { recursive: true });
    writeFileSync(
      `${town.root}/formulas/review-then-ship.formula.toml`,
      `formula = "review-then-ship"
version = 1

[[steps]]
id = "draft"
title = "Draft the change"

[[steps]]
id = "ship"
title = "Ship it"
needs = ["draft"]
run = ["echo shipped > SHIPPED.md", "git add SHIPPED.md", "git commit -qm ship"]

[steps.gate]
type = "human"
`,
    );
    const slung = town.json<FormulaSling>(['sling', 'review-then-ship', 'app', '--no-start']);
    const draft = town.json<Prime>(['prime', '--agent', slung.agent, '--json']).molecule?.current[0]?.id as string;
    expect(town.gt(['bd', 'close', draft]).code).toBe(0);
    const wait = town.json<{ molecule: string; gates: string[] }>(['gate', 'wait', '--agent', slung.agent]);
    expect(wait).toMatchObject({ molecule: slung.molecule });
    expect(town.json<Array<{ agent: string; state: string }>>(['agents', '--json']).find((a) => a.agent === slung.agent)?.state).toBe('waiting-gate');
    expect(town.json<unknown[]>(['gate', 'check'])).toMatchObject([{ result: 'waiting' }]);
    expect(town.gt(['gate', 'approve', wait.gates[0] as string]).stderr).toContain(`${slung.agent} restarted on ${slung.molecule}`);
    await waitFor('the merge request', () => town.json<unknown[]>(['refinery', 'queue', 'app']).length === 1 || undefined, 60_000);
  }, 120_000);

  it('gt gate wait refuses when a step is ready, or when nothing is hooked', () => {
    const town = makeTown({ rig: 'app' });
    const slung = town.json<FormulaSling>(['sling', 'tdd-cycle', 'app', '--var', 'behaviour=x', '--no-start']);
    const ready = town.gt(['gate', 'wait', '--agent', slung.agent]);
    expect(ready.code).toBe(5);
    expect(ready.stderr).toContain('is ready; there is nothing to wait for');
    expect(town.gt(['gate', 'wait', '--agent', 'app/polecats/nobody']).code).toBe(5);
  });
});
