import { runBd } from '../cli/bd/main.js';
import { processIo } from '../cli/output.js';

void runBd(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
});
