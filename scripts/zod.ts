// dist/gt-zod.cjs: zod on its own, for the bundles that load it only when a command needs it (scripts/build.mjs).
export * from 'zod';
