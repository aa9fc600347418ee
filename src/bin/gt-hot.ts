import { HOT_COMMANDS } from '../cli/gt/hot-commands.js';
import { runGt } from '../cli/gt/main.js';
import { processIo } from '../cli/output.js';

void runGt(process.argv.slice(2), processIo(), HOT_COMMANDS).then((code) => {
  process.exitCode = code;
});
