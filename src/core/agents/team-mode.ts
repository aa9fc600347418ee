/**
 * Team mode (issue 17 §2): where a town's agents show up. `tmux`: a session per
 * agent on the town's tmux server, gathered by `gt swarm` into one window;
 * `iterm2`: the same sessions, with the swarm view drawn as iTerm2 split panes
 * through the `it2` CLI; `in-process`: headless agents run by the town's host,
 * no terminal at all. `auto` picks iTerm2 inside iTerm2 when `it2` is there,
 * tmux when it is installed, else in-process. Like Claude Code's teammate-mode
 * snapshot, the choice is captured once when the daemon (or a sling) starts,
 * so a terminal opened later never changes where running agents live.
 */
import { GtError, validationError } from '../../shared/errors.js';
import type { BackendKind } from '../town/ports.js';

export const TEAM_MODE_SETTINGS = ['auto', 'tmux', 'iterm2', 'in-process'] as const;
export type TeamModeSetting = (typeof TEAM_MODE_SETTINGS)[number];
export type TeamMode = Exclude<TeamModeSetting, 'auto'>;

/** The environment variable `gt up --mode` hands the daemon (and a person may set): it beats town.toml. */
export const TEAM_MODE_ENV = 'GT_SESSIONS_MODE';

/** What auto detection looks at. */
export interface TerminalFacts {
  /** Run inside iTerm2 (TERM_PROGRAM=iTerm.app or ITERM_SESSION_ID set) with the `it2` CLI on PATH; asked only when needed (a PATH walk). */
  iterm2: () => boolean;
  tmux: boolean;
}

export function isTeamModeSetting(value: string): value is TeamModeSetting {
  return (TEAM_MODE_SETTINGS as readonly string[]).includes(value);
}

/** Whether an environment is a terminal inside iTerm2 (the `it2` CLI is checked apart). */
export function insideITerm2(env: Record<string, string | undefined>): boolean {
  return env.TERM_PROGRAM === 'iTerm.app' || (env.ITERM_SESSION_ID ?? '') !== '';
}

/** The concrete mode of a setting; a forced mode whose tool is missing is an error that says so. */
export function resolveTeamMode(setting: string, facts: TerminalFacts): TeamMode {
  if (!isTeamModeSetting(setting)) throw validationError(`unknown team mode ${JSON.stringify(setting)}`, `use ${TEAM_MODE_SETTINGS.join(', ')}`);
  switch (setting) {
    case 'auto':
      return facts.iterm2() ? 'iterm2' : facts.tmux ? 'tmux' : 'in-process';
    case 'tmux':
      if (!facts.tmux) throw new GtError('external', 'team mode tmux: tmux is not installed', { hint: 'install tmux, or use --mode in-process' });
      return 'tmux';
    case 'iterm2':
      if (!facts.iterm2())
        throw new GtError('external', 'team mode iterm2 needs iTerm2 and its it2 CLI on PATH', {
          hint: 'run it from iTerm2 with it2 installed (pip install it2), or use --mode tmux',
        });
      return 'iterm2';
    case 'in-process':
      return 'in-process';
  }
}

/**
 * The session backend of a mode. iTerm2 shows the agents' tmux sessions (each
 * pane a client of one), so gt attach, nudges and captures work as in tmux;
 * without tmux its panes follow headless agents' logs.
 */
export function backendOfMode(mode: TeamMode, tmuxInstalled: boolean): BackendKind {
  if (mode === 'in-process') return 'headless';
  return tmuxInstalled ? 'tmux' : 'headless';
}
