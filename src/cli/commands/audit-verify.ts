/**
 * `usersync audit verify [--json] [--anchor SEQ:HASH] [--log FILE]` (SPEC §10): exit 0 and the
 * chain's head when the audit trail is intact, exit 1 and the first broken event otherwise, exit 2
 * for a malformed anchor or a log file that cannot be read. The walk is app/audit-verify.ts.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { verifyAuditChain, type ChainVerdict } from '../../app/audit-verify.js';
import { withDatabaseErrors } from '../../db/errors.js';
import type { ChainHead } from '../../domain/audit-chain.js';
import { fail } from '../../errors.js';
import type { Runner } from '../command-module.js';

/** `1234:<64 hex digits>` → the anchor; anything else is AUDIT_ANCHOR_INVALID. */
export function parseAnchor(text: string): ChainHead {
  const match = /^\s*(\d{1,15}):([0-9a-fA-F]{64})\s*$/.exec(text);
  const seq = Number(match?.[1]);
  if (!match || !(seq >= 1))
    throw fail('AUDIT_ANCHOR_INVALID', {
      message: `--anchor "${text.slice(0, 100)}" is not SEQ:HASH: give an event's seq (1 or more), a colon and its 64-hex-digit hash.`,
    });
  return { seq, hash: match[2]!.toLowerCase() };
}

/** Opens the --log file now, so that a wrong path is a usage error before the walk, not after it. */
async function openLog(file: string): Promise<FileHandle> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, 'r');
    if (!(await handle.stat()).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'not a file' });
    return handle;
  } catch (error) {
    await handle?.close().catch(() => undefined);
    throw fail('AUDIT_LOG_UNREADABLE', {
      message: `The audit log ${file} (--log) cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      cause: error,
    });
  }
}

function inWords(verdict: ChainVerdict, description: string): string {
  if (!verdict.ok) {
    const where = verdict.seq === null ? '' : ` at event ${verdict.seq}`;
    return `The audit trail in ${description} is BROKEN${where}: ${verdict.problem}.\n`;
  }
  const lines = [
    `The audit trail is intact: ${verdict.events} event${verdict.events === 1 ? '' : 's'}, head ${verdict.head.seq}:${verdict.head.hash}`,
  ];
  if (verdict.anchor) lines.push(`The anchor ${verdict.anchor.seq}:${verdict.anchor.hash} is in it.`);
  if (verdict.log) {
    const { file, checked, withoutSeq } = verdict.log;
    const skipped =
      withoutSeq === 0 ? '' : `; ${withoutSeq} line${withoutSeq === 1 ? '' : 's'} from before the chain skipped`;
    lines.push(`${file} agrees with it: ${checked} line${checked === 1 ? '' : 's'} checked${skipped}.`);
  }
  return `${lines.join('\n')}\n`;
}

/** Registers `verify` under `usersync audit`. */
export const registerAuditVerify = (y: Argv, run: Runner): Argv =>
  y.command(
    'verify',
    'Check that the audit trail is intact: every event in its hash chain, unchanged, none missing',
    (c) =>
      c
        .option('json', {
          type: 'boolean',
          default: false,
          describe: '{ok, events, head} or {ok: false, seq, problem}',
        })
        .option('anchor', {
          type: 'string',
          describe: "SEQ:HASH of an event kept elsewhere (a report's auditHead): fails unless it is still in the chain",
        })
        .option('log', { type: 'string', describe: 'An audit.log file to check line by line against the table' }),
    (args) =>
      run(args, { readOnly: true }, async (context) => {
        const anchor = args.anchor === undefined ? undefined : parseAnchor(String(args.anchor));
        const logFile = args.log === undefined ? undefined : String(args.log);
        const handle = logFile === undefined ? undefined : await openLog(logFile);
        try {
          const db = await context.database();
          const verdict = await withDatabaseErrors(db.location, () =>
            verifyAuditChain(db.knex, { anchor, log: handle && { name: logFile!, handle } }),
          );
          if (args.json) await context.out.json(verdict);
          else await context.out.write(inWords(verdict, db.description));
          if (!verdict.ok) {
            context.exitCode = 1;
            context.logger.warn('audit.chain_broken', {
              fileOnly: true,
              seq: verdict.seq,
              check: verdict.check,
              line: verdict.line,
            });
          }
        } finally {
          await handle?.close().catch(() => undefined);
        }
      }),
  );
