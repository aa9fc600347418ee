import { runBd } from '../cli/bd/main.js';
import { processIo } from '../cli/output.js';

process.exitCode = await runBd(process.argv.slice(2), processIo());
