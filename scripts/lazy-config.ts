// Stands in for src/core/town/config.ts in the session host's bundle (dist/gt-host.cjs):
// the zod schemas are most of a bundle's size, and a host only needs them when its
// agent first asks for a permission. They load then, from dist/gt-config.cjs.
import { join } from 'node:path';
import type { RigConfig, TownConfig } from '../src/core/town/config.js';

interface ConfigModule {
  parseTownConfig: (text: string, file: string) => TownConfig;
  parseRigConfig: (text: string, file: string) => RigConfig;
}

let loaded: ConfigModule | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a separate bundle, loaded on first use
const load = (): ConfigModule => (loaded ??= require(join(__dirname, 'gt-config.cjs')) as ConfigModule);

export const parseTownConfig = (text: string, file: string): TownConfig => load().parseTownConfig(text, file);
export const parseRigConfig = (text: string, file: string): RigConfig => load().parseRigConfig(text, file);
