/**
 * The gt launcher: picks the bundle for the command. Hooks run `gt prime`,
 * `gt signal`, `gt hook` and `gt mail check` on every agent turn; they get a
 * small bundle of their own (dist/gt-hot.cjs), everything else the full one.
 * Node must parse a whole bundle before running any of it, so size is time;
 * and each is loaded through V8's code cache (launch.ts).
 */
import { join } from 'node:path';
import { isHot } from '../cli/gt/hot-argv.js';
import { runBundle } from './launch.js';

const argv = process.argv.slice(2);
const host = argv[0] === 'session-host' || argv[0] === 'town-host';
const hot = !host && isHot(argv);
const word = argv.find((a) => !a.startsWith('-')) ?? '';
// Code run from V8's code cache on Node 20 (a vm.Script) cannot import(); the one ES module gt loads (the feed's
// Ink UI, dist/gt-feed.mjs) is imported through this launcher, which Node's own loader compiled.
(globalThis as { __gtImport?: (specifier: string) => Promise<unknown> }).__gtImport = (specifier) => import(specifier);
runBundle(join(__dirname, host ? 'gt-host.cjs' : hot ? 'gt-hot.cjs' : 'gt-full.cjs'), host ? 'host' : hot ? word : 'full');
