/**
 * The batching merge queue (issue 5 §4): batches tested once, bisection on
 * red, queue order with aging, gt mq retry/reject, conflicts sent back as a
 * resolve-conflict molecule, crash safety at both dangerous moments, PR mode
 * through a stand-in gh. Real git, real gt processes.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GT } from '../support/env.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

interface Outcome {
  merge_request: string;
  bead: string;
  result: string;
  reason?: string;
  batch?: number;
  commit?: string;
  pr?: string;
  conflict_molecule?: string;
}
interface Queued {
  id: string;
  bead: string;
  position: number;
  priority: number;
  effective_priority: number;
  pr: string | null;
}
interface Request {
  bead: string;
  agent: string;
  dir: string;
  file: string;
}

/** One merge request per change: a polecat (no session) commits `file` and runs gt done. */
function queueRequests(town: TestTown, changes: Array<{ file: string; content?: string; priority?: number }>): Request[] {
  const beads = changes.map((c) => town.bead(`Change ${c.file}`, ['true'], c.priority === undefined ? [] : ['-p', String(c.priority)]));
  const slung = town.json<Array<{ bead: string; agent: string }>>(['sling', ...beads, 'app', '--no-start', '--no-convoy']);
  return changes.map((change, i) => {
    const agent = slung[i]?.agent as string;
    const dir = join(town.root, 'app', 'polecats', agent.split('/')[2] as string);
    writeFileSync(join(dir, change.file), change.content ?? `${change.file}\n`);
    town.git(dir, ['add', '-A']);
    town.git(dir, ['-c', 'user.name=w', '-c', 'user.email=w@w', 'commit', '-qm', `add ${change.file}`]);
    town.json(['done', '--agent', agent]);
    return { bead: beads[i] as string, agent, dir, file: change.file };
  });
}

function setMerge(town: TestTown, key: string, value: string): void {
  const r = town.gt(['config', 'set', `merge.${key}`, value, '--rig', 'app']);
  if (r.code !== 0) throw new Error(`config set merge.${key}: ${r.stderr}`);
}

function run(town: TestTown, env: Record<string, string> = {}): Outcome[] {
  const r = town.gt(['mq', 'run', 'app', '--json'], { env });
  if (r.code !== 0 && r.code !== 1) throw new Error(`gt mq run: ${r.code} ${r.stderr}`);
  return JSON.parse(r.stdout) as Outcome[];
}

const originFile = (town: TestTown, file: string) => {
  try {
    return town.git(join(town.base, 'app.git'), ['show', `main:${file}`]);
  } catch {
    return undefined;
  }
};

function expectNoIntegration(town: TestTown): void {
  expect(existsSync(join(town.root, 'app', '.integration'))).toBe(false);
  expect(town.git(join(town.root, 'app', '.repo.git'), ['worktree', 'list'])).not.toContain('.integration');
  expect(town.git(join(town.root, 'app', 'refinery'), ['status', '--porcelain'])).toBe('');
}

describe('the batching merge queue', () => {
  it('tests a green batch once through every gate, fast-forwards and pushes the target, and discards the integration worktree', () => {
    const town = makeTown({ rig: 'app' });
    const log = join(town.base, 'gates.log');
    for (const gate of ['setup', 'lint', 'test']) setMerge(town, gate, JSON.stringify(`echo ${gate} >> ${log} && ./test.sh`));
    const requests = queueRequests(
      town,
      ['a', 'b', 'c', 'd', 'e'].map((f) => ({ file: `${f}.txt` })),
    );
    expect(town.json<Queued[]>(['mq', 'list']).map((q) => q.bead)).toEqual(requests.map((r) => r.bead));
    const outcomes = run(town);
    expect(outcomes.map((o) => [o.bead, o.result, o.batch])).toEqual(requests.map((r) => [r.bead, 'merged', 5]));
    expect(readFileSync(log, 'utf8')).toBe('setup\nlint\ntest\n');
    for (const r of requests) expect(originFile(town, r.file)).toBe(`${r.file}\n`);
    // Linear history: five rebased commits on top of the seed, the last one the target.
    expect(town.git(join(town.base, 'app.git'), ['rev-list', '--count', 'main']).trim()).toBe('6');
    expect(outcomes[4]?.commit).toBe(town.git(join(town.base, 'app.git'), ['rev-parse', 'main']).trim());
    for (const r of requests) expect(town.json<Array<{ status: string }>>(['bd', 'show', r.bead])[0]?.status).toBe('closed');
    expectNoIntegration(town);
    expect(town.json<Queued[]>(['mq', 'list'])).toEqual([]);
    expect(town.json<Array<{ merged_24h: number; queued: number; gates: string[] }>>(['mq', 'status', 'app'])[0]).toMatchObject({
      merged_24h: 5,
      queued: 0,
      gates: ['setup', 'lint', 'test'],
    });
  });

  it('merge.strategy = "merge" puts each branch on the candidate with a merge commit', () => {
    const town = makeTown({ rig: 'app' });
    setMerge(town, 'strategy', '"merge"');
    const requests = queueRequests(town, [{ file: 'm1.txt' }, { file: 'm2.txt' }]);
    expect(run(town).map((o) => [o.bead, o.result, o.batch])).toEqual(requests.map((r) => [r.bead, 'merged', 2]));
    const origin = join(town.base, 'app.git');
    expect(town.git(origin, ['rev-list', '--merges', '--count', 'main']).trim()).toBe('2');
    expect(town.git(origin, ['log', '-1', '--format=%s', 'main']).trim()).toMatch(/^Merge polecat\/.+ \(app-/);
    for (const r of requests) expect(originFile(town, r.file)).toBe(`${r.file}\n`);
  });

  it('bisects a red batch: the culprits are rejected with the failing output and their workers told, the rest merge', () => {
    const town = makeTown({ rig: 'app' });
    setMerge(town, 'test', JSON.stringify('if ls FAIL* >/dev/null 2>&1; then echo "broken by $(ls FAIL*)"; exit 1; fi'));
    const files = ['a.txt', 'FAIL-b', 'c.txt', 'd.txt', 'FAIL-e', 'f.txt'];
    const requests = queueRequests(
      town,
      files.map((file) => ({ file })),
    );
    const outcomes = run(town);
    const byBead = Object.fromEntries(outcomes.map((o) => [o.bead, o]));
    for (const r of requests) expect(byBead[r.bead]?.result, r.file).toBe(r.file.startsWith('FAIL') ? 'rejected' : 'merged');
    for (const r of requests.filter((q) => q.file.startsWith('FAIL'))) {
      expect(byBead[r.bead]?.reason).toContain('test failed (exit 1)');
      const mr = town.json<Array<{ metadata: { rejected_output?: string } }>>(['bd', 'show', byBead[r.bead]?.merge_request as string])[0];
      expect(mr?.metadata.rejected_output).toContain(`broken by ${r.file}`);
      expect(town.json<Array<{ status: string }>>(['bd', 'show', r.bead])[0]?.status).toBe('open');
      expect(town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', r.agent]).some((m) => m.subject.startsWith(`MERGE_FAILED ${r.bead}`))).toBe(
        true,
      );
      expect(originFile(town, r.file)).toBeUndefined();
    }
    for (const r of requests.filter((q) => !q.file.startsWith('FAIL'))) expect(originFile(town, r.file)).toBe(`${r.file}\n`);
    expectNoIntegration(town);
    expect(town.json<Array<{ merged_24h: number; rejected_24h: number }>>(['mq', 'status', 'app'])[0]).toMatchObject({ merged_24h: 4, rejected_24h: 2 });
  });

  it('a gate that runs past its timeout rejects the request, and the later gates never run', () => {
    const town = makeTown({ rig: 'app' });
    const log = join(town.base, 'gates.log');
    setMerge(town, 'typecheck', JSON.stringify(`echo typecheck >> ${log}; sleep 30`));
    setMerge(town, 'typecheck_timeout', '"1s"');
    setMerge(town, 'test', JSON.stringify(`echo test >> ${log}`));
    const [request] = queueRequests(town, [{ file: 'slow.txt' }]);
    expect(run(town)).toMatchObject([{ bead: request?.bead, result: 'rejected', reason: 'typecheck timed out after 1s' }]);
    expect(readFileSync(log, 'utf8')).toBe('typecheck\n');
    expectNoIntegration(town);
  });

  it('orders by priority then arrival, and a request that waited merge.aging moves up (no starvation)', async () => {
    const town = makeTown({ rig: 'app' });
    const requests = queueRequests(town, [
      { file: 'low.txt', priority: 3 },
      { file: 'high.txt', priority: 1 },
      { file: 'mid.txt', priority: 2 },
    ]);
    const [low, high, mid] = requests.map((r) => r.bead);
    expect(town.json<Queued[]>(['mq', 'list', 'app']).map((q) => q.bead)).toEqual([high, mid, low]);
    setMerge(town, 'aging', '"1s"');
    await new Promise((r) => setTimeout(r, 3200));
    // Three seconds waited is three levels up: every request is P0 now, so arrival decides.
    const aged = town.json<Queued[]>(['mq', 'list', 'app']);
    expect(aged.map((q) => q.bead)).toEqual([low, high, mid]);
    expect(aged.every((q) => q.effective_priority === 0)).toBe(true);
  });

  it('gt mq reject takes a request out and gt mq retry puts it back; wrong states are refused', () => {
    const town = makeTown({ rig: 'app' });
    const [request] = queueRequests(town, [{ file: 'x.txt' }]);
    const mr = town.json<Queued[]>(['mq', 'list'])[0]?.id as string;
    expect(town.gt(['mq', 'reject', 'app-nope', '--reason', 'x']).code).toBe(4);
    const rejected = town.json<Outcome>(['mq', 'reject', mr, '--reason', 'superseded']);
    expect(rejected).toMatchObject({ result: 'rejected', reason: 'rejected by human: superseded' });
    expect(town.gt(['mq', 'reject', mr, '--reason', 'again']).code).toBe(5);
    expect(town.json<Array<{ status: string }>>(['bd', 'show', request?.bead as string])[0]?.status).toBe('open');
    expect(town.json<Queued[]>(['mq', 'list'])).toEqual([]);

    expect(town.json<{ id: string; status: string }>(['mq', 'retry', mr])).toMatchObject({ id: mr, status: 'open' });
    expect(town.gt(['mq', 'retry', mr]).code).toBe(5);
    expect(town.json<Array<{ status: string; assignee: string }>>(['bd', 'show', request?.bead as string])[0]).toMatchObject({
      status: 'in_progress',
      assignee: 'app/refinery',
    });
    expect(run(town)).toMatchObject([{ merge_request: mr, result: 'merged' }]);
    expect(town.gt(['mq', 'retry', mr]).code).toBe(5);
  });

  it('after a rejection, the same commit re-slung and done again files a new request, not the rejected one', () => {
    const town = makeTown({ rig: 'app' });
    const [request] = queueRequests(town, [{ file: 'again.txt' }]);
    const mr = town.json<Queued[]>(['mq', 'list'])[0]?.id as string;
    town.json(['mq', 'reject', mr, '--reason', 'not now']);
    const worker = request as Request;
    expect(town.json<Array<{ agent: string }>>(['sling', worker.bead, worker.agent, '--no-start'])[0]?.agent).toBe(worker.agent);
    const first = town.json<{ merge_request: string }>(['done', '--agent', worker.agent]);
    expect(first.merge_request).not.toBe(mr);
    expect(town.json<Queued[]>(['mq', 'list']).map((q) => q.id)).toEqual([first.merge_request]);
    expect(run(town)).toMatchObject([{ merge_request: first.merge_request, result: 'merged' }]);
  });

  it('a conflict rejects only that request and slings a resolve-conflict molecule to its worker; merging that closes the bead', () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'agent', 'shell', '--rig', 'app']).code).toBe(0);
    const [first, second, third] = queueRequests(town, [
      { file: 'README.md', content: 'one\n' },
      { file: 'README.md', content: 'two\n' },
      { file: 'other.txt' },
    ]);
    const outcomes = run(town);
    const conflict = outcomes.find((o) => o.bead === second?.bead);
    expect(conflict).toMatchObject({ result: 'rejected' });
    expect(conflict?.reason).toContain('conflict applying');
    expect(conflict?.reason).toContain('README.md');
    expect(
      outcomes
        .filter((o) => o.result === 'merged')
        .map((o) => o.bead)
        .sort(),
    ).toEqual([first?.bead, third?.bead].sort());
    const molecule = conflict?.conflict_molecule as string;
    const root = town.json<Array<{ metadata: { formula: string; worker: string; resolves: string; vars: Record<string, string> } }>>([
      'bd',
      'show',
      molecule,
    ])[0];
    expect(root?.metadata).toMatchObject({ formula: 'resolve-conflict', worker: second?.agent, resolves: second?.bead });
    expect(root?.metadata.vars.files).toBe('README.md');
    // The bead waits for the molecule, so nobody re-slings the old branch meanwhile.
    expect(town.json<Array<{ id: string }>>(['bd', 'ready']).map((b) => b.id)).not.toContain(second?.bead);

    // The shell runtime cannot resolve a conflict: it escalates. A person does it on the same worker instead.
    const worker = second as Request;
    expect(town.json<Array<{ agent: string }>>(['sling', molecule, worker.agent, '--no-start', '--force'])[0]?.agent).toBe(worker.agent);
    writeFileSync(join(worker.dir, 'README.md'), 'one\ntwo\n');
    town.git(worker.dir, ['add', '-A']);
    town.git(worker.dir, ['-c', 'user.name=w', '-c', 'user.email=w@w', 'commit', '-qm', 'resolve README.md']);
    town.json(['done', '--agent', worker.agent]);
    expect(run(town)).toMatchObject([{ bead: molecule, result: 'merged' }]);
    expect(originFile(town, 'README.md')).toBe('one\ntwo\n');
    expect(town.json<Array<{ status: string }>>(['bd', 'show', worker.bead])[0]?.status).toBe('closed');
    expect(town.json<Array<{ status: string }>>(['bd', 'show', molecule])[0]?.status).toBe('closed');
  });

  it('a conflict whose worker is busy again goes to another polecat', () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'agent', 'shell', '--rig', 'app']).code).toBe(0);
    const [, second] = queueRequests(town, [
      { file: 'README.md', content: 'one\n' },
      { file: 'README.md', content: 'two\n' },
    ]);
    const next = town.bead('Next job', ['true']);
    expect(town.json<Array<{ agent: string }>>(['sling', next, second?.agent as string, '--no-start'])[0]?.agent).toBe(second?.agent);
    const conflict = run(town).find((o) => o.bead === second?.bead);
    const root = town.json<Array<{ metadata: { worker: string; formula: string } }>>(['bd', 'show', conflict?.conflict_molecule as string])[0];
    expect(root?.metadata.formula).toBe('resolve-conflict');
    expect(root?.metadata.worker).toMatch(/^app\/polecats\//);
    expect(root?.metadata.worker).not.toBe(second?.agent);
  });

  it('a refinery killed while testing leaves the target unchanged and every request queued; the next run cleans up and merges', async () => {
    const town = makeTown({ rig: 'app' });
    const marker = join(town.base, 'testing');
    setMerge(town, 'test', JSON.stringify(`touch ${marker}; sleep 60`));
    const requests = queueRequests(town, [{ file: 'p.txt' }, { file: 'q.txt' }]);
    const before = town.git(join(town.base, 'app.git'), ['rev-parse', 'main']).trim();
    const child = spawn(process.execPath, [GT, 'mq', 'run', 'app'], { cwd: town.base, env: town.env, detached: true, stdio: 'ignore' });
    await waitFor('the candidate to be under test', () => existsSync(marker) || undefined, 30_000);
    expect(town.json<Array<{ running: boolean }>>(['mq', 'status', 'app'])[0]?.running).toBe(true);
    // Asking never takes the lock: the running refinery keeps it, a second run finds it busy.
    expect(run(town)).toEqual([]);
    process.kill(-(child.pid as number), 'SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(town.json<Array<{ running: boolean }>>(['mq', 'status', 'app'])[0]?.running).toBe(false);
    expect(town.git(join(town.base, 'app.git'), ['rev-parse', 'main']).trim()).toBe(before);
    expect(town.git(join(town.root, 'app', '.repo.git'), ['rev-parse', 'main']).trim()).toBe(before);
    expect(town.json<Queued[]>(['mq', 'list']).map((q) => q.bead)).toEqual(requests.map((r) => r.bead));
    expect(existsSync(join(town.root, 'app', '.integration'))).toBe(true);

    setMerge(town, 'test', '"true"');
    expect(run(town).map((o) => o.result)).toEqual(['merged', 'merged']);
    expectNoIntegration(town);
  });

  it('a refinery killed after the fast-forward: the next run finishes closing that batch from its journal', () => {
    const town = makeTown({ rig: 'app' });
    // A git that kills its caller (the refinery) when asked to push, i.e. right after the fast-forward.
    const bin = join(town.base, 'crash-bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'git'), '#!/bin/sh\ncase " $* " in *" push "*) kill -9 $PPID; exit 1 ;; esac\nexec /usr/bin/git "$@"\n');
    chmodSync(join(bin, 'git'), 0o755);
    const requests = queueRequests(town, [{ file: 'r.txt' }, { file: 's.txt' }]);
    const crashed = town.gt(['mq', 'run', 'app', '--json'], { env: { PATH: `${bin}:${town.env.PATH ?? ''}` } });
    expect(crashed.code).not.toBe(0);
    const landed = town.git(join(town.root, 'app', '.repo.git'), ['rev-parse', 'main']).trim();
    expect(town.git(join(town.root, 'app', '.repo.git'), ['show', 'main:s.txt'])).toBe('s.txt\n');
    const status = town.json<Array<{ in_flight: string[]; queued: number }>>(['mq', 'status', 'app'])[0];
    expect(status?.queued).toBe(2);
    expect(status?.in_flight).toHaveLength(2);

    const outcomes = run(town);
    expect(outcomes.map((o) => [o.bead, o.result])).toEqual(requests.map((r) => [r.bead, 'merged']));
    expect(town.git(join(town.root, 'app', '.repo.git'), ['rev-parse', 'main']).trim()).toBe(landed);
    expect(originFile(town, 's.txt')).toBe('s.txt\n');
    expect(town.json<Array<{ in_flight: string[]; queued: number }>>(['mq', 'status', 'app'])[0]).toMatchObject({ in_flight: [], queued: 0 });
    expectNoIntegration(town);
  });

  it('the daemon keeps patrolling while a batch is under test, and its refinery lands the batch', async () => {
    const town = makeTown({ rig: 'app' });
    const go = join(town.base, 'go');
    const testing = join(town.base, 'testing');
    setMerge(town, 'test', JSON.stringify(`touch ${testing}; while [ ! -f ${go} ]; do sleep 0.1; done`));
    expect(town.gt(['config', 'set', 'daemon.interval', '"300ms"']).code).toBe(0);
    const requests = queueRequests(town, [{ file: 'd1.txt' }, { file: 'd2.txt' }]);
    const loose = town.bead('Unrelated', ['true']);
    const convoy = town.json<{ id: string }>(['convoy', 'create', 'Side work', loose]);
    expect(town.gt(['up']).code).toBe(0);
    await waitFor('the batch to be under test', () => existsSync(testing) || undefined, 30_000);
    // The refinery is waiting on its test; the daemon's other loops still run.
    expect(town.gt(['bd', 'close', loose]).code).toBe(0);
    await waitFor('the convoy to land', () => town.json<{ status: string }>(['convoy', 'show', convoy.id]).status === 'landed' || undefined, 20_000);
    expect(town.json<Array<{ running: boolean }>>(['mq', 'status', 'app'])[0]?.running).toBe(true);
    writeFileSync(go, '');
    await waitFor(
      'the batch to merge',
      () => requests.every((r) => town.json<Array<{ status: string }>>(['bd', 'show', r.bead])[0]?.status === 'closed') || undefined,
      30_000,
    );
    expect(readFileSync(join(town.root, '.gt', 'daemon.log'), 'utf8')).toMatch(/msg=mr\.merged rig=app mr=\S+ bead=\S+ commit=\w+ batch=2/);
    expect(town.gt(['down']).code).toBe(0);
  }, 120_000);

  it('PR mode pushes the branch and opens a pull request with gh; a merged PR is a merged request, a closed one a rejected request', () => {
    const town = makeTown({ rig: 'app' });
    setMerge(town, 'merge_via', '"pr"');
    // A stand-in gh (GitHub cannot be reached from tests): numbered PRs, states from files.
    const bin = join(town.base, 'fake-gh');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'gh'),
      `#!/bin/sh
case "$1 $2" in
  "pr create") n=$(( $(cat ${bin}/count 2>/dev/null || echo 0) + 1 )); echo $n > ${bin}/count; echo "$*" > ${bin}/create-$n.args; echo "https://github.com/acme/app/pull/$n" ;;
  "pr view") cat "${bin}/state-$(basename "$3")" 2>/dev/null || echo '{"state":"OPEN"}' ;;
  *) exit 2 ;;
esac
`,
    );
    chmodSync(join(bin, 'gh'), 0o755);
    const env = { PATH: `${bin}:${town.env.PATH ?? ''}` };
    const [good, bad] = queueRequests(town, [{ file: 'good.txt' }, { file: 'bad.txt' }]);
    const opened = run(town, env);
    expect(opened.map((o) => [o.bead, o.result, o.pr])).toEqual([
      [good?.bead, 'pr-opened', 'https://github.com/acme/app/pull/1'],
      [bad?.bead, 'pr-opened', 'https://github.com/acme/app/pull/2'],
    ]);
    const branch = town.json<Array<{ metadata: { branch: string } }>>(['bd', 'show', opened[0]?.merge_request as string])[0]?.metadata.branch as string;
    expect(town.git(join(town.base, 'app.git'), ['rev-parse', '--verify', `refs/heads/${branch}`]).trim()).toMatch(/^[0-9a-f]{40}$/);
    expect(readFileSync(join(bin, 'create-1.args'), 'utf8')).toContain(`--head ${branch} --base main`);
    expect(town.json<Queued[]>(['mq', 'list']).map((q) => q.pr)).toEqual(['https://github.com/acme/app/pull/1', 'https://github.com/acme/app/pull/2']);
    expect(run(town, env)).toEqual([]);

    writeFileSync(join(bin, 'state-1'), '{"state":"MERGED"}');
    writeFileSync(join(bin, 'state-2'), '{"state":"CLOSED"}');
    expect(
      town
        .json<Array<{ result: string }>>(['gate', 'check'], { env })
        .map((g) => g.result)
        .sort(),
    ).toEqual(['escalated', 'resolved']);
    // Switching back to local merging does not strand requests a PR already tracks: their gates still settle them.
    setMerge(town, 'merge_via', '"local"');
    const finished = run(town, env);
    expect(finished.map((o) => [o.bead, o.result])).toEqual([
      [good?.bead, 'merged'],
      [bad?.bead, 'rejected'],
    ]);
    expect(finished[1]?.reason).toContain('closed without merging');
    expect(town.json<Array<{ status: string }>>(['bd', 'show', good?.bead as string])[0]?.status).toBe('closed');
    expect(town.json<Array<{ status: string }>>(['bd', 'show', bad?.bead as string])[0]?.status).toBe('open');
  });
});
