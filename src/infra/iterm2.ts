/**
 * The swarm view in iTerm2 (issue 17 §2), through the `it2` CLI: the leader
 * is the iTerm2 session gt swarm runs in; each agent gets a split pane to its
 * right (the first) or below the last, titled and tab-coloured, running the
 * agent's attach command — a client of the agent's own tmux session, never a
 * second copy of the agent. What was split is kept in a small state file, so
 * the next refresh closes the panes of agents that left and adds new ones.
 */
import { existsSync, readFileSync } from 'node:fs';
import { GtError } from '../shared/errors.js';
import { shellQuote } from '../shared/shell.js';
import { execCommand } from './exec.js';
import { writeFileAtomic } from './fs.js';

export interface ITermMember {
  address: string;
  title: string;
  colour: string;
  /** What the pane runs: the agent's attach command. */
  command: string[];
}

export interface ITermPane {
  agent: string;
  /** iTerm2's session id of the pane. */
  session: string;
  title: string;
  colour: string;
}

export interface ITermView {
  mode: 'iterm2';
  /** The scope shown (core/swarm scopeKey). */
  scope: string;
  /** The iTerm2 session gt swarm ran in: the leader. */
  leader: string;
  panes: ITermPane[];
  hidden: string[];
}

/** iTerm2's session id from ITERM_SESSION_ID (`w0t0p0:<uuid>`). */
export function itermSession(env: NodeJS.ProcessEnv): string | undefined {
  const id = env.ITERM_SESSION_ID ?? '';
  return id.includes(':') ? id.slice(id.indexOf(':') + 1) : id || undefined;
}

export class ITermSwarm {
  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly stateFile: string,
  ) {}

  private async it2(args: string[]): Promise<string> {
    let result;
    try {
      result = await execCommand('it2', args, { env: this.env });
    } catch (error) {
      throw new GtError('external', `it2 could not run: ${error instanceof Error ? error.message : String(error)}`, { hint: 'install it: pip install it2' });
    }
    if (result.code !== 0) throw new GtError('external', `it2 ${args.slice(0, 2).join(' ')} failed: ${result.stderr.trim() || result.stdout.trim()}`);
    return result.stdout;
  }

  load(): ITermView | undefined {
    if (!existsSync(this.stateFile)) return undefined;
    try {
      return JSON.parse(readFileSync(this.stateFile, 'utf8')) as ITermView;
    } catch {
      return undefined;
    }
  }

  private save(view: ITermView): void {
    writeFileAtomic(this.stateFile, [`${JSON.stringify(view, null, 2)}\n`]);
  }

  /** Closes panes of agents that left (or are hidden), splits panes for new ones, renames where a title changed. */
  async reconcile(scope: string, leader: string, members: ITermMember[], hidden: string[]): Promise<ITermView> {
    const previous = this.load();
    const view: ITermView = { mode: 'iterm2', scope, leader, panes: previous?.leader === leader ? previous.panes : [], hidden };
    const wanted = new Map(members.filter((m) => !hidden.includes(m.address)).map((m) => [m.address, m]));
    for (const pane of view.panes.filter((p) => !wanted.has(p.agent))) await this.it2(['session', 'close', '-f', '-s', pane.session]).catch(() => undefined);
    view.panes = view.panes.filter((p) => wanted.has(p.agent));
    for (const member of wanted.values()) {
      const known = view.panes.find((p) => p.agent === member.address);
      if (known) {
        if (known.title !== member.title) await this.it2(['session', 'set-name', '-s', known.session, member.title]);
        known.title = member.title;
        continue;
      }
      // The first teammate to the right of the leader (a vertical split), the next ones below the last.
      const last = view.panes[view.panes.length - 1];
      const output = await this.it2(last ? ['session', 'split', '-s', last.session] : ['session', 'split', '-v', '-s', leader]);
      const session = /([0-9A-Fa-f]{8}-[0-9A-Fa-f-]{27,})/.exec(output)?.[1] ?? output.trim().split(/\s+/).pop();
      if (!session) throw new GtError('external', `it2 session split printed no session id: ${output.trim()}`);
      await this.it2(['session', 'set-name', '-s', session, member.title]);
      await this.it2(['session', 'set-color', '-s', session, member.colour]);
      await this.it2(['session', 'run', '-s', session, `exec ${member.command.map(shellQuote).join(' ')}`]);
      view.panes.push({ agent: member.address, session, title: member.title, colour: member.colour });
    }
    this.save(view);
    return view;
  }
}
