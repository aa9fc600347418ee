import { COMMANDS } from '../cli/gt/commands.js';
import { runGt } from '../cli/gt/main.js';
import { agentAwareIo } from './io.js';
import { UI_COMMANDS } from './ui-commands.js';

const argv = process.argv.slice(2);
// `gt daemon run` is the daemon edge itself (started by `gt up`), not a CLI command.
const run =
  argv[0] === 'daemon' && argv[1] === 'run'
    ? import('../daemon/deacon.js').then(({ runDeacon }) => runDeacon(process.env.GT_ROOT ?? process.cwd(), process.env))
    : runGt(argv, agentAwareIo(), [...COMMANDS, ...UI_COMMANDS]);
void run.then((code) => {
  process.exitCode = code;
});
