/**
 * What the town services need from the outside world. infra/ implements these;
 * core/ never spawns a process or touches a file itself (design §5).
 */

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** git, run in a directory. `run` rejects on a non-zero exit; `probe` returns it. */
export interface GitPort {
  run(cwd: string, args: string[], options?: { env?: Record<string, string>; onProgress?: (line: string) => void }): Promise<string>;
  probe(cwd: string, args: string[], options?: { env?: Record<string, string> }): Promise<CommandResult>;
  /**
   * Like probe, but in turn: after every earlier `inTurn` command of this process with the same `turn`
   * (a repository whose worktrees change: `git worktree add` is not safe to run twice at once), and
   * started as soon as the one before it ends, whatever else this process is doing.
   */
  inTurn(turn: string, cwd: string, args: string[]): Promise<CommandResult>;
}

/** A shell command with a time limit, output captured (and optionally streamed). */
export interface ShellPort {
  run(
    command: string,
    options: { cwd: string; env: Record<string, string>; timeoutMs: number; onOutput?: (chunk: string) => void },
  ): Promise<CommandResult & { timedOut: boolean }>;
}

export interface SessionSpec {
  /** Unique session name (tmux session or headless run). */
  name: string;
  cwd: string;
  argv: string[];
  env: Record<string, string>;
  /** `.gt/runs/<run>`: where a headless session's output and control files live. */
  runDir: string;
  /** The first line to write on stdin (stream-protocol runtimes in headless mode). */
  stdinLines?: string[];
  /** Run the agent under a session host that serves its hooks over HTTP and writes its URL into these files. */
  hookServer?: { files: string[] };
  /** Headless: run the agent under the town host (sessions.mode = "in-process") rather than a host process of its own. */
  townHost?: boolean;
}

/**
 * The session backends gt has, by the name `sessions.backend` and `--backend` take. A new one (a
 * Kubernetes backend: README "Scaling out") is its name here, an implementation of SessionBackend
 * in infra/, and its construction in the composition root; nothing else in core changes.
 */
export const SESSION_BACKENDS = ['tmux', 'headless'] as const;

export type BackendKind = (typeof SESSION_BACKENDS)[number];

export interface SessionProbe {
  session: boolean;
  process: boolean;
}

/** One interface for every way an agent session can run (design §4). */
export interface SessionBackend {
  readonly kind: BackendKind;
  /** Starts the session; a pane backend says which pane (`%N` in tmux) the agent runs in. */
  start(spec: SessionSpec): Promise<void | { pane?: string }>;
  /** Gets ready to start sessions, so that cost overlaps other work (the town host starts while a sling makes worktrees). */
  prepare?(spec: Pick<SessionSpec, 'townHost'>): Promise<void>;
  /** The town host, when one runs this town's headless sessions (team mode in-process): never starts one. */
  hostStatus?(): Promise<{ pid: number; rss: number; sessions: number } | undefined>;
  isAlive(name: string): Promise<boolean>;
  /**
   * The session and the agent process, seen apart (the agent state machine's
   * zombie: one without the other). Under a session host the host is the
   * session and its child the agent; without one they are the same process.
   */
  probe(name: string): Promise<SessionProbe>;
  /** Types text into the session (tmux) or writes a line to its stdin (headless). */
  send(name: string, text: string): Promise<void>;
  capture(name: string, lines: number): Promise<string>;
  /**
   * Ends the session. With `graceMs`, an agent on a stream protocol first gets
   * end-of-input and that long to finish its turn (and report its usage).
   */
  stop(name: string, options?: { graceMs?: number }): Promise<void>;
  list(): Promise<string[]>;
  /** The command a human runs to watch the session live; with the agent's pane (`%N`), wherever that pane sits now. */
  attachCommand(name: string, pane?: string): string[] | undefined;
  /** Ends every session of this backend at once (gt demo's clean-up); sessions already gone are fine. */
  stopAll(): Promise<void>;
}

export type Release = () => void;

/** Files under the town root. Paths are absolute. */
export interface TownFiles {
  read(path: string): string | undefined;
  /** Atomic (readers see the old text or the new); `durable: false` skips the fsyncs, for a session's own run files. */
  write(path: string, text: string, mode?: number, options?: { durable?: boolean }): void;
  /** Appends whole lines (a log); the file and its folder are created when missing. */
  append(path: string, text: string): void;
  /**
   * Replaces a file's content in place: the same file, so a process appending
   * to it through an open descriptor (the daemon's stderr) keeps writing into it.
   * Not atomic; for logs only.
   */
  overwrite(path: string, text: string): void;
  exists(path: string): boolean;
  mkdirp(path: string): void;
  remove(path: string): void;
  list(dir: string): string[];
  /** An exclusive lock file; a holder that died is detected and replaced. */
  lock(path: string, options?: { waitMs?: number }): Promise<Release>;
  /** The live process holding a lock, if any; reading never takes the lock. */
  lockHolder(path: string): number | undefined;
  isDirectory(path: string): boolean;
  /** When a file last changed (epoch ms); undefined when it does not exist. */
  modifiedAt(path: string): number | undefined;
  /**
   * The path with every symbolic link resolved; for a path that does not exist
   * (yet), its deepest existing ancestor resolved, the rest appended.
   */
  realpath(path: string): string;
  /** Sets a file's or directory's mode (0o700: the owner alone). */
  chmod(path: string, mode: number): void;
}

/**
 * Work that must outlive the calling command, run by a detached process of
 * gt's own: ending the very session a command runs in (gt done), restarting it
 * (gt handoff), typing a line once a runtime is up. Typed, so the import graph
 * and the compiler see every use.
 */
export interface DetachedControl {
  /**
   * Ends the agent's session after `afterMs` (a stream-protocol agent gets time
   * to finish its turn) — only if it is still the session of run `run`: a
   * session started meanwhile (a gate approved, a handoff) is left running.
   */
  stopSession(agent: string, afterMs: number, run?: string): void;
  /** Stops and starts the agent's session on the same hook after `afterMs`. */
  restartSession(agent: string, afterMs: number): void;
  /** Nudges the agent (see comms/nudge.ts) without making the caller wait for it. */
  nudge(agent: string, text: string, options: NudgeOptions): void;
}

export interface NudgeOptions {
  /** Wait this long first (a session that is starting). */
  afterMs?: number;
  /** How long to wait for the confirming hook event; 0 = do not wait. */
  waitSec?: number;
  /** How long to wait for a busy agent to go idle before queueing. */
  idleWaitSec?: number;
  /** Type the text as is, without the "[nudge from …]" prefix. */
  raw?: boolean;
  /** Only wake an idle agent; do nothing when it is busy. */
  ifIdle?: boolean;
}

export interface DaemonStatus {
  running: boolean;
  pid?: number;
  /** A pidfile whose process is gone (a crash); the next start replaces it. */
  stale_pidfile?: boolean;
  log: string;
}

/** The town daemon (the deacon) as a process: started by gt up, stopped by gt down. */
export interface DaemonControl {
  status(): DaemonStatus;
  /** Starts it unless one runs; resolves once it holds its pidfile. */
  start(): Promise<DaemonStatus & { started: boolean }>;
  /** Asks it to stop (SIGTERM), waits `graceMs`, then kills it. Resolves whether one was running. */
  stop(graceMs: number): Promise<boolean>;
}
