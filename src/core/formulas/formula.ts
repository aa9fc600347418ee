/**
 * Formulas (research/beads.md §5): TOML workflow templates — vars, steps with
 * a `needs` DAG, conditions, gates, nested children — parsed, validated and
 * "cooked" into the resolved step graph a molecule is poured from. Every
 * error names the file, the line (when it can be found) and the key, and
 * nothing is poured from a formula with an error.
 */
import { parse, TomlError } from 'smol-toml';
import { z } from '../../shared/zod.js';
import { GtError } from '../../shared/errors.js';

const gateSchema = z.strictObject({
  type: z.enum(['human', 'timer', 'bead', 'command', 'gh:run', 'gh:pr', 'mail']),
  id: z.string().optional(),
  await_id: z.string().optional(),
  timeout: z.string().optional(),
  command: z.string().optional(),
  interval: z.string().optional(),
});

interface StepInput {
  id: string;
  title?: string | undefined;
  description?: string | undefined;
  notes?: string | undefined;
  type?: string | undefined;
  priority?: number | undefined;
  labels?: string[] | undefined;
  assignee?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  needs?: string[] | undefined;
  depends_on?: string[] | undefined;
  waits_for?: 'all-children' | 'any-children' | undefined;
  condition?: string | undefined;
  children?: StepInput[] | undefined;
  gate?: z.infer<typeof gateSchema> | undefined;
  run?: string | string[] | undefined;
}

const stepSchema: z.ZodType<StepInput> = z.lazy(() =>
  z.strictObject({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a step id: letters, digits, ".", "_", "-"'),
    title: z.string().optional(),
    description: z.string().optional(),
    notes: z.string().optional(),
    type: z.string().optional(),
    priority: z.number().int().min(0).max(4).optional(),
    labels: z.array(z.string()).optional(),
    assignee: z.string().optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    needs: z.array(z.string()).optional(),
    depends_on: z.array(z.string()).optional(),
    waits_for: z.enum(['all-children', 'any-children']).optional(),
    condition: z.string().optional(),
    children: z.array(stepSchema).optional(),
    gate: gateSchema.optional(),
    run: z.union([z.string(), z.array(z.string())]).optional(),
  }),
);

const varSchema = z.union([
  z.string(),
  z.strictObject({
    description: z.string().optional(),
    default: z.union([z.string(), z.number(), z.boolean()]).transform(String).optional(),
    required: z.boolean().optional(),
    enum: z.array(z.string()).optional(),
    pattern: z.string().optional(),
    type: z.enum(['string', 'int', 'bool']).optional(),
  }),
]);

export const formulaSchema = z.strictObject({
  formula: z.string().min(1),
  description: z.string().default(''),
  version: z.number().int().min(1).default(1),
  type: z.enum(['workflow', 'expansion', 'aspect', 'convoy']).default('workflow'),
  extends: z.union([z.string(), z.array(z.string())]).optional(),
  phase: z.enum(['liquid', 'vapor']).optional(),
  pour: z.boolean().optional(),
  vars: z.record(z.string(), varSchema).default({}),
  steps: z.array(stepSchema).default([]),
});

export type FormulaFile = z.infer<typeof formulaSchema>;

export interface VarSpec {
  description?: string;
  default?: string;
  required: boolean;
  enum?: string[];
  pattern?: string;
}

export interface Formula {
  name: string;
  description: string;
  version: number;
  type: FormulaFile['type'];
  extends: string[];
  phase?: 'liquid' | 'vapor';
  vars: Record<string, VarSpec>;
  steps: StepInput[];
  /** Where it was read from (a path, or `builtin:<name>`). */
  source: string;
  /** Every file it is made of: itself, then the formulas it extends (set when extends is resolved). */
  sources?: string[];
}

const STANDARD_TYPES = new Set(['task', 'bug', 'feature', 'epic', 'chore']);

/** The line of a key in TOML text, found by walking `[[steps]]` / `[vars.x]` headers; undefined when unsure. */
export function lineOf(text: string, path: ReadonlyArray<PropertyKey>): number | undefined {
  const lines = text.split('\n');
  const keyLine = (from: number, key: string): number | undefined => {
    for (let i = from; i < lines.length; i++) {
      const line = (lines[i] as string).trim();
      if (i > from && line.startsWith('[')) return undefined;
      if (new RegExp(`^"?${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?\\s*=`).test(line)) return i + 1;
    }
    return undefined;
  };
  const [first, second, third] = path;
  if (first === 'steps' && typeof second === 'number') {
    let seen = -1;
    for (let i = 0; i < lines.length; i++) {
      if (/^\s*\[\[steps\]\]/.test(lines[i] as string) && ++seen === second) {
        return typeof third === 'string' ? (keyLine(i, third) ?? i + 1) : i + 1;
      }
    }
    return undefined;
  }
  if (first === 'vars' && typeof second === 'string') {
    const header = lines.findIndex((l) => l.trim() === `[vars.${second}]`);
    if (header >= 0) return typeof third === 'string' ? (keyLine(header, third) ?? header + 1) : header + 1;
    return keyLine(
      lines.findIndex((l) => l.trim() === '[vars]'),
      second,
    );
  }
  return typeof first === 'string' ? keyLine(0, first) : undefined;
}

function formulaError(source: string, text: string | undefined, path: ReadonlyArray<PropertyKey>, what: string): GtError {
  const line = text ? lineOf(text, path) : undefined;
  const key = path.length ? path.map(String).join('.') : '(top level)';
  return new GtError('validation', `${source}${line ? `:${line}` : ''}: key ${key}: ${what}`, {
    hint: `fix ${source}; see gt formula show <name> for a working example`,
  });
}

/** Parses and validates a formula file's text. */
export function parseFormula(text: string, source: string): Formula {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    const where = error instanceof TomlError ? `:${error.line}:${error.column}` : '';
    throw new GtError('validation', `${source}${where}: not valid TOML: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
  const result = formulaSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path ?? [];
    let what = issue?.message ?? 'invalid';
    let at = path;
    if (issue?.code === 'unrecognized_keys') {
      what = `unknown key(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
      at = [...path, issue.keys[0] as string];
    }
    throw formulaError(source, text, at, what);
  }
  const file = result.data;
  const vars: Record<string, VarSpec> = {};
  for (const [name, spec] of Object.entries(file.vars)) {
    if (typeof spec === 'string') {
      vars[name] = { default: spec, required: false };
      continue;
    }
    if (spec.required && spec.default !== undefined) throw formulaError(source, text, ['vars', name, 'required'], 'a required var cannot also have a default');
    if (spec.pattern !== undefined) {
      try {
        new RegExp(spec.pattern);
      } catch {
        throw formulaError(source, text, ['vars', name, 'pattern'], `not a valid regular expression: ${spec.pattern}`);
      }
    }
    vars[name] = {
      required: spec.required === true,
      ...(spec.description !== undefined ? { description: spec.description } : {}),
      ...(spec.default !== undefined ? { default: spec.default } : {}),
      ...(spec.enum ? { enum: spec.enum } : {}),
      ...(spec.pattern !== undefined ? { pattern: spec.pattern } : {}),
    };
  }
  const formula: Formula = {
    name: file.formula,
    description: file.description,
    version: file.version,
    type: file.type,
    extends: file.extends === undefined ? [] : Array.isArray(file.extends) ? file.extends : [file.extends],
    ...(file.phase ? { phase: file.phase } : {}),
    vars,
    steps: file.steps,
    source,
  };
  checkSteps(formula, text);
  return formula;
}

function flatten(steps: StepInput[], path: PropertyKey[] = ['steps']): Array<{ step: StepInput; path: PropertyKey[]; parent?: string }> {
  return steps.flatMap((step, i) => {
    const here = [...path, i];
    return [{ step, path: here }, ...flatten(step.children ?? [], [...here, 'children']).map((c) => ({ ...c, parent: c.parent ?? step.id }))];
  });
}

/** Step ids unique, every `needs` naming a step, titles present, no cycle. */
function checkSteps(formula: Formula, text?: string): void {
  const all = flatten(formula.steps);
  const ids = new Set<string>();
  for (const { step, path } of all) {
    if (ids.has(step.id)) throw formulaError(formula.source, text, [...path, 'id'], `step id ${JSON.stringify(step.id)} is used twice`);
    ids.add(step.id);
    if (step.title === undefined) throw formulaError(formula.source, text, [...path, 'id'], `step ${JSON.stringify(step.id)} has no title`);
  }
  if (formula.extends.length > 0) return; // needs may name a parent's steps: checked after extends is resolved
  checkGraph(formula, all, text);
}

function checkGraph(formula: Formula, all: Array<{ step: StepInput; path: PropertyKey[] }>, text?: string): void {
  const ids = new Set(all.map((s) => s.step.id));
  for (const { step, path } of all) {
    for (const key of ['needs', 'depends_on'] as const) {
      for (const need of step[key] ?? []) {
        if (!ids.has(need))
          throw formulaError(
            formula.source,
            text,
            [...path, key],
            `step ${JSON.stringify(step.id)} needs ${JSON.stringify(need)}, which is no step of this formula`,
          );
      }
    }
  }
  // Kahn's algorithm: what remains has a cycle.
  const needs = new Map(all.map(({ step }) => [step.id, new Set([...(step.needs ?? []), ...(step.depends_on ?? [])])]));
  const done = new Set<string>();
  let progress = true;
  while (progress) {
    progress = false;
    for (const [id, deps] of needs) {
      if (!done.has(id) && [...deps].every((d) => done.has(d))) {
        done.add(id);
        progress = true;
      }
    }
  }
  const stuck = [...needs.keys()].filter((id) => !done.has(id));
  if (stuck.length > 0) {
    const first = all.find((s) => s.step.id === stuck[0]);
    throw formulaError(
      formula.source,
      text,
      [...(first?.path ?? ['steps']), 'needs'],
      `the needs of steps ${stuck.map((s) => JSON.stringify(s)).join(', ')} form a cycle`,
    );
  }
}

/** Finds a formula by name (the search path is the loader's business). */
export type FormulaLoader = (name: string) => Formula | undefined;

/** Applies `extends`: parents' vars and steps first, the child's override the same names and ids. */
export function resolveExtends(formula: Formula, load: FormulaLoader, seen: string[] = []): Formula {
  if (formula.extends.length === 0) return formula;
  if (seen.includes(formula.name))
    throw new GtError('validation', `${formula.source}: key extends: formulas extend each other in a cycle: ${[...seen, formula.name].join(' → ')}`);
  let vars: Record<string, VarSpec> = {};
  let steps: StepInput[] = [];
  const sources = [formula.source];
  for (const name of formula.extends) {
    const parentFormula = load(name);
    if (!parentFormula)
      throw new GtError('not_found', `${formula.source}: key extends: no formula named ${JSON.stringify(name)}`, { hint: 'see gt formula list' });
    const parent = resolveExtends(parentFormula, load, [...seen, formula.name]);
    sources.push(...(parent.sources ?? [parent.source]));
    vars = { ...vars, ...parent.vars };
    steps = [...steps.filter((s) => !parent.steps.some((p) => p.id === s.id)), ...parent.steps];
  }
  const merged: Formula = {
    ...formula,
    sources,
    extends: [],
    vars: { ...vars, ...formula.vars },
    steps: [...steps.map((s) => formula.steps.find((o) => o.id === s.id) ?? s), ...formula.steps.filter((s) => !steps.some((p) => p.id === s.id))],
  };
  checkGraph(merged, flatten(merged.steps));
  return merged;
}

export interface CookedStep {
  id: string;
  title: string;
  description: string;
  notes?: string;
  type: string;
  priority: number;
  labels: string[];
  assignee?: string;
  metadata?: Record<string, unknown>;
  /** Sibling steps this one waits for (blocks edges). */
  needs: string[];
  /** The step this one is a child of; top-level steps belong to the root. */
  parent?: string;
  waits_for?: 'all-children' | 'any-children';
  gate?: z.infer<typeof gateSchema>;
  /** Commands the shell runtime runs for this step. */
  run?: string[];
}

export interface CookedFormula {
  formula: string;
  description: string;
  version: number;
  type: FormulaFile['type'];
  phase?: 'liquid' | 'vapor';
  vars: Record<string, string>;
  steps: CookedStep[];
  source: string;
  /** Every file the cooked formula is made of (itself and what it extends). */
  sources: string[];
}

const VAR = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(VAR, (whole, name: string) => vars[name] ?? whole);
}

/** `{{v}}` (truthy), `!{{v}}`, `{{v}} == x`, `{{v}} != x`. */
function conditionHolds(condition: string, vars: Record<string, string>): boolean {
  const text = substitute(condition.trim(), vars);
  const compare = /^(.*?)\s*(==|!=)\s*(.*)$/.exec(text);
  if (compare) {
    const [, left, op, right] = compare;
    const equal = (left ?? '').trim() === (right ?? '').trim().replace(/^["']|["']$/g, '');
    return op === '==' ? equal : !equal;
  }
  const negated = text.startsWith('!');
  const value = (negated ? text.slice(1) : text).trim();
  const truthy = value !== '' && value !== 'false' && value !== '0' && !VAR.test(value);
  VAR.lastIndex = 0;
  return negated ? !truthy : truthy;
}

/** Checks the given vars against the formula's and fills in defaults. */
export function resolveVars(formula: Formula, given: Record<string, string>): Record<string, string> {
  for (const name of Object.keys(given)) {
    if (!(name in formula.vars) && name !== 'title' && name !== 'desc') {
      throw new GtError('usage', `${formula.name} has no var ${JSON.stringify(name)}`, {
        hint: `its vars: ${Object.keys(formula.vars).join(', ') || '(none)'}`,
      });
    }
  }
  const vars: Record<string, string> = {};
  for (const [name, spec] of Object.entries(formula.vars)) {
    const value = given[name] ?? spec.default;
    if (value === undefined) {
      if (spec.required)
        throw new GtError('usage', `${formula.source}: key vars.${name}: required, and no value was given`, {
          hint: `pass --var ${name}=<value>${spec.description ? ` (${spec.description})` : ''}`,
        });
      continue;
    }
    if (spec.enum && !spec.enum.includes(value))
      throw new GtError('validation', `${formula.source}: key vars.${name}: ${JSON.stringify(value)} is not one of ${spec.enum.join(', ')}`);
    if (spec.pattern !== undefined && !new RegExp(spec.pattern).test(value))
      throw new GtError('validation', `${formula.source}: key vars.${name}: ${JSON.stringify(value)} does not match ${spec.pattern}`);
    vars[name] = value;
  }
  for (const name of ['title', 'desc']) if (given[name] !== undefined) vars[name] = given[name];
  return vars;
}

/**
 * The resolved graph: extends applied, vars checked and substituted, steps whose
 * condition fails left out (with the needs that named them), nested children
 * flattened with their parent.
 */
export function cookFormula(formula: Formula, given: Record<string, string>, load: FormulaLoader): CookedFormula {
  const resolved = resolveExtends(formula, load);
  const vars = resolveVars(resolved, given);
  const kept = flatten(resolved.steps).filter(({ step }) => step.condition === undefined || conditionHolds(step.condition, vars));
  const keptIds = new Set(kept.map(({ step }) => step.id));
  const steps = kept.map(({ step, parent }): CookedStep => {
    const type = step.children?.length ? 'epic' : step.type && STANDARD_TYPES.has(step.type) ? step.type : 'task';
    const labels = [...(step.labels ?? []), ...(step.type && !STANDARD_TYPES.has(step.type) ? [`step:${step.type}`] : [])];
    const cooked: CookedStep = {
      id: step.id,
      title: substitute(step.title ?? step.id, vars),
      description: substitute(step.description ?? '', vars),
      type,
      priority: step.priority ?? 2,
      labels,
      needs: [...new Set([...(step.needs ?? []), ...(step.depends_on ?? [])])].filter((n) => keptIds.has(n)),
    };
    if (step.notes !== undefined) cooked.notes = substitute(step.notes, vars);
    if (step.assignee !== undefined) cooked.assignee = substitute(step.assignee, vars);
    if (step.metadata) cooked.metadata = step.metadata;
    if (parent && keptIds.has(parent)) cooked.parent = parent;
    if (step.waits_for) cooked.waits_for = step.waits_for;
    if (step.gate)
      cooked.gate = {
        ...step.gate,
        ...(step.gate.command ? { command: substitute(step.gate.command, vars) } : {}),
        ...(step.gate.await_id ? { await_id: substitute(step.gate.await_id, vars) } : {}),
      };
    if (step.run !== undefined)
      cooked.run = (Array.isArray(step.run) ? step.run : step.run.split('\n')).map((c) => substitute(c, vars)).filter((c) => c.trim() !== '');
    return cooked;
  });
  return {
    formula: resolved.name,
    description: substitute(resolved.description, vars),
    version: resolved.version,
    type: resolved.type,
    ...(resolved.phase ? { phase: resolved.phase } : {}),
    vars,
    steps,
    source: resolved.source,
    sources: resolved.sources ?? [resolved.source],
  };
}
