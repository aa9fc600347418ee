/**
 * The formula search path: folders of formula files, earlier ones shadowing
 * later ones by formula name, then gt's built-ins. Every `*.toml` in a
 * formula folder is a formula (`*.formula.toml` is Beads' name for one, and a
 * file named otherwise was once skipped without a word — issue 13).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_FORMULAS } from '../core/formulas/builtin.js';
import { parseFormula, type Formula } from '../core/formulas/formula.js';

export interface FormulaEntry {
  name: string;
  source: string;
  description: string;
  /** Sources of formulas of the same name that this one hides. */
  shadows: string[];
}

export class FormulaLibrary {
  private entries: Map<string, { source: string; text: string; shadows: string[] }> | undefined;

  /** `dirs`: searched in order (rig, town, user…); built-ins come last. */
  constructor(private readonly dirs: string[]) {}

  private scan(): Map<string, { source: string; text: string; shadows: string[] }> {
    if (this.entries) return this.entries;
    const found = new Map<string, { source: string; text: string; shadows: string[] }>();
    const add = (name: string, source: string, text: string) => {
      const existing = found.get(name);
      if (existing) existing.shadows.push(source);
      else found.set(name, { source, text, shadows: [] });
    };
    for (const dir of this.dirs) {
      let files: string[] = [];
      try {
        files = readdirSync(dir)
          .filter((f) => f.endsWith('.toml'))
          .sort();
      } catch {
        continue;
      }
      for (const file of files) {
        const path = join(dir, file);
        const text = readFileSync(path, 'utf8');
        // The name is the file's `formula` key; a file that does not parse is listed under its file name, and loading it reports the error.
        const name = /^formula\s*=\s*"([^"]+)"/m.exec(text)?.[1] ?? file.replace(/(\.formula)?\.toml$/, '');
        add(name, path, text);
      }
    }
    for (const [name, text] of Object.entries(BUILTIN_FORMULAS)) add(name, `builtin:${name}`, text);
    this.entries = found;
    return found;
  }

  list(): FormulaEntry[] {
    return [...this.scan()]
      .map(([name, e]) => ({ name, source: e.source, description: /^description\s*=\s*"([^"]*)"/m.exec(e.text)?.[1] ?? '', shadows: e.shadows }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The formula of this name, parsed and validated (errors name file, line and key). */
  load = (name: string): Formula | undefined => {
    const entry = this.scan().get(name);
    return entry ? parseFormula(entry.text, entry.source) : undefined;
  };
}
