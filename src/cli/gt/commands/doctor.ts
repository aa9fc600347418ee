import type { Command } from 'commander';
import { doctorPorts } from '../../../app/index.js';
import { DOCTOR_CHECKS } from '../../../core/doctor/checks.js';
import { runDoctor, type CheckStatus } from '../../../core/doctor/doctor.js';
import { action, type GtContext } from '../context.js';

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('doctor')
    .description('Check the town: file modes, secret exposure, push protection; exit 1 when a check fails')
    .addHelpText(
      'after',
      `
Each check answers ok, warn or fail, with what it found and how to fix it. Checks only look.
  town-modes       the town root and .gt/ are 0700
  file-modes       ledger, town.toml, rig.toml, runtime settings (hook tokens), session files are 0600
  session-secrets  session files holding API keys are the owner's alone
  tmux-argv        no secret on the town's tmux server command line (visible to ps)
  rig-urls         no credential in a rig URL in rig.toml or the ledger
  push-protection  agents' origin pushes into gt's bare repository, which guards the default branch

Examples:
  gt doctor
  gt doctor --json`,
    )
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async () => {
        const town = await ctx.town();
        const report = await runDoctor(town, doctorPorts(town.root, ctx.io.env), DOCTOR_CHECKS);
        ctx.emit(report, () =>
          [
            ...report.checks.flatMap((c) => [`${MARK[c.status]}  ${c.check}: ${c.message}`, ...(c.status !== 'ok' && c.fix ? [`      fix: ${c.fix}`] : [])]),
            '',
            `${report.summary.ok} ok, ${report.summary.warn} warning(s), ${report.summary.fail} failed`,
          ].join('\n'),
        );
        return report.ok ? 0 : 1;
      }),
    );
}
