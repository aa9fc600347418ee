declare const __GT_VERSION__: string | undefined;

/** The package version, set by the bundler; `0.0.0-dev` when run from source. */
export const VERSION = typeof __GT_VERSION__ === 'string' ? __GT_VERSION__ : '0.0.0-dev';
