// Stands in for src/core/town/config.ts in the hot bundle (dist/gt-hot.cjs):
// hot commands never read town.toml, and the schemas would double the bundle.
import { GtError } from '../src/shared/errors.js';

const unavailable = (): never => {
  throw new GtError('internal', 'this command runs from the hot bundle, which has no config parser');
};
export const parseTownConfig = unavailable;
export const parseRigConfig = unavailable;
