/** Kept apart from hot.ts: the gt launcher (src/bin/gt.ts) bundles only this, to pick a bundle. */
/** Which argv the hot path serves: these commands, without --help. */
export function isHot(argv: string[]): boolean {
  if (argv.some((a) => a === '--help' || a === '-h')) return false;
  const [first, second] = argv.filter((a) => !a.startsWith('-'));
  return first === 'prime' || first === 'signal' || first === 'hook' || (first === 'mail' && second === 'check');
}
