/**
 * The swarm view on the town's tmux server (issue 17 §1). A view is one
 * window (`@gt_swarm` = its scope): the leader's pane on the left, the
 * agents' own panes tiled on the right. An agent's pane is moved in with
 * swap-pane against a placeholder pane, which takes its place in the agent's
 * own session — so the session lives on (gt attach, the witness and the
 * orphan dog see it), nothing runs twice, and hiding the pane is swapping it
 * back. Panes keep their ids wherever they are, and gt addresses agents by
 * pane id (tmux.ts), so keys and captures follow a pane into the view.
 */
import { shellQuote } from '../shared/shell.js';
import { swarmLayout } from '../core/swarm/layout.js';
import type { SwarmMember } from '../core/swarm/view.js';
import { agentHostEnv, execCommand } from './exec.js';
import { tmuxWord } from './tmux.js';

/** The session holding views made outside tmux (a session option `@gt_swarm_session` marks it: not an agent's). */
export const SWARM_SESSION = 'gt-swarm';

/** One view's agents as the town sees them: the leader (the Mayor) and the members, each with its worktree (absolute). */
export interface SwarmPlan {
  key: string;
  name: string;
  leader?: SwarmMember & { workdir: string };
  members: Array<SwarmMember & { workdir: string }>;
}

export interface SwarmPaneState {
  pane: string;
  /** leader: the Mayor, your shell or a new shell; agent: an agent's own pane; teammate: a pane of a Claude Code teammate of `lead`. */
  role: 'leader' | 'agent' | 'teammate' | 'other';
  agent: string | null;
  lead: string | null;
  colour: string | null;
  title: string;
}

export interface SwarmState {
  socket: string;
  session: string;
  window: string;
  /** `session:window-index`, for tmux's own -t. */
  target: string;
  scope: string;
  panes: SwarmPaneState[];
  /** Agents hidden from this view (back in their own sessions). */
  hidden: string[];
}

interface Row {
  pane: string;
  tag: string;
  session: string;
  window: string;
  windowIndex: string;
  index: number;
  dead: boolean;
  placeholder: string;
  leader: string;
  lead: string;
  swarm: string;
  hidden: string[];
  width: number;
  height: number;
  layout: string;
  path: string;
  gtTitle: string;
  gtColour: string;
  title: string;
}

const FIELDS = [
  'pane_id',
  '@gt_session',
  'session_name',
  'window_id',
  'window_index',
  'pane_index',
  'pane_dead',
  '@gt_placeholder',
  '@gt_leader',
  '@gt_lead',
  '@gt_swarm',
  '@gt_hidden',
  'window_width',
  'window_height',
  'window_layout',
  'pane_current_path',
  '@gt_title',
  '@gt_colour',
  'pane_title',
];
const FORMAT = FIELDS.map((f) => `#{${f}}`).join('\t');

function parseRow(line: string): Row | undefined {
  const f = line.split('\t');
  const at = (i: number) => f[i] ?? '';
  if (!at(0).startsWith('%')) return undefined;
  return {
    pane: at(0),
    tag: at(1),
    session: at(2),
    window: at(3),
    windowIndex: at(4),
    index: Number(at(5)),
    dead: at(6) === '1',
    placeholder: at(7),
    leader: at(8),
    lead: at(9),
    swarm: at(10),
    hidden: at(11).split(' ').filter(Boolean),
    width: Number(at(12)),
    height: Number(at(13)),
    layout: at(14),
    path: at(15),
    gtTitle: at(16),
    gtColour: at(17),
    title: f.slice(18).join('\t'),
  };
}

/** The border: the pane's own title (gt's, else what its program set), in the agent's colour. */
const BORDER_FORMAT = ' #{?@gt_colour,#[fg=#{@gt_colour}#,bold],}#{?@gt_title,#{@gt_title},#{pane_title}}#[default] ';

export class TmuxSwarm {
  constructor(
    readonly socket: string,
    private readonly confFile: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  private run(args: string[]) {
    return execCommand('tmux', ['-u', '-L', this.socket, '-f', this.confFile, ...args], { env: agentHostEnv(this.env) });
  }

  /** Several tmux commands in one client (one process); a failing one stops those after it. */
  private async batch(commands: string[][]): Promise<void> {
    if (commands.length === 0) return;
    await this.run(commands.flatMap((c, i) => (i === 0 ? c : [';', ...c])));
  }

  private async rows(): Promise<Row[]> {
    const result = await this.run(['list-panes', '-a', '-F', FORMAT]);
    if (result.code !== 0) return [];
    return result.stdout
      .split('\n')
      .map(parseRow)
      .filter((r): r is Row => r !== undefined);
  }

  /** Ends the gt-swarm session (the views made outside tmux, and their leader shells); true when there was one. */
  async closeOwnViews(): Promise<boolean> {
    if ((await this.run(['has-session', '-t', `=${SWARM_SESSION}`])).code !== 0) return false;
    return (await this.run(['kill-session', '-t', `=${SWARM_SESSION}`])).code === 0;
  }

  /** The views on the server: window id → scope key. */
  async views(): Promise<Map<string, string>> {
    const views = new Map<string, string>();
    for (const row of await this.rows()) if (row.swarm) views.set(row.window, row.swarm);
    return views;
  }

  async findView(key: string): Promise<string | undefined> {
    for (const [window, scope] of await this.views()) if (scope === key) return window;
    return undefined;
  }

  /** The view a pane of the given session sits in, if any. */
  async viewOf(session: string): Promise<string | undefined> {
    const rows = await this.rows();
    return rows.find((r) => r.tag === session && r.swarm)?.window;
  }

  private placeholderCommand(member: Pick<SwarmMember, 'address'>, view: string): string[] {
    const note = `${member.address} is shown in the swarm view (${view}). gt swarm hide ${member.address} brings it back here; gt attach ${member.address} goes to it.`;
    return ['sh', '-c', 'printf "%s\\n" "$1"; exec tail -f /dev/null', 'gt-swarm', note];
  }

  /**
   * Creates the view's window. `userPane`: the caller's own pane on this
   * server (gt swarm run inside the town's tmux): its window becomes the view
   * and that pane the leader. Otherwise a window of the gt-swarm session,
   * led by the Mayor when its pane can come, else by a new shell in `cwd`.
   */
  async create(plan: SwarmPlan, where: { userPane?: string; shell: string; cwd: string; env?: Record<string, string> }): Promise<string> {
    const rows = await this.rows();
    let window: string;
    if (where.userPane && rows.some((r) => r.pane === where.userPane)) {
      window = rows.find((r) => r.pane === where.userPane)?.window as string;
      await this.batch([['set-option', '-p', '-t', where.userPane, '@gt_leader', 'user']]);
    } else {
      const mayor = plan.leader ? rows.find((r) => r.tag === plan.leader?.session && !r.swarm) : undefined;
      const command = mayor && plan.leader ? this.placeholderCommand(plan.leader, plan.name) : [where.shell];
      const exists = (await this.run(['has-session', '-t', `=${SWARM_SESSION}`])).code === 0;
      const env = Object.entries(where.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
      // A window of the gt-swarm session, or the session itself with its first window.
      const place = exists ? ['new-window', '-d', '-t', `=${SWARM_SESSION}:`] : ['new-session', '-d', '-s', SWARM_SESSION, '-x', '200', '-y', '50'];
      const created = await this.run([...place, '-n', plan.name, '-c', where.cwd, ...env, '-P', '-F', '#{window_id} #{pane_id}', '--', ...command]);
      if (created.code !== 0) throw new Error(`tmux could not open the swarm view: ${created.stderr.trim()}`);
      const [id, first] = created.stdout.trim().split(' ') as [string, string];
      window = id;
      await this.batch([['set-option', '-t', `=${SWARM_SESSION}`, '@gt_swarm_session', '1']]);
      if (mayor && plan.leader) {
        await this.batch([
          ['set-option', '-p', '-t', first, '@gt_placeholder', plan.leader.session],
          ['swap-pane', '-d', '-s', mayor.pane, '-t', first],
          ['set-option', '-p', '-t', mayor.pane, '@gt_leader', 'mayor'],
        ]);
      } else await this.batch([['set-option', '-p', '-t', first, '@gt_leader', 'shell']]);
    }
    await this.batch([
      ['set-option', '-w', '-t', window, '@gt_swarm', plan.key],
      ['set-option', '-w', '-t', window, 'pane-border-status', 'top'],
      ['set-option', '-w', '-t', window, 'pane-border-format', BORDER_FORMAT],
      // Border styles are window options, expanded as formats for the pane each border belongs to: each agent's border in its colour.
      ['set-option', '-w', '-t', window, 'pane-border-style', 'fg=#{?@gt_colour,#{@gt_colour},colour240}'],
      ['set-option', '-w', '-t', window, 'pane-active-border-style', 'fg=#{?@gt_colour,#{@gt_colour},colour250},bold'],
      ['set-option', '-w', '-t', window, 'pane-border-lines', 'heavy'],
    ]);
    return window;
  }

  /** Hidden agents (their sessions) of a view. */
  async setHidden(window: string, sessions: string[]): Promise<void> {
    await this.batch([['set-option', '-w', '-t', window, '@gt_hidden', [...new Set(sessions)].join(' ') || ' ']]);
  }

  async hidden(window: string): Promise<string[]> {
    return (await this.rows()).find((r) => r.window === window)?.hidden ?? [];
  }

  /** Moves an agent's pane into the view: a placeholder is split off in the view, then the two swap places. */
  private async bringIn(window: string, row: Row, member: Pick<SwarmMember, 'address' | 'session'>, name: string): Promise<boolean> {
    const split = async (extra: string[]) =>
      this.run(['split-window', '-d', ...extra, '-t', window, '-P', '-F', '#{pane_id}', '--', ...this.placeholderCommand(member, name)]);
    let made = await split(['-f', '-h']);
    // A window too full for one more full-height column: tile it, then split its active pane.
    if (made.code !== 0) {
      await this.run(['select-layout', '-t', window, 'tiled']);
      made = await split([]);
    }
    if (made.code !== 0) return false;
    const placeholder = made.stdout.trim();
    await this.batch([
      ['set-option', '-p', '-t', placeholder, '@gt_placeholder', member.session],
      ['swap-pane', '-d', '-s', row.pane, '-t', placeholder],
    ]);
    return true;
  }

  /** Sends an agent's pane back to its own session (where its placeholder holds its place; a new one when that is gone). */
  private async sendHome(row: Row, rows: Row[]): Promise<void> {
    let placeholder = rows.find((r) => r.placeholder === row.tag && r.window !== row.window)?.pane;
    if (!placeholder) {
      const made = await this.run(['new-session', '-d', '-s', row.tag, '-x', '200', '-y', '50', '-P', '-F', '#{pane_id}', '--', 'tail', '-f', '/dev/null']);
      if (made.code !== 0) return;
      placeholder = made.stdout.trim();
    }
    await this.batch([
      ['swap-pane', '-d', '-s', row.pane, '-t', placeholder],
      ['set-option', '-p', '-u', '-t', row.pane, '@gt_leader'],
      ['kill-pane', '-t', placeholder],
    ]);
  }

  /**
   * Brings a view in step with the town: agents that left go home (a finished
   * polecat's pane is already gone with its session), new ones come in, a
   * Claude Code teammate pane split in a member's own window comes in under its
   * lead, titles and colours are set where they changed, the panes are put in
   * order (leader, then each agent followed by its teammates) and the layout
   * is applied when it differs. Undefined when the view's window is gone.
   */
  async reconcile(window: string, plan: SwarmPlan): Promise<SwarmState | undefined> {
    let rows = await this.rows();
    const view = () => rows.filter((r) => r.window === window).sort((a, b) => a.index - b.index);
    if (view().length === 0) return undefined;
    const hidden = new Set(view()[0]?.hidden ?? []);
    const elsewhere = (r: Row) => r.swarm !== '' && r.window !== window;
    let changed = false;
    const refresh = async () => {
      if (changed) rows = await this.rows();
      changed = false;
    };

    // The leader: the Mayor takes a view that has none (its shell was closed, or the Mayor came back).
    let leader = view().find((r) => r.leader);
    if (!leader && plan.leader && !hidden.has(plan.leader.session)) {
      const row = rows.find((r) => r.tag === plan.leader?.session);
      if (row && !elsewhere(row)) {
        if (row.window !== window) await this.bringIn(window, row, plan.leader, plan.name);
        await this.batch([['set-option', '-p', '-t', row.pane, '@gt_leader', 'mayor']]);
        changed = true;
      }
    }
    await refresh();
    leader = view().find((r) => r.leader);
    const mayorLeads = leader !== undefined && plan.leader !== undefined && leader.tag === plan.leader.session;
    // When someone else leads (you, or a shell), the Mayor is one of the agents.
    const members = [...(plan.leader && !mayorLeads ? [plan.leader] : []), ...plan.members].filter((m) => !hidden.has(m.session));
    const wanted = new Map(members.map((m) => [m.session, m]));
    const leads = new Map([...wanted, ...(mayorLeads && plan.leader ? [[plan.leader.session, plan.leader] as const] : [])]);

    // Agents that left the scope, or were hidden, go home.
    for (const row of view()) {
      if (row.tag && !row.leader && !wanted.has(row.tag)) {
        await this.sendHome(row, rows);
        changed = true;
      }
    }
    await refresh();
    // New agents come in (never taken from another view).
    for (const member of members) {
      const row = rows.find((r) => r.tag === member.session);
      if (!row || row.window === window || elsewhere(row)) continue;
      changed = (await this.bringIn(window, row, member, plan.name)) || changed;
    }
    await refresh();
    // Claude Code teammates: panes split in a lead's own window come in under it; panes started in the view
    // from a lead's worktree are its teammates too.
    const setOptions: string[][] = [];
    for (const row of rows) {
      if (row.tag || row.placeholder || row.leader || elsewhere(row)) continue;
      if (row.window !== window) {
        const lead = leads.get(row.session);
        if (!lead) continue;
        const joined = await this.run(['join-pane', '-d', '-f', '-h', '-s', row.pane, '-t', window]);
        if (joined.code === 0) setOptions.push(['set-option', '-p', '-t', row.pane, '@gt_lead', lead.session]);
        changed = changed || joined.code === 0;
      } else if (!row.lead) {
        const lead = [...leads.values()].find((l) => row.path === l.workdir || row.path.startsWith(`${l.workdir}/`));
        if (lead) setOptions.push(['set-option', '-p', '-t', row.pane, '@gt_lead', lead.session]);
      }
    }
    await this.batch(setOptions);
    changed = changed || setOptions.length > 0;
    await refresh();

    // Order: leader, then each agent followed by its teammates, then anything else.
    const current = view();
    const byLead = (session: string) => current.filter((r) => !r.tag && r.lead === session);
    const order = [
      ...current.filter((r) => r.leader),
      ...(mayorLeads && plan.leader ? byLead(plan.leader.session) : []),
      ...members.flatMap((m) => current.filter((r) => r.tag === m.session && !r.leader).concat(byLead(m.session))),
    ];
    for (const r of current) if (!order.includes(r)) order.push(r);
    const positions = current.map((r) => r.pane);
    const swaps: string[][] = [];
    order.forEach((row, i) => {
      const at = positions.indexOf(row.pane);
      if (at === i) return;
      swaps.push(['swap-pane', '-d', '-s', row.pane, '-t', positions[i] as string]);
      [positions[i], positions[at]] = [positions[at] as string, positions[i] as string];
    });
    await this.batch(swaps);

    // Titles and colours, only where they changed (the daemon runs this every pass).
    const styles: string[][] = [];
    const state: SwarmPaneState[] = [];
    for (const row of order) {
      const member = leads.get(row.tag) ?? (row.lead ? undefined : undefined);
      const lead = row.lead ? leads.get(row.lead) : undefined;
      let title: string;
      let colour: string | null = null;
      let role: SwarmPaneState['role'];
      if (member) {
        title = member.title;
        colour = member.colour.hex;
        role = row.leader ? 'leader' : 'agent';
      } else if (lead && !row.tag) {
        title = `↳ ${row.title || 'teammate'} · team of ${lead.title.split(' · ')[0] ?? lead.address}`;
        colour = lead.colour.hex;
        role = 'teammate';
      } else if (row.leader) {
        title = row.leader === 'user' ? `you · gt swarm ${plan.name}` : `shell · gt swarm ${plan.name}`;
        role = 'leader';
      } else {
        title = row.title;
        role = 'other';
      }
      if (row.gtTitle !== title)
        styles.push(['set-option', '-p', '-t', row.pane, '@gt_title', tmuxWord(title)], ['select-pane', '-t', row.pane, '-T', tmuxWord(title)]);
      if (colour && row.gtColour !== colour) styles.push(['set-option', '-p', '-t', row.pane, '@gt_colour', colour]);
      state.push({
        pane: row.pane,
        role,
        agent: member?.address ?? null,
        lead: role === 'teammate' ? (lead?.address ?? null) : null,
        colour,
        title,
      });
    }
    await this.batch(styles);

    // The layout, when it differs (a client of another size, a pane that came or went).
    rows = await this.rows();
    const now = view();
    const first = now[0];
    if (first) {
      const layout = swarmLayout(
        first.width,
        first.height,
        now.map((r) => Number(r.pane.slice(1))),
        now[0]?.leader !== '',
      );
      if (layout !== first.layout) await this.run(['select-layout', '-t', window, layout]);
    }
    return {
      socket: this.socket,
      session: first?.session ?? '',
      window,
      target: `${first?.session ?? ''}:${first?.windowIndex ?? ''}`,
      scope: plan.key,
      panes: now.map((r) => state.find((s) => s.pane === r.pane) ?? { pane: r.pane, role: 'other', agent: null, lead: null, colour: null, title: r.title }),
      hidden: [...hidden],
    };
  }

  /** Shows the view: the current client switches to it (inside the town's tmux), else argv that attaches a terminal. */
  async switchClient(window: string): Promise<boolean> {
    return (await this.run(['switch-client', '-t', window])).code === 0;
  }

  attachCommand(window: string): string[] {
    return ['tmux', '-u', '-L', this.socket, '-f', this.confFile, 'attach-session', '-t', window];
  }

  /** From a tmux of your own (another server): a new window there whose client shows the view. */
  nestedCommand(window: string): string[] {
    return ['tmux', 'new-window', '-n', 'gt-swarm', `env -u TMUX ${this.attachCommand(window).map(shellQuote).join(' ')}`];
  }
}
