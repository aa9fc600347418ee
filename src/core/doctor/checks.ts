/** Every check `gt doctor` runs, in order: a new check is one more entry (or one more list spread in). */
import type { DoctorCheck } from './doctor.js';
import { SECURITY_CHECKS } from './security.js';

export const DOCTOR_CHECKS: readonly DoctorCheck[] = [...SECURITY_CHECKS];
