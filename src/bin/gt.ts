import { runGt } from '../cli/gt/main.js';
import { processIo } from '../cli/output.js';

process.exitCode = await runGt(process.argv.slice(2), processIo());
