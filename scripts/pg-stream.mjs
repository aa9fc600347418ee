// Stands in for node-postgres's lib/stream.js in dist/gt-pg.cjs (scripts/build.mjs). gt runs pg under
// Node only; pg's own module asks whether it runs in a Cloudflare Worker, and on Node 20 (no `navigator`)
// it does so by constructing a `Response`, which loads Node's fetch (undici): ~33 ms of every command on
// a PostgreSQL ledger, measured with --cpu-prof on `gt prime`. These are its Node.js stream functions,
// each loading its module when first called, as pg's do.
export function getStream() {
  const { Socket } = process.getBuiltinModule('node:net');
  return new Socket();
}

export function getSecureStream(options) {
  return process.getBuiltinModule('node:tls').connect(options);
}
