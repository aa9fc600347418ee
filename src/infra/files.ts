/**
 * The town's files: atomic writes, and lock files that survive their holder's
 * death (the pid inside is checked; a dead holder's lock is taken over).
 */
import {
  appendFileSync,
  chmodSync,
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  lstatSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { GtError } from '../shared/errors.js';
import type { Release, TownFiles } from '../core/town/ports.js';
import { writeFileAtomic } from './fs.js';
import { processAlive } from './exec.js';

function tryLock(path: string): boolean {
  try {
    const fd = openSync(path, 'wx', 0o644);
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  }
}

function holder(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes `path` as a lock, waiting up to `waitMs`; a lock whose holder died is removed. */
export async function acquireLock(path: string, waitMs = 30_000): Promise<Release> {
  // Only the lock's own directory is created: a lock inside a town (or run) that was
  // removed meanwhile fails instead of bringing its directories back.
  try {
    mkdirSync(dirname(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new GtError('not_found', `cannot lock ${path}: ${dirname(dirname(path))} does not exist`);
    if (code !== 'EEXIST') throw error;
  }
  const deadline = Date.now() + waitMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    if (tryLock(path)) {
      return () => {
        if (holder(path) === process.pid) rmSync(path, { force: true });
      };
    }
    const pid = holder(path);
    if (pid !== undefined && !processAlive(pid)) {
      rmSync(path, { force: true });
      continue;
    }
    if (pid === undefined) {
      // Written but not yet filled, or garbage: give a writer a moment, then take over.
      try {
        if (Date.now() - statSync(path).mtimeMs > 2000) rmSync(path, { force: true });
      } catch {
        // gone already
      }
    }
    if (Date.now() >= deadline) {
      throw new GtError('conflict', `${path} is locked by process ${pid ?? '?'}`, { hint: 'another gt command holds this lock; try again when it finishes' });
    }
    await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
  }
}

export const nodeTownFiles: TownFiles = {
  read(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  },
  write(path, text, mode, options) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomic(path, [text], mode, options);
    // chmod after the rename too: the umask may have taken bits the caller asked for.
    if (mode !== undefined) chmodSync(path, mode);
  },
  append(path, text) {
    mkdirSync(dirname(path), { recursive: true });
    // One write(2) of a whole line with O_APPEND: concurrent writers never interleave within it.
    appendFileSync(path, text);
  },
  overwrite(path, text) {
    // r+ then truncate: the inode stays, unlike write()'s rename.
    const fd = openSync(path, 'r+');
    try {
      ftruncateSync(fd, 0);
      writeSync(fd, text, 0);
    } finally {
      closeSync(fd);
    }
  },
  exists: (path) => existsSync(path),
  mkdirp: (path) => void mkdirSync(path, { recursive: true }),
  remove: (path) => rmSync(path, { recursive: true, force: true }),
  list(dir) {
    try {
      return readdirSync(dir).sort();
    } catch {
      return [];
    }
  },
  lock: (path, options) => acquireLock(path, options?.waitMs),
  lockHolder(path) {
    const pid = holder(path);
    return pid !== undefined && processAlive(pid) ? pid : undefined;
  },
  modifiedAt(path) {
    try {
      return statSync(path).mtimeMs;
    } catch {
      return undefined;
    }
  },
  isDirectory(path) {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  },
  realpath: (path) => realPath(path, 0),
  chmod: (path, mode) => chmodSync(path, mode),
};

function realPath(path: string, depth: number): string {
  const rest: string[] = [];
  for (let head = path; ; head = dirname(head)) {
    try {
      return join(realpathSync(head), ...rest);
    } catch {
      // A dangling link: writing through it creates its target, so follow it (a loop ends at 40 hops).
      let link: string | undefined;
      try {
        if (lstatSync(head).isSymbolicLink() && depth < 40) link = readlinkSync(head);
      } catch {
        link = undefined;
      }
      if (link !== undefined) return realPath(join(resolve(dirname(head), link), ...rest), depth + 1);
      if (dirname(head) === head) return path;
      rest.unshift(basename(head));
    }
  }
}
