import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_KEYS } from '../../../core/beads/ledger.js';
import { isValidPrefix, normalizePrefix } from '../../../core/beads/ids.js';
import { BEADS_DB_NAME, BEADS_DIR_NAME, findTownRoot, openLedger } from '../../../app/index.js';
import { GtError, validationError } from '../../../shared/errors.js';
import { action, type BdContext } from '../context.js';

const GITIGNORE = `# gt/bd runtime files: the database is local; share issues with bd export
*.db
*.db-wal
*.db-shm
*.db-journal
`;

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('init')
    .description('Create a ledger in ./.beads (database + config)')
    .option('-p, --prefix <prefix>', "issue ID prefix (default: this directory's name)")
    .addHelpText('after', '\nExamples:\n  bd init\n  bd init --prefix api\n')
    .action(
      action(ctx, async (opts) => {
        const { prefix: rawPrefix } = opts as { prefix?: string };
        if (!ctx.io.env.BEADS_DIR) {
          const town = findTownRoot(ctx.cwd, ctx.io.env);
          if (town) {
            throw new GtError(
              'conflict',
              `${ctx.cwd} is inside the gt town ${town}: bd uses the town ledger there, so a .beads here would be ignored; nothing was changed`,
              {
                hint: 'the town ledger is created by `gt install`; for a separate ledger set BEADS_DIR and run bd init again',
              },
            );
          }
        }
        const dir = ctx.io.env.BEADS_DIR ? resolve(ctx.cwd, ctx.io.env.BEADS_DIR) : join(ctx.cwd, BEADS_DIR_NAME);
        const dbPath = join(dir, BEADS_DB_NAME);
        if (existsSync(dbPath)) {
          throw new GtError('conflict', `a ledger already exists at ${dbPath}; nothing was changed`, {
            hint: 'use it as it is; bd config set issue_prefix <p> changes the prefix of new issues',
          });
        }
        const prefix = normalizePrefix(rawPrefix ?? basename(ctx.cwd));
        if (!isValidPrefix(prefix))
          throw validationError(
            `invalid prefix ${JSON.stringify(rawPrefix ?? prefix)}`,
            'use letters, digits, _ and -, starting with a letter (at most 40 characters)',
          );
        mkdirSync(dir, { recursive: true });
        if (!existsSync(join(dir, '.gitignore'))) writeFileSync(join(dir, '.gitignore'), GITIGNORE);
        const ledger = openLedger(dbPath, () => ctx.actor(), { create: true });
        ctx.adopt(ledger);
        await ledger.setConfig(CONFIG_KEYS.prefix, prefix);
        const { schema_version } = await ledger.health();
        ctx.emit(
          { path: dbPath, prefix, schema_version_db: schema_version },
          () =>
            `✓ Initialized beads ledger in ${dir}\n  Database: ${dbPath}\n  Issue prefix: ${prefix} (issues will be named ${prefix}-<hash>)\n\nNext: bd create "My first issue"`,
        );
      }),
    );
}
