import { runBd } from '../cli/bd/main.js';
import { agentAwareIo } from './io.js';

void runBd(process.argv.slice(2), agentAwareIo('bd')).then((code) => {
  process.exitCode = code;
});
