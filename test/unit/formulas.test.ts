import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_FORMULAS } from '../../src/core/formulas/builtin.js';
import { cookFormula, parseFormula, type Formula } from '../../src/core/formulas/formula.js';
import { commandGateVoucher } from '../../src/core/work/gates.js';
import { SHARED_FIXTURES } from '../support/env.js';

const none = () => undefined;
const FORMULAS = join(SHARED_FIXTURES, 'formulas');
if (!existsSync(FORMULAS)) console.warn(`Skipping the Beads formula fixtures: ${FORMULAS} is absent.`);

describe('formulas', () => {
  it.skipIf(!existsSync(FORMULAS))('parses and cooks the real Beads formula files (../shared/fixtures/beads/formulas)', () => {
    const files = readdirSync(FORMULAS).filter((f) => f.endsWith('.formula.toml'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const formula = parseFormula(readFileSync(join(FORMULAS, file), 'utf8'), file);
      const vars = Object.fromEntries(
        Object.entries(formula.vars)
          .filter(([, v]) => v.required)
          .map(([k, v]) => [k, v.pattern ? '1.2.3' : 'x']),
      );
      const cooked = cookFormula(formula, vars, none);
      expect(cooked.steps.length, file).toBeGreaterThan(0);
      expect(
        cooked.steps.every((s) => !s.title.includes('{{')),
        file,
      ).toBe(true);
    }
  });

  it('cooks every built-in formula', () => {
    const vars: Record<string, Record<string, string>> = {
      release: { version: '2.0.0' },
      'polecat-work': { bead: 'app-1' },
      'code-review': { target: 'main' },
      'tdd-cycle': { behaviour: 'b' },
      'resolve-conflict': { bead: 'app-1', branch: 'polecat/nux/app-1' },
    };
    for (const [name, text] of Object.entries(BUILTIN_FORMULAS)) {
      const cooked = cookFormula(parseFormula(text, `builtin:${name}`), vars[name] ?? {}, none);
      expect(cooked.formula).toBe(name);
      expect(cooked.steps.length).toBeGreaterThan(1);
    }
    const demo = cookFormula(parseFormula(BUILTIN_FORMULAS['shell-demo'] as string, 'b'), { file: 'x.txt' }, none);
    expect(demo.steps.map((s) => s.run)).toEqual([["printf '%s\\n' 'hello from gt' > 'x.txt'", "git add 'x.txt'"], ["git commit -qm 'Add x.txt'"]]);
  });

  it('substitutes vars, applies defaults, enums, patterns and conditions, flattens children and maps step types', () => {
    const formula = parseFormula(
      `formula = "f"
[vars]
who = "world"
[vars.mode]
enum = ["fast", "full"]
default = "fast"
[[steps]]
id = "a"
title = "Hello {{who}}"
type = "human"
[[steps]]
id = "b"
title = "Only when full"
condition = "{{mode}} == full"
needs = ["a"]
[[steps]]
id = "c"
title = "Parent"
needs = ["a", "b"]
[[steps.children]]
id = "c1"
title = "Child of {{who}}"
`,
      'f.formula.toml',
    );
    const fast = cookFormula(formula, {}, none);
    expect(fast.steps.map((s) => [s.id, s.title, s.type, s.needs, s.parent ?? null])).toEqual([
      ['a', 'Hello world', 'task', [], null],
      ['c', 'Parent', 'epic', ['a'], null],
      ['c1', 'Child of world', 'task', [], 'c'],
    ]);
    expect(fast.steps[0]?.labels).toEqual(['step:human']);
    expect(cookFormula(formula, { mode: 'full', who: 'gt' }, none).steps.map((s) => s.id)).toEqual(['a', 'b', 'c', 'c1']);
    expect(() => cookFormula(formula, { mode: 'slow' }, none)).toThrow(/key vars\.mode: "slow" is not one of fast, full/);
    expect(() => cookFormula(formula, { nope: '1' }, none)).toThrow(/has no var "nope"/);
  });

  it('reports a malformed formula with file, line and key', () => {
    const bad = (text: string) => () => parseFormula(`formula = "f"\n${text}`, 'bad.formula.toml');
    expect(bad('[[steps]]\nid = "a"\ntitle = "A"\ncolour = "red"\n')).toThrow(/bad\.formula\.toml:5: key steps\.0\.colour: unknown key/);
    expect(bad('[[steps]]\nid = "a"\ntitle = "A"\n[[steps]]\nid = "b"\ntitle = "B"\nneeds = ["zzz"]\n')).toThrow(
      /bad\.formula\.toml:8: key steps\.1\.needs: step "b" needs "zzz", which is no step/,
    );
    expect(bad('[[steps]]\nid = "a"\ntitle = "A"\nneeds = ["b"]\n[[steps]]\nid = "b"\ntitle = "B"\nneeds = ["a"]\n')).toThrow(/form a cycle/);
    expect(bad('[[steps]]\nid = "a"\ntitle = "A"\n[[steps]]\nid = "a"\ntitle = "again"\n')).toThrow(
      /bad\.formula\.toml:6: key steps\.1\.id: step id "a" is used twice/,
    );
    expect(bad('[vars.v]\nrequired = true\ndefault = "x"\n')).toThrow(/bad\.formula\.toml:3: key vars\.v\.required: a required var cannot also have a default/);
    expect(bad('version = "one"\n')).toThrow(/bad\.formula\.toml:2: key version/);
    expect(() => parseFormula('formula = "f"\n[[steps]\n', 'broken.formula.toml')).toThrow(/broken\.formula\.toml:2:\d+: not valid TOML/);
    const release = parseFormula(BUILTIN_FORMULAS.release as string, 'builtin:release');
    expect(() => cookFormula(release, {}, none)).toThrow(/key vars\.version: required, and no value was given/);
    expect(() => cookFormula(release, { version: 'one' }, none)).toThrow(/key vars\.version: "one" does not match/);
  });

  it('extends: a child inherits vars and steps, overrides the same ids, and a cycle is an error', () => {
    const formulas: Record<string, Formula> = {
      base: parseFormula(
        'formula = "base"\n[vars]\nx = "1"\n[[steps]]\nid = "a"\ntitle = "A {{x}}"\n[[steps]]\nid = "b"\ntitle = "B"\nneeds = ["a"]\n',
        'base',
      ),
      child: parseFormula(
        'formula = "child"\nextends = "base"\n[[steps]]\nid = "b"\ntitle = "B, mine"\nneeds = ["a"]\n[[steps]]\nid = "c"\ntitle = "C"\nneeds = ["b"]\n',
        'child',
      ),
      loop1: parseFormula('formula = "loop1"\nextends = "loop2"\n', 'loop1'),
      loop2: parseFormula('formula = "loop2"\nextends = "loop1"\n', 'loop2'),
    };
    const load = (name: string) => formulas[name];
    expect(cookFormula(formulas.child as Formula, {}, load).steps.map((s) => s.title)).toEqual(['A 1', 'B, mine', 'C']);
    expect(() => cookFormula(formulas.loop1 as Formula, {}, load)).toThrow(/extend each other in a cycle/);
  });
});

describe('who vouches for a command gate', () => {
  const child = parseFormula(
    'formula = "deploy"\nextends = ["base-checks"]\n[[steps]]\nid = "ship"\ntitle = "Ship"\nneeds = ["check"]\n',
    '/town/formulas/deploy.formula.toml',
  );
  const parent = (source: string) =>
    parseFormula('formula = "base-checks"\n[[steps]]\nid = "check"\ntitle = "Check"\n[steps.gate]\ntype = "command"\ncommand = "make check"\n', source);
  const agent = { person: false, actor: 'app/polecats/nux' };

  it('an installed formula vouches only when every formula it extends is installed too (an agent can write ~/.gt/formulas)', () => {
    const fromHome = cookFormula(child, {}, (name) => (name === 'base-checks' ? parent('/home/me/.gt/formulas/base-checks.formula.toml') : undefined));
    expect(fromHome.sources).toEqual(['/town/formulas/deploy.formula.toml', '/home/me/.gt/formulas/base-checks.formula.toml']);
    expect(commandGateVoucher(fromHome, agent, '/town')).toBeUndefined();
    const installed = cookFormula(child, {}, (name) => (name === 'base-checks' ? parent('/town/formulas/base-checks.formula.toml') : undefined));
    expect(commandGateVoucher(installed, agent, '/town')).toBe('formula /town/formulas/deploy.formula.toml');
    // A person pouring it vouches whatever it extends.
    expect(commandGateVoucher(fromHome, { person: true, actor: 'human' }, '/town')).toBe('human');
  });
});
