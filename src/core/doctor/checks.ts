/**
 * Every check `gt doctor` runs, in order: what the town stands on first (its
 * config, the ledger), then who guards it, what runs, what is on disk, the
 * agents' runtimes, the machine, the work in flight, and the daemon. A new check is one
 * more entry (or one more list spread in).
 */
import type { DoctorCheck } from './doctor.js';
import { ENVIRONMENT_CHECKS } from './environment.js';
import { LEDGER_CHECKS } from './ledger.js';
import { daemonCheck, PROCESS_CHECKS } from './processes.js';
import { RUNTIME_CHECKS } from './runtimes.js';
import { SECURITY_CHECKS } from './security.js';
import { WORKSPACE_CHECKS } from './workspace.js';
import { WORK_CHECKS } from './work.js';

export const DOCTOR_CHECKS: readonly DoctorCheck[] = [
  ...LEDGER_CHECKS,
  ...SECURITY_CHECKS,
  ...PROCESS_CHECKS,
  ...WORKSPACE_CHECKS,
  ...RUNTIME_CHECKS,
  ...ENVIRONMENT_CHECKS,
  ...WORK_CHECKS,
  // Last: a daemon that died is started again only once everything else is repaired (its first pass acts on the town).
  daemonCheck,
];
