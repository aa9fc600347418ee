/**
 * The files a town stands on: town.toml and rig.toml parse, and the ledger is
 * a healthy SQLite file of a schema this gt knows (design §2.2: the ledger
 * never breaks, and doctor checks it), with its write-ahead log folded in.
 */
import { RIG_FILE, TOWN_FILE, TOWN_LEDGER } from '../../shared/paths.js';
import { bytesText, listed, type CheckOutcome, type DoctorCheck, type DoctorContext } from './doctor.js';

/** A write-ahead log past this size means checkpoints are not keeping up (a reader held open for hours, a crashed writer). */
const WAL_WARN_BYTES = 64 * 1024 * 1024;

function configProblems(context: DoctorContext): string[] {
  const { root, ports } = context;
  const problems: string[] = [];
  const parse = (file: string, parser: (text: string, file: string) => unknown) => {
    const text = ports.files.read(file);
    if (text === undefined) return;
    try {
      parser(text, file);
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  };
  parse(`${root}/${TOWN_FILE}`, ports.configParsers.town);
  for (const name of ports.files.list(root)) if (ports.files.isDirectory(`${root}/${name}`)) parse(`${root}/${name}/${RIG_FILE}`, ports.configParsers.rig);
  return problems;
}

export const configFilesCheck: DoctorCheck = {
  name: 'config-files',
  title: 'town.toml and every rig.toml parse',
  async run(context) {
    const problems = configProblems(context);
    if (problems.length === 0) return { status: 'ok', message: 'town.toml and every rig.toml are valid' };
    return {
      status: 'fail',
      message: problems.join('; '),
      fix: 'edit the file at the key named (gt config show prints the valid keys); gt refuses to run sessions on a config it cannot read',
      details: problems,
    };
  },
};

export const ledgerSchemaCheck: DoctorCheck = {
  name: 'ledger-schema',
  title: "the ledger's schema version is the one this gt writes",
  async run(context): Promise<CheckOutcome> {
    const found = context.ports.inspectLedger();
    if (!found.exists)
      return {
        status: 'fail',
        message: `${found.label ?? TOWN_LEDGER} is missing`,
        fix: 'gt install --force <town> creates an empty ledger (or restore yours from a backup or a bd export)',
      };
    if (found.schema_version === undefined) {
      return {
        status: 'fail',
        message: `${found.label ?? TOWN_LEDGER} cannot be read: ${found.error ?? 'unknown error'}`,
        fix: 'restore it from a backup, or rebuild it with bd import from an export',
      };
    }
    if (found.schema_version > found.latest) {
      return {
        status: 'fail',
        message: `${found.label ?? TOWN_LEDGER} has schema version ${found.schema_version}, newer than this gt understands (${found.latest}): it was written by a newer gt, or damaged`,
        fix: 'upgrade gt (gt refuses to write it, so nothing was changed)',
        fixable: false,
      };
    }
    if (found.schema_version < found.latest) {
      return {
        status: 'warn',
        message: `${found.label ?? TOWN_LEDGER} has schema version ${found.schema_version}; this gt writes ${found.latest}`,
        fix: 'gt doctor --fix (or any gt command that writes) applies the migrations, in one transaction',
      };
    }
    return { status: 'ok', message: `schema version ${found.schema_version}` };
  },
  async repair(context) {
    const found = context.ports.inspectLedger();
    if (found.schema_version === undefined || found.schema_version >= found.latest) return [];
    await context.ports.migrateLedger();
    return [`migrated ${found.label ?? TOWN_LEDGER} from schema ${found.schema_version} to ${found.latest}`];
  },
};

export const ledgerIntegrityCheck: DoctorCheck = {
  name: 'ledger-integrity',
  title: 'the ledger passes its consistency check (SQLite: quick_check and foreign keys)',
  async run(context) {
    const found = context.ports.inspectLedger();
    if (!found.exists || found.schema_version === undefined) return { status: 'skip', message: 'not checked: the ledger cannot be read (see ledger-schema)' };
    if (found.problems.length === 0)
      return { status: 'ok', message: found.label ? 'consistency check: ok' : 'PRAGMA quick_check: ok; no foreign key violation' };
    return {
      status: 'fail',
      message: `${found.label ?? TOWN_LEDGER} is damaged: ${listed(found.problems, 3)}`,
      fix: 'stop the daemon (gt down), back the file up, then bd export from it and bd import into a fresh ledger; bd doctor runs the full integrity_check',
      details: found.problems,
    };
  },
};

export const ledgerWalCheck: DoctorCheck = {
  name: 'ledger-wal',
  title: "the ledger's write-ahead log is folded in (not growing without bound)",
  async run(context) {
    const found = context.ports.inspectLedger();
    if (found.wal_bytes <= WAL_WARN_BYTES) return { status: 'ok', message: `write-ahead log ${bytesText(found.wal_bytes)}` };
    return {
      status: 'warn',
      message: `the write-ahead log is ${bytesText(found.wal_bytes)}: checkpoints are not keeping up (a process holding a read open?), and every reader pays for it`,
      fix: 'gt doctor --fix checkpoints and truncates it',
    };
  },
  async repair(context) {
    const before = context.ports.inspectLedger().wal_bytes;
    if (before <= WAL_WARN_BYTES) return [];
    context.ports.checkpointLedgerWal();
    const after = context.ports.inspectLedger().wal_bytes;
    // A reader holding an old snapshot keeps the log: then nothing changed, and a second --fix must say so too.
    return after < before ? [`checkpointed the write-ahead log (${bytesText(before)} → ${bytesText(after)})`] : [];
  },
};

export const LEDGER_CHECKS: readonly DoctorCheck[] = [configFilesCheck, ledgerSchemaCheck, ledgerIntegrityCheck, ledgerWalCheck];
