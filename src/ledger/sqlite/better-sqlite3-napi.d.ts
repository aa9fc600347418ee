// better-sqlite3 13 under an npm alias (see store.ts): the same JavaScript API as 12, whose types these are.
declare module 'better-sqlite3-napi' {
  import Database from 'better-sqlite3';
  export default Database;
}
