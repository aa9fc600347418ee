import { execFileSync } from 'node:child_process';

/** CLI tests run the real bundled binaries: build them once per run. */
export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
}
