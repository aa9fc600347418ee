/**
 * Formulas poured into molecules and wisps with the real bd binary (issue 5, second part).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { workspace } from '../support/env.js';

interface Pour {
  root: string;
  steps: Record<string, string>;
  gates: Record<string, string>;
  created: number;
}
interface Issue {
  id: string;
  status: string;
  title: string;
  ephemeral?: boolean;
}

describe('molecules', () => {
  it('pours a formula in one go; steps follow their needs, a gate holds its step, and the last close closes the root', () => {
    const ws = workspace('t');
    const poured = ws.json<Pour>(['mol', 'pour', 'release', '--var', 'version=1.2.0']);
    expect(poured.root).toMatch(/^t-mol-/);
    expect(Object.keys(poured.steps)).toEqual(['bump', 'changelog', 'test', 'tag', 'publish']);
    expect(Object.keys(poured.gates)).toEqual(['publish']);
    expect(poured.created).toBe(7);
    const current = () => ws.json<{ current: Issue[] }>(['mol', 'current', poured.root]).current.map((s) => s.id);
    expect(current()).toEqual([poured.steps.bump]);
    expect(ws.json<Issue[]>(['ready', '--mol', poured.root]).map((i) => i.id)).toEqual([poured.steps.bump]);
    expect(ws.json<Issue[]>(['show', poured.steps.tag as string])[0]?.title).toBe('Tag v1.2.0');
    for (const step of ['bump', 'changelog', 'test', 'tag']) {
      expect(ws.bd(['close', poured.steps[step] as string]).code).toBe(0);
    }
    // Publish waits for its human gate.
    expect(current()).toEqual([]);
    expect(ws.bd(['close', poured.gates.publish as string]).code).toBe(0);
    expect(current()).toEqual([poured.steps.publish]);
    expect(ws.bd(['close', poured.steps.publish as string]).code).toBe(0);
    expect(ws.json<{ closed: number; total: number; status: string }>(['mol', 'progress', poured.root])).toMatchObject({
      molecule: poured.root,
      closed: 5,
      total: 5,
      status: 'closed',
    });
  });

  it('pours nothing from a formula with an error or a missing var', () => {
    const ws = workspace('t');
    mkdirSync(join(ws.dir, '.beads', 'formulas'), { recursive: true });
    writeFileSync(
      join(ws.dir, '.beads', 'formulas', 'loop.formula.toml'),
      'formula = "loop"\n[[steps]]\nid = "a"\ntitle = "A"\nneeds = ["b"]\n[[steps]]\nid = "b"\ntitle = "B"\nneeds = ["a"]\n',
    );
    const before = ws.json<{ total_issues: number }>(['stats']).total_issues;
    const cycle = ws.bd(['mol', 'pour', 'loop']);
    expect(cycle.code).not.toBe(0);
    expect(cycle.stderr).toMatch(/loop\.formula\.toml:\d+: key steps\.\d\.needs: .*cycle/);
    const missing = ws.bd(['mol', 'pour', 'release']);
    expect(missing.stderr).toContain('key vars.version: required, and no value was given');
    expect(ws.bd(['mol', 'pour', 'release', '--var', 'version=banana']).stderr).toContain('does not match');
    expect(ws.json<{ total_issues: number }>(['stats']).total_issues).toBe(before);
  });

  it('a wisp is never exported; burn deletes it; squash leaves one closed digest', () => {
    const ws = workspace('t');
    const wisp = ws.json<Pour>(['mol', 'wisp', 'tdd-cycle', '--var', 'behaviour=adds numbers']);
    expect(wisp.root).toMatch(/^t-wisp-/);
    expect(ws.json<Issue[]>(['show', wisp.root])[0]?.ephemeral).toBe(true);
    const kept = ws.bd(['create', 'A lasting bead', '--silent']).stdout.trim();
    const exported = join(ws.dir, 'out.jsonl');
    expect(ws.bd(['export', '-o', exported]).code).toBe(0);
    expect(readFileSync(exported, 'utf8')).toContain(kept);
    expect(readFileSync(exported, 'utf8')).not.toContain(wisp.root);
    expect(ws.json<{ deleted: string[] }>(['mol', 'burn', wisp.root]).deleted).toHaveLength(4);
    expect(ws.bd(['show', wisp.root]).code).not.toBe(0);

    const mol = ws.json<Pour>(['mol', 'pour', 'polecat-work', '--var', 'bead=t-1']);
    const squashed = ws.json<{ digest: string; squashed: string[]; deleted: number }>(['mol', 'squash', mol.root, '--summary', 'all done']);
    expect(squashed.squashed).toHaveLength(4);
    expect(squashed.deleted).toBe(5);
    expect(ws.json<Issue[]>(['show', squashed.digest])[0]).toMatchObject({ status: 'closed', title: 'Digest: polecat-work' });
    expect(ws.bd(['show', mol.root]).code).not.toBe(0);
  });
});
