import type { Command } from 'commander';
import { openDoctorContext } from '../../../app/index.js';
import { DOCTOR_CHECKS } from '../../../core/doctor/checks.js';
import { runDoctor, type CheckStatus, type DoctorReport } from '../../../core/doctor/doctor.js';
import { style, type Style } from '../../output.js';
import { action, type GtContext } from '../context.js';

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

function render(report: DoctorReport, fix: boolean, s: Style): string {
  const tone: Record<CheckStatus, (text: string) => string> = { ok: s.green, warn: s.yellow, fail: s.red, skip: s.dim };
  const width = Math.max(...report.checks.map((c) => c.check.length));
  const lines = report.checks.flatMap((c) => [
    `${tone[c.status](MARK[c.status])}  ${c.check.padEnd(width)}  ${c.message}`,
    ...(c.fixed ?? []).map((what) => `      ${s.cyan('fixed:')} ${what}`),
    ...(c.status === 'warn' || c.status === 'fail' ? (c.fix ? [`      ${s.dim('fix:')} ${c.fix}`] : []) : []),
  ]);
  const { summary } = report;
  const tail = [
    `${summary.ok} ok, ${summary.warn} warning(s), ${summary.fail} failed`,
    ...(summary.skip ? [`${summary.skip} not checked`] : []),
    ...(fix ? [`${summary.fixed} change(s) made`] : []),
  ].join(', ');
  const fixable = report.checks.filter((c) => c.fixable && (c.status === 'warn' || c.status === 'fail')).length;
  const hint = !fix && fixable ? [s.dim(`gt doctor --fix repairs what it safely can (${fixable} check(s) here); it never removes work.`)] : [];
  return [...lines, '', tail, ...hint].join('\n');
}

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('doctor')
    .description(
      'Check the whole town (ledger, config, daemon, sessions, worktrees, runtimes, security); --fix repairs what is safe; exit 1 when a check fails',
    )
    .addHelpText(
      'after',
      `
Each check answers ok, warn, fail or skip (it could not look: another check says why),
with what it found and how to fix it. Only a failed check makes the exit status 1.
--fix repairs what is safe and idempotent — file modes, launchers, a dead daemon, a
stale socket or lock, a deleted worktree whose branch survives, stale hook settings,
push protection, pending migrations — then checks again; it never deletes a worktree,
branch, commit or bead. A second --fix changes nothing.

Checks: ${DOCTOR_CHECKS.map((c) => c.name).join(', ')}
(gt doctor --json lists each with its title, status, message, fix and details.)

Examples:
  gt doctor
  gt doctor --fix
  gt doctor --json | jq '.checks[] | select(.status != "ok")'`,
    )
    .option('--fix', 'repair what can be repaired safely, then check again')
    .option('--json', 'machine-readable output: every check')
    .action(
      action(ctx, async (opts: unknown) => {
        const fix = (opts as { fix?: boolean }).fix === true;
        const context = await openDoctorContext(ctx.townRoot(), ctx.io.env, (line) => ctx.err(line));
        try {
          const report = await runDoctor(context, DOCTOR_CHECKS, { fix });
          ctx.emit(report, () => render(report, fix, style(ctx.io)));
          return report.ok ? 0 : 1;
        } finally {
          await context.close();
        }
      }),
    );
}
