/**
 * The gt launcher: picks the bundle for the command. Hooks run `gt prime`,
 * `gt signal`, `gt hook` and `gt mail check` on every agent turn; they get a
 * small bundle of their own (dist/gt-hot.cjs), everything else the full one.
 * Node must parse a whole bundle before running any of it, so size is time.
 */
import { join } from 'node:path';
import { isHot } from '../cli/gt/hot-argv.js';

const argv = process.argv.slice(2);
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundles are separate files chosen at run time
require(join(__dirname, argv[0] === 'session-host' || argv[0] === 'town-host' ? 'gt-host.cjs' : isHot(argv) ? 'gt-hot.cjs' : 'gt-full.cjs'));
