/**
 * Issue 12: no agent raises its own privileges. Each test is a scripted agent
 * process doing what the repro did: running the real `gt`/`bd` with
 * GT_AGENT=<rig>/polecats/<name> in its environment, as agent sessions have,
 * against a real town (git, SQLite).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTown } from '../support/town.js';

const AGENT = { GT_AGENT: 'app/polecats/nux', BD_ACTOR: 'app/polecats/nux' };

interface GateCheck { gate: string; result: string; detail: string }

describe('command gates (finding 1)', () => {
  it('an agent\'s command gate is never run; a formula a person installed runs in the rig\'s worktree with a scrubbed environment', () => {
    const town = makeTown({ rig: 'app' });
    const rigDir = join(town.root, 'app');
    const pwned = join(town.base, 'PWNED');
    // The repro: the agent files a command gate, then asks for it to be vouched for.
    const created = town.gt(['bd', 'create', 'Wait for CI', '-t', 'gate', '--silent', '--metadata', JSON.stringify({ await_type: 'command', command: `touch ${pwned}` })], { cwd: rigDir, env: AGENT });
    expect(created.code, created.stderr).toBe(0);
    const gate = created.stdout.trim();
    const forged = town.gt(['bd', 'update', gate, '--set-metadata', 'command_approved_by=human', '--set-metadata', `command_approved=touch ${pwned}`], { cwd: rigDir, env: AGENT });
    expect(forged.code).not.toBe(0);
    expect(forged.stderr).toContain('may not approve the command of a gate');
    const stamped = town.gt(['bd', 'create', 'Sneaky', '-t', 'gate', '--metadata', JSON.stringify({ await_type: 'command', command: `touch ${pwned}`, command_approved_by: 'human', command_approved: `touch ${pwned}` })], { cwd: rigDir, env: AGENT });
    expect(stamped.code).not.toBe(0);
    // An agent's own formula (in its worktree, not installed by a person) vouches for nothing either.
    mkdirSync(join(rigDir, '.beads', 'formulas'), { recursive: true });
    writeFileSync(join(rigDir, '.beads', 'formulas', 'evil.formula.toml'), `formula = "evil"\n[[steps]]\nid = "s"\ntitle = "S"\n[steps.gate]\ntype = "command"\ncommand = "touch ${pwned}"\n`);
    const evil = town.gt(['bd', 'mol', 'pour', 'evil', '--json'], { cwd: rigDir, env: AGENT });
    expect(evil.code, evil.stderr).toBe(0);
    const evilGate = (JSON.parse(evil.stdout) as { gates: Record<string, string> }).gates.s as string;

    // A person installs a formula with a command gate and pours it in the rig.
    mkdirSync(join(town.root, 'formulas'), { recursive: true });
    const out = join(town.base, 'gate.out');
    writeFileSync(join(town.root, 'formulas', 'ci.formula.toml'), `formula = "ci"\n[[steps]]\nid = "s"\ntitle = "S"\n[steps.gate]\ntype = "command"\ncommand = "pwd > ${out}; env >> ${out}"\n`);
    const pour = town.gt(['bd', 'mol', 'pour', 'ci', '--json'], { cwd: rigDir });
    expect(pour.code, pour.stderr).toBe(0);
    const poured = JSON.parse(pour.stdout) as { gates: Record<string, string> };
    const good = poured.gates.s as string;

    const outcomes = town.json<GateCheck[]>(['gate', 'check'], { env: { ANTHROPIC_API_KEY: 'sk-ant-secret', GITHUB_TOKEN: 'ghp_secret' } });
    const byGate = Object.fromEntries(outcomes.map((o) => [o.gate, o]));
    expect(byGate[gate]).toMatchObject({ result: 'waiting' });
    expect(byGate[gate]?.detail).toContain('not run');
    expect(byGate[evilGate]).toMatchObject({ result: 'waiting' });
    expect(existsSync(pwned)).toBe(false);
    expect(existsSync(join(rigDir, 'refinery', 'PWNED'))).toBe(false);
    expect(byGate[good]?.result, JSON.stringify(outcomes)).toBe('resolved');
    const [cwd, ...env] = readFileSync(out, 'utf8').trim().split('\n');
    expect(cwd).toBe(join(town.root, 'app', 'refinery'));
    expect(env.join('\n')).not.toContain('secret');
    expect(env.some((line) => line.startsWith('GT_ROOT=') || line.startsWith('GIT_CONFIG_GLOBAL='))).toBe(false);

    // A person may still open the agent's gate by hand; its command never runs.
    expect(town.json<{ status: string }>(['gate', 'approve', gate])).toMatchObject({ status: 'resolved' });
    expect(existsSync(pwned)).toBe(false);
  });
});
