import { runHot } from '../cli/gt/hot.js';
import { agentAwareIo } from './io.js';

void runHot(process.argv.slice(2), agentAwareIo()).then((code) => {
  process.exitCode = code;
});
