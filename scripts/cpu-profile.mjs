// Preloaded by bench/daemon.ts under BENCH_PROFILE (NODE_OPTIONS=--import …; Node 20 refuses --cpu-prof
// there): a V8 CPU profile of the process, written to $BENCH_PROFILE_DIR/<pid>.cpuprofile when it exits.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.start');
process.on('exit', () => {
  // Same-thread sessions answer synchronously, so the profile is written before the process ends.
  session.post('Profiler.stop', (error, result) => {
    if (!error && process.env.BENCH_PROFILE_DIR)
      writeFileSync(join(process.env.BENCH_PROFILE_DIR, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});
