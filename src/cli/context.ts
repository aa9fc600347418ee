/** What every command of bd and gt gets: I/O, the global flags it shares, and how results are written. */
import { resolve } from 'node:path';
import { renderJson, style, type Io, type Style } from './output.js';

export class CliContext<G extends { json?: boolean; directory?: string }> {
  readonly io: Io;
  readonly style: Style;
  globals = {} as G;

  constructor(io: Io) {
    this.io = io;
    this.style = style(io);
  }

  get json(): boolean {
    return this.globals.json === true;
  }

  get cwd(): string {
    return this.globals.directory ? resolve(this.io.cwd, this.globals.directory) : this.io.cwd;
  }

  out(text: string): void {
    if (text !== '') this.io.stdout(text.endsWith('\n') ? text : `${text}\n`);
  }

  err(text: string): void {
    this.io.stderr(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Emits a result: JSON when --json, otherwise the text. */
  emit(data: unknown, text: () => string): void {
    if (this.json) this.io.stdout(renderJson(data));
    else this.out(text());
  }
}
