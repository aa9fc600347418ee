/**
 * The bd launcher: runs the bd bundle (dist/bd-main.cjs) through V8's code
 * cache (see launch.ts), one cache per hot command so each keeps the code it
 * runs.
 */
import { join } from 'node:path';
import { runBundle } from './launch.js';

const HOT = new Set(['ready', 'create', 'q', 'show', 'list', 'update', 'close', 'comments', 'dep', 'label']);
const word = process.argv.slice(2).find((a) => !a.startsWith('-')) ?? '';
runBundle(join(__dirname, 'bd-main.cjs'), HOT.has(word) ? word : 'other');
