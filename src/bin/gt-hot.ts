import { runHot } from '../cli/gt/hot.js';
import { processIo } from '../cli/output.js';

void runHot(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
});
