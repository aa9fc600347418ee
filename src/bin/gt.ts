import { runGt } from '../cli/gt/main.js';
import { processIo } from '../cli/output.js';

void runGt(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
});
