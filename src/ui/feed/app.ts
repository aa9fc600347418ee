/**
 * `gt feed`: the town in a terminal (Ink). Three panes — the agent tree,
 * convoys, the event stream — and a problems view; keys to move, peek, nudge,
 * answer permission asks and hand off. The data comes through a FeedSource
 * (core calls made by run.ts), so this module holds only the UI; it is bundled
 * on its own (dist/gt-feed.mjs) and loaded only when the feed runs.
 */
import { Box, render, Text, useApp, useInput, useStdout } from 'ink';
import { createElement as h, useEffect, useMemo, useRef, useState, type ReactElement } from 'react';
import type { TownEvent } from '../../core/events/town-events.js';
import type { Tone } from '../../core/watch/describe.js';
import type { TownSnapshot } from '../../core/watch/snapshot.js';
import { agentRows, convoyRows, eventRows, PANES, problemRows, scrollWindow, type Filter, type Pane, type Row } from './model.js';

export interface FeedSource {
  snapshot(): Promise<TownSnapshot>;
  /** Events after a position, oldest first. */
  events(after: number): Promise<TownEvent[]>;
  /** The newest `limit` events (the start of the stream pane). */
  recent(limit: number): Promise<TownEvent[]>;
  peek(agent: string): Promise<string>;
  nudge(agent: string, text: string): Promise<string>;
  /** `always`: approve and add the request's narrowest suggested rule to the policy ("always allow"). */
  answer(request: string, action: 'allow' | 'deny' | 'always'): Promise<string>;
  handoff(agent: string): Promise<string>;
  /** The ledger's wake-up: calls `wake` when events are appended (the stream is then read at once); returns the stop. */
  watch?(wake: () => void): Promise<() => void>;
}

export interface FeedOptions {
  noColor: boolean;
  /** How often to look for new events (ms). */
  pollMs?: number;
  /** How often to re-read the town when no event says it changed (ms). */
  refreshMs?: number;
  /** A fixed clock for tests. */
  now?: () => number;
  initialFilter?: Partial<Filter>;
}

type Mode = 'normal' | 'search' | 'filter' | 'nudge' | 'help' | 'peek';

const COLORS: Record<Tone, string> = { good: 'green', bad: 'red', warn: 'yellow', info: 'cyan', dim: 'gray' };

const HELP = [
  'j/k ↑/↓  move          g/G  top/bottom       tab, 1 2 3  switch pane',
  'enter    peek at the selected agent          p    problems view',
  'n        nudge the selected agent             h    hand off (fresh session)',
  'a / d    approve / deny its permission ask   /    search',
  'A        always allow it (adds the rule to the rig policy)',
  'f        filter: rig:<name> or type:<kind>   esc  clear search and filter',
  '?        this help                            q    quit',
];

function line(row: Row, selected: boolean, width: number, noColor: boolean): ReactElement {
  const text = row.text.length > width ? `${row.text.slice(0, Math.max(0, width - 1))}…` : row.text.padEnd(width);
  return h(
    Text,
    { key: row.key ?? `h-${row.text}`, wrap: 'truncate', inverse: selected, bold: row.heading === true, ...(noColor ? {} : { color: COLORS[row.tone] }) },
    text,
  );
}

function PaneBox(props: {
  title: string;
  rows: Row[];
  selected: number;
  focused: boolean;
  width: number;
  height: number;
  noColor: boolean;
  empty: string;
}): ReactElement {
  // Inside the border: the title row, then the rows that fit (more would push the title out of the box).
  const inner = Math.max(1, props.height - 3);
  const { start, selected } = scrollWindow(props.rows.length, props.selected, inner);
  const visible = props.rows.slice(start, start + inner);
  return h(
    Box,
    {
      flexDirection: 'column',
      width: props.width,
      height: props.height,
      borderStyle: 'single',
      ...(props.noColor ? {} : { borderColor: props.focused ? 'cyan' : 'gray' }),
    },
    h(Box, { flexShrink: 0 }, h(Text, { bold: true, wrap: 'truncate' }, `${props.focused ? '▸ ' : ''}${props.title}`)),
    ...(visible.length === 0
      ? [h(Text, { key: 'empty', dimColor: true, wrap: 'truncate' }, props.empty)]
      : visible.map((row, i) => line(row, props.focused && start + i === selected, props.width - 2, props.noColor))),
  );
}

export function FeedApp(props: { source: FeedSource; options: FeedOptions }): ReactElement {
  const { source, options } = props;
  const now = options.now ?? Date.now;
  const { exit } = useApp();
  const { stdout } = useStdout();
  const [size, setSize] = useState({ columns: stdout.columns || 80, rows: stdout.rows || 24 });
  const [snapshot, setSnapshot] = useState<TownSnapshot | undefined>();
  const [events, setEvents] = useState<TownEvent[]>([]);
  const [pane, setPane] = useState<Pane>('agents');
  const [selected, setSelected] = useState<Record<Pane | 'problems', number>>({ agents: 0, convoys: 0, events: 0, problems: 0 });
  const [problems, setProblems] = useState(false);
  // Mode and typed text live in refs too: keys that arrive before the next render must see the mode the previous key set.
  const [mode, setModeState] = useState<Mode>('normal');
  const [input, setInputState] = useState('');
  const modeRef = useRef<Mode>('normal');
  const inputRef = useRef('');
  const setMode = (m: Mode) => {
    modeRef.current = m;
    setModeState(m);
  };
  const setInput = (next: string | ((s: string) => string)) => {
    inputRef.current = typeof next === 'function' ? next(inputRef.current) : next;
    setInputState(inputRef.current);
  };
  const [filter, setFilter] = useState<Filter>({ search: '', ...options.initialFilter });
  const [status, setStatus] = useState('? for help');
  const [peekText, setPeekText] = useState('');
  const cursor = useRef(0);
  const dirty = useRef(true);

  useEffect(() => {
    const onResize = () => setSize({ columns: stdout.columns || 80, rows: stdout.rows || 24 });
    stdout.on('resize', onResize);
    return () => void stdout.off('resize', onResize);
  }, [stdout]);

  // The stream: the newest events first, then whatever comes after them; an event marks the town as changed.
  useEffect(() => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const poll = async () => {
      timer = undefined;
      try {
        const fresh = cursor.current === 0 ? await source.recent(200) : await source.events(cursor.current);
        if (fresh.length) {
          cursor.current = fresh.at(-1)?.id ?? cursor.current;
          setEvents((old) => [...old, ...fresh].slice(-500));
          dirty.current = true;
        }
        if (cursor.current === 0) cursor.current = -1;
      } catch (error) {
        setStatus(`events: ${(error as Error).message}`);
      }
      // Woken by the ledger when it can (a slow poll stays as a safety net), polled when it cannot.
      const wait = again ? 0 : watching ? Math.max(options.pollMs ?? 300, 5_000) : (options.pollMs ?? 300);
      again = false;
      if (!stopped) timer = setTimeout(() => void poll(), wait);
    };
    let watching = false;
    // A wake during a read: read once more right after it.
    let again = false;
    const unwatch = source
      .watch?.((): void => {
        if (stopped) return;
        if (!timer) {
          again = true;
          return;
        }
        clearTimeout(timer);
        timer = undefined;
        void poll();
      })
      .then((stop) => {
        watching = true;
        return stop;
      })
      .catch(() => undefined);
    void poll();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      void unwatch?.then((stop) => stop?.());
    };
  }, [source, options.pollMs]);

  // The town: re-read when an event came in, and now and then anyway (ages, liveness).
  useEffect(() => {
    let stopped = false;
    let last = 0;
    let timer: NodeJS.Timeout | undefined;
    const tick = async () => {
      if (dirty.current || Date.now() - last >= (options.refreshMs ?? 5000)) {
        dirty.current = false;
        last = Date.now();
        try {
          setSnapshot(await source.snapshot());
        } catch (error) {
          setStatus(`town: ${(error as Error).message}`);
        }
      }
      if (!stopped) timer = setTimeout(() => void tick(), 250);
    };
    void tick();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [source, options.refreshMs]);

  const t = now();
  const rows = useMemo(
    () => ({
      agents: snapshot ? agentRows(snapshot, filter, t) : [],
      convoys: snapshot ? convoyRows(snapshot, filter, t) : [],
      events: eventRows(events, filter),
      problems: snapshot ? problemRows(snapshot.problems, t) : [],
    }),
    // Ages are recomputed with each snapshot; a frame between snapshots keeps them.
    [snapshot, events, filter],
  );
  const list: 'problems' | Pane = problems ? 'problems' : pane;
  const current = rows[list];
  // What the key handler reads: the latest render's, whatever render its closure came from.
  const latest = useRef({ list, current, snapshot, selected });
  latest.current = { list, current, snapshot, selected };
  /** The selected agent (headings select the first agent below them). */
  const selectedAgent = () => {
    const { list: l, current: c, snapshot: s, selected: sel } = latest.current;
    if (l !== 'agents' && l !== 'problems') return undefined;
    const from = Math.max(0, Math.min(sel[l], c.length - 1));
    const key = c.slice(from).find((r) => r.key)?.key;
    return key ? s?.agents.find((a) => a.address === key) : undefined;
  };

  const move = (by: number | 'top' | 'bottom') =>
    setSelected((old) => {
      const { list: l, current: c } = latest.current;
      const next = by === 'top' ? 0 : by === 'bottom' ? c.length - 1 : Math.max(0, Math.min(c.length - 1, old[l] + by));
      return { ...old, [l]: Math.max(0, next) };
    });
  const act = (what: string, run: () => Promise<string>) => {
    setStatus(`${what}…`);
    run().then(
      (message) => {
        setStatus(message);
        dirty.current = true;
      },
      (error: unknown) => setStatus(`${what} failed: ${error instanceof Error ? error.message : String(error)}`),
    );
  };

  useInput((ch, key) => {
    const mode = modeRef.current;
    const input = inputRef.current;
    if (mode === 'help' || mode === 'peek') {
      setMode('normal');
      return;
    }
    if (mode !== 'normal') {
      if (key.escape) {
        setMode('normal');
        setInput('');
      } else if (key.return) {
        const text = input.trim();
        if (mode === 'search') setFilter((f) => ({ ...f, search: text }));
        if (mode === 'filter') {
          const [field, value] = text.includes(':') ? (text.split(':', 2) as [string, string]) : ['rig', text];
          setFilter((f) => {
            const next = { ...f };
            if (field === 'type') {
              if (value) next.type = value;
              else delete next.type;
            } else if (value) next.rig = value;
            else delete next.rig;
            return next;
          });
        }
        const agent = selectedAgent();
        if (mode === 'nudge' && agent && text) act(`nudging ${agent.address}`, () => source.nudge(agent.address, text));
        setMode('normal');
        setInput('');
      } else if (key.backspace || key.delete) setInput((s) => s.slice(0, -1));
      else if (ch && !key.ctrl && !key.meta) setInput((s) => s + ch);
      return;
    }
    if (ch === 'q' || (key.ctrl && ch === 'c')) exit();
    else if (ch === 'j' || key.downArrow) move(1);
    else if (ch === 'k' || key.upArrow) move(-1);
    else if (key.pageDown) move(10);
    else if (key.pageUp) move(-10);
    else if (ch === 'g') move('top');
    else if (ch === 'G') move('bottom');
    else if (key.tab) setPane((p) => PANES[(PANES.indexOf(p) + (key.shift ? PANES.length - 1 : 1)) % PANES.length] as Pane);
    else if (ch === '1' || ch === '2' || ch === '3') {
      setProblems(false);
      setPane(PANES[Number(ch) - 1] as Pane);
    } else if (ch === 'p') setProblems((v) => !v);
    else if (ch === '?') setMode('help');
    else if (ch === '/') {
      setMode('search');
      setInput(filter.search);
    } else if (ch === 'f') {
      setMode('filter');
      setInput('');
    } else if (key.escape) {
      setFilter({ search: '' });
      setStatus('filters cleared');
    } else {
      const agent = selectedAgent();
      if (!agent) {
        if ('nadh'.includes(ch) || key.return) setStatus('select an agent first (pane 1 or the problems view)');
        return;
      }
      if (key.return) {
        setPeekText('…');
        setMode('peek');
        source.peek(agent.address).then(
          (text) => setPeekText(text.trimEnd() || '(no output yet)'),
          (error: unknown) => setPeekText(String(error)),
        );
      } else if (ch === 'n') {
        setMode('nudge');
        setInput('');
      } else if (ch === 'h') act(`handing off ${agent.address}`, () => source.handoff(agent.address));
      else if (ch === 'a' || ch === 'd' || ch === 'A') {
        const request = agent.permission_request ?? snapshot?.permissions.find((p) => p.agent === agent.address)?.id;
        const verb = ch === 'a' ? 'allow' : ch === 'd' ? 'deny' : 'always';
        if (!request) setStatus(`${agent.address} has no permission ask waiting`);
        else act(`${{ allow: 'approving', deny: 'denying', always: 'always allowing' }[verb]} ${request}`, () => source.answer(request, verb));
      }
    }
  });

  const { columns, rows: height } = size;
  const noColor = options.noColor;
  const header = snapshot
    ? `${snapshot.town}  daemon ${snapshot.daemon.running ? 'up' : 'down'}  agents ${snapshot.agents.filter((a) => a.state === 'working').length}/${snapshot.agents.length} working  problems ${snapshot.problems.length}  $${snapshot.costs_today.usd.toFixed(2)} today${filter.rig ? `  rig:${filter.rig}` : ''}${filter.type ? `  type:${filter.type}` : ''}${filter.search ? `  /${filter.search}` : ''}`
    : 'reading the town…';
  const prompt =
    mode === 'search'
      ? `/${input}▏`
      : mode === 'filter'
        ? `filter (rig:NAME or type:KIND): ${input}▏`
        : mode === 'nudge'
          ? `nudge ${selectedAgent()?.address ?? ''}: ${input}▏`
          : status;
  const body = height - 2;
  const top = Math.max(5, Math.floor(body * 0.55));
  const bottom = Math.max(4, body - top);
  const half = Math.floor(columns / 2);

  let main: ReactElement;
  if (mode === 'help') {
    main = h(
      Box,
      { flexDirection: 'column', height: body, borderStyle: 'single', paddingX: 1 },
      h(Text, { bold: true }, 'gt feed — keys'),
      ...HELP.map((l) => h(Text, { key: l, wrap: 'truncate' }, l)),
    );
  } else if (mode === 'peek') {
    const lines = peekText.split('\n').slice(-(body - 3));
    main = h(
      Box,
      { flexDirection: 'column', height: body, borderStyle: 'single', paddingX: 1 },
      h(Text, { bold: true }, `peek ${selectedAgent()?.address ?? ''} (any key closes)`),
      ...lines.map((l, i) => h(Text, { key: String(i), wrap: 'truncate' }, l)),
    );
  } else if (problems) {
    main = h(PaneBox, {
      title: 'Problems (most urgent first) — p to go back',
      rows: rows.problems,
      selected: selected.problems,
      focused: true,
      width: columns,
      height: body,
      noColor,
      empty: 'All clear: no agent needs you.',
    });
  } else {
    main = h(
      Box,
      { flexDirection: 'column' },
      h(
        Box,
        { flexDirection: 'row' },
        h(PaneBox, {
          title: '1 Agents',
          rows: rows.agents,
          selected: selected.agents,
          focused: pane === 'agents',
          width: half,
          height: top,
          noColor,
          empty: 'No agents yet.',
        }),
        h(PaneBox, {
          title: '2 Convoys',
          rows: rows.convoys,
          selected: selected.convoys,
          focused: pane === 'convoys',
          width: columns - half,
          height: top,
          noColor,
          empty: 'No convoys.',
        }),
      ),
      h(PaneBox, {
        title: '3 Events',
        rows: rows.events,
        selected: selected.events,
        focused: pane === 'events',
        width: columns,
        height: bottom,
        noColor,
        empty: 'No events yet.',
      }),
    );
  }
  return h(
    Box,
    { flexDirection: 'column', width: columns },
    h(Text, { wrap: 'truncate', bold: true }, header),
    main,
    h(Text, { wrap: 'truncate', ...(noColor ? {} : { color: 'gray' }) }, prompt),
  );
}

/** Runs the feed on the terminal until `q`; resolves when it is closed. */
export async function runFeedApp(source: FeedSource, options: FeedOptions): Promise<void> {
  const instance = render(h(FeedApp, { source, options }), { exitOnCtrlC: true });
  await instance.waitUntilExit();
}
