/**
 * Polecat names: a themed pool, as in Gas Town (`namepool`, theme mad-max), so a
 * person can tell workers apart at a glance. Names are reused when a worker is
 * idle; past the pool, `<name>-2`, `<name>-3`… keep them unique.
 */
export const NAME_POOL = [
  'furiosa',
  'nux',
  'slit',
  'toast',
  'capable',
  'dag',
  'cheedo',
  'angharad',
  'ace',
  'rictus',
  'morsov',
  'keeper',
  'valkyrie',
  'glory',
  'giddy',
  'organic',
  'bullet',
  'corpus',
  'scrotus',
  'max',
  'jessie',
  'goose',
  'fifi',
  'toecutter',
  'bubba',
  'johnny',
  'nightrider',
  'savannah',
  'pappagallo',
  'warrior',
  'gyro',
  'feral',
  'humungus',
  'wez',
  'lord',
  'toadie',
  'mudguts',
  'curmudgeon',
  'grinner',
  'dinki',
  'jedediah',
  'aunty',
  'ironbar',
  'collector',
  'scrooloose',
  'blackfinger',
  'pigkiller',
  'sprog',
  'rockatansky',
  'guzzoline',
];

/** The first name of the pool not in `taken`. */
export function nextPolecatName(taken: ReadonlySet<string>): string {
  for (let round = 1; ; round++) {
    for (const base of NAME_POOL) {
      const name = round === 1 ? base : `${base}-${round}`;
      if (!taken.has(name)) return name;
    }
  }
}
