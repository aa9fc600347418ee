import { execFileSync } from 'node:child_process';

/**
 * CLI tests run the real bundled binaries: build them once per run (the
 * integration and e2e projects both ask; the second finds it done).
 */
export default function setup(): void {
  if (process.env.GT_TEST_BUILT === String(process.pid)) return;
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  process.env.GT_TEST_BUILT = String(process.pid);
}
