/**
 * The commands agent hooks run on every turn. They get their own small bundle
 * (dist/gt-hot.cjs, chosen by bin/gt.ts) without the config schemas or the
 * other commands, because parsing a large bundle is most of a short command's
 * start-up time. None of them reads town.toml.
 */
import type { Entry } from './commands.js';

export const HOT_COMMANDS: Entry[] = [
  { names: ['prime'], summary: 'What an agent needs to know at session start', load: () => import('./commands/prime.js') },
  { names: ['signal'], summary: 'Runtime hook events (turn boundaries deliver mail)', load: () => import('./commands/signal.js') },
  { names: ['hook'], summary: 'Show the work on a hook', load: () => import('./commands/hook.js') },
  { names: ['mail'], summary: 'Mail check at a turn boundary', load: () => import('./commands/mail-check.js') },
];

/** Which argv the hot bundle serves: these words, and `mail check`. */
export function isHot(argv: string[]): boolean {
  const words = argv.filter((a) => !a.startsWith('-'));
  const [first, second] = words;
  return first === 'prime' || first === 'signal' || first === 'hook' || (first === 'mail' && second === 'check');
}
