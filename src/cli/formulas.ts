/** What gt and bd share about formulas: `--var k=v` and printing a cooked graph. */
import { usageError } from '../shared/errors.js';
import type { CookedFormula } from '../core/formulas/formula.js';

/** `--var k=v`, repeatable: commander collects them with this. */
export function collectVar(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw usageError(`--var ${JSON.stringify(value)} is not key=value`, 'e.g. --var version=1.2.0');
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

export function renderCooked(cooked: CookedFormula): string {
  const vars = Object.entries(cooked.vars)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const lines = [`${cooked.formula} v${cooked.version} (${cooked.type})${vars ? `  ${vars}` : ''}`, cooked.description, ''];
  for (const step of cooked.steps) {
    const extras = [
      step.needs.length ? `needs ${step.needs.join(', ')}` : '',
      step.parent ? `in ${step.parent}` : '',
      step.gate ? `gate ${step.gate.type}` : '',
      step.run ? `run: ${step.run.join(' && ')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    lines.push(`${step.id.padEnd(14)} ${step.title}${extras ? `  (${extras})` : ''}`);
  }
  return lines.join('\n');
}
