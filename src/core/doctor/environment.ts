/**
 * The machine around the town: a git identity for the person's own commits,
 * and room on the disk for worktrees, logs and the ledger.
 */
import { bytesText, type DoctorCheck } from './doctor.js';

const GIB = 1024 ** 3;

export const gitIdentityCheck: DoctorCheck = {
  name: 'git-identity',
  title: 'git knows who you are (user.name and user.email)',
  async run(context) {
    const { env } = context.ports;
    const name = env.GIT_AUTHOR_NAME || (await context.ports.gitConfig('user.name'));
    const email = env.GIT_AUTHOR_EMAIL || (await context.ports.gitConfig('user.email'));
    if (name && email) return { status: 'ok', message: `${name} <${email}>` };
    const missing = [name ? undefined : 'user.name', email ? undefined : 'user.email'].filter((m) => m !== undefined);
    return {
      status: 'warn',
      message: `git has no ${missing.join(' or ')}: your own commits (crew worktrees, the Mayor's home) fail, and bd falls back to $USER as your name (agents are not affected: gt gives each its identity)`,
      fix: `git config --global user.name "Your Name" && git config --global user.email you@example.com`,
    };
  },
};

export const diskSpaceCheck: DoctorCheck = {
  name: 'disk-space',
  title: 'free disk space for worktrees, logs and the ledger',
  async run(context) {
    const space = context.ports.diskSpace(context.root);
    if (!space) return { status: 'skip', message: 'not checked: the file system does not report its free space' };
    const text = `${bytesText(space.free)} free of ${bytesText(space.total)}`;
    if (space.free < GIB) {
      return {
        status: 'fail',
        message: `${text}: a worktree, a merge-queue build or a ledger write can fail at any moment (SQLite refuses writes when the disk is full)`,
        fix: 'free space (gt polecat nuke for idle polecats, old .gt/runs folders), or move the town',
      };
    }
    if (space.free < 5 * GIB || space.free < space.total * 0.05) {
      return { status: 'warn', message: `${text}: each polecat's worktree is a checkout of its rig`, fix: 'free some space before slinging more work' };
    }
    return { status: 'ok', message: text };
  },
};

export const ENVIRONMENT_CHECKS: readonly DoctorCheck[] = [gitIdentityCheck, diskSpaceCheck];
