/**
 * The DaemonControl port: the deacon is a detached `gt daemon run` process
 * holding `.gt/daemon.pid` as its lock and logging to `.gt/daemon.log`.
 */
import { closeSync, openSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { DaemonControl, DaemonStatus } from '../core/town/ports.js';
import { GtError } from '../shared/errors.js';
import { DAEMON_LOGFILE, DAEMON_PIDFILE, GT_DIR } from '../shared/paths.js';
import { processAlive } from './exec.js';
import { nodeTownFiles } from './files.js';
import { gtLauncher } from './launch.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function daemonControl(root: string, env: NodeJS.ProcessEnv): DaemonControl {
  const pidfile = join(root, DAEMON_PIDFILE);
  const log = join(root, DAEMON_LOGFILE);
  const status = (): DaemonStatus => {
    const text = nodeTownFiles.read(pidfile);
    if (text === undefined) return { running: false, log };
    const pid = Number(text.trim());
    if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) return { running: true, pid, log };
    return { running: false, stale_pidfile: true, log };
  };
  return {
    status,
    async start() {
      const before = status();
      if (before.running) return { ...before, started: false };
      const [node, script] = gtLauncher() as [string, string];
      nodeTownFiles.mkdirp(join(root, GT_DIR));
      const out = openSync(log, 'a');
      const child = spawn(node, [script, 'daemon', 'run'], { cwd: root, detached: true, stdio: ['ignore', out, out], env: { ...env, GT_ROOT: root } });
      child.unref();
      closeSync(out);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const now = status();
        if (now.running) return { ...now, started: now.pid === child.pid };
        if (child.exitCode !== null) break;
        await sleep(50);
      }
      throw new GtError('external', 'the daemon did not start', { hint: `see ${log}` });
    },
    async stop(graceMs) {
      const now = status();
      if (now.stale_pidfile) nodeTownFiles.remove(pidfile);
      if (!now.running || !now.pid) return false;
      process.kill(now.pid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (processAlive(now.pid) && Date.now() < deadline) await sleep(50);
      if (processAlive(now.pid)) {
        process.kill(now.pid, 'SIGKILL');
        // SIGKILL is delivered asynchronously: a start right after must not find it still there.
        const killed = Date.now() + 5000;
        while (processAlive(now.pid) && Date.now() < killed) await sleep(20);
      }
      return true;
    },
  };
}
