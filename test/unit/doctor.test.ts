/**
 * gt doctor's runner (core/doctor/doctor.ts): what a person relies on when a
 * check misbehaves or a town is broken — a throwing check is one failed check,
 * a check that cannot look is `skip` (and does not fail doctor), warnings
 * alone pass, --fix repairs then looks again, and a repair that changes
 * nothing is not reported as a fix. Also: every check has a stable name.
 */
import { describe, expect, it } from 'vitest';
import { DOCTOR_CHECKS } from '../../src/core/doctor/checks.js';
import { NotChecked, runDoctor, townOf, type DoctorCheck, type DoctorContext } from '../../src/core/doctor/doctor.js';

/** The runner needs no ports for these checks: they look at a value of their own. */
const context = { root: '/nowhere', town: undefined, townError: 'the ledger is missing' } as unknown as DoctorContext;

function brokenThing(): { check: DoctorCheck; state: { broken: boolean; repairs: number } } {
  const state = { broken: true, repairs: 0 };
  return {
    state,
    check: {
      name: 'thing',
      title: 'the thing is whole',
      async run() {
        return state.broken ? { status: 'fail', message: 'the thing is broken', fix: 'gt doctor --fix' } : { status: 'ok', message: 'whole' };
      },
      async repair() {
        if (!state.broken) return [];
        state.broken = false;
        state.repairs++;
        return ['mended the thing'];
      },
    },
  };
}

describe('runDoctor', () => {
  it('reports a throwing check as failed, one that cannot look as skip, and passes on warnings alone', async () => {
    const checks: DoctorCheck[] = [
      { name: 'warns', title: 'w', run: async () => ({ status: 'warn', message: 'meh', fix: 'do x' }) },
      {
        name: 'needs-town',
        title: 'n',
        run: async (c) => {
          townOf(c);
          return { status: 'ok', message: 'unreachable' };
        },
      },
      {
        name: 'skips',
        title: 's',
        run: async () => {
          throw new NotChecked('town.toml does not parse (see config-files)');
        },
      },
    ];
    const report = await runDoctor(context, checks);
    expect(report.ok).toBe(true);
    expect(report.summary).toEqual({ ok: 0, warn: 1, fail: 0, skip: 2, fixed: 0 });
    expect(report.checks[1]).toMatchObject({ status: 'skip', message: 'not checked: the town could not be opened (the ledger is missing)' });

    const throwing: DoctorCheck = {
      name: 'throws',
      title: 't',
      run: async () => {
        throw new Error('EACCES: permission denied');
      },
    };
    const failed = await runDoctor(context, [throwing]);
    expect(failed.ok).toBe(false);
    expect(failed.checks[0]).toMatchObject({ status: 'fail', message: 'the check itself failed: EACCES: permission denied' });
  });

  it('repairs only with --fix, looks again after, and a second --fix changes nothing', async () => {
    const { check, state } = brokenThing();
    const looked = await runDoctor(context, [check]);
    expect(looked.checks[0]).toMatchObject({ status: 'fail', fixable: true });
    expect(state.repairs).toBe(0);

    const fixed = await runDoctor(context, [check], { fix: true });
    expect(fixed.ok).toBe(true);
    expect(fixed.checks[0]).toMatchObject({ status: 'ok', message: 'whole', fixed: ['mended the thing'] });
    expect(fixed.summary.fixed).toBe(1);

    const again = await runDoctor(context, [check], { fix: true });
    expect(again.checks[0]?.fixed).toBeUndefined();
    expect(again.summary.fixed).toBe(0);
    expect(state.repairs).toBe(1);
  });

  it('a failing repair leaves the finding and says why; a finding marked not fixable is not repaired', async () => {
    let tried = 0;
    const failing: DoctorCheck = {
      name: 'failing',
      title: 'f',
      run: async () => ({ status: 'fail', message: 'still broken' }),
      repair: async () => {
        tried++;
        throw new Error('disk full');
      },
    };
    const stubborn: DoctorCheck = { ...failing, name: 'stubborn', run: async () => ({ status: 'warn', message: 'not ours to fix', fixable: false }) };
    const report = await runDoctor(context, [failing, stubborn], { fix: true });
    expect(report.checks[0]).toMatchObject({ status: 'fail', fixable: true, message: 'still broken (the fix failed: disk full)' });
    expect(report.checks[1]).toMatchObject({ status: 'warn', fixable: false, message: 'not ours to fix' });
    expect(tried).toBe(1);
  });

  it('has at least 25 checks, each with a unique kebab-case name and a title', () => {
    expect(DOCTOR_CHECKS.length).toBeGreaterThanOrEqual(25);
    const names = DOCTOR_CHECKS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const check of DOCTOR_CHECKS) {
      expect(check.name).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(check.title.length).toBeGreaterThan(5);
    }
  });
});
