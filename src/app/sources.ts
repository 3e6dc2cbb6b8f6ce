/**
 * Scheduled sources (schedule.sources): a file HR overwrites in place (on a share, say) is copied
 * into the inbox on its cron expression, so the directory is re-synced to it. The source is only
 * read — never moved or changed. A copy is made only when the content differs from the last copy,
 * and it appears in the inbox atomically (written under a dot-name the watcher ignores, then
 * renamed) under a name that never replaces a file already waiting there.
 *
 * A copy feeds the feed named like its source, when one is configured (SPEC §8): the copy's name,
 * `<source>_<UTC stamp><ext>`, says which source made it — also after a restart, when the copy
 * waits in the inbox or in processing/ — however the feeds' globs read that name.
 */
import { createHash } from 'node:crypto';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { feedOfFile } from '../pipeline/feeds.js';
import type { Logger } from '../logging/logger.js';

type Source = Config['schedule']['sources'][number];

export function createSourceCopier(inbox: string, logger: Logger) {
  const log = logger.child({ module: 'sources' });
  const lastCopied = new Map<string, string>();
  return {
    async copy(source: Source): Promise<void> {
      let content: Buffer;
      try {
        content = await readFile(source.path);
      } catch (error) {
        log.warn('source.unreadable', {
          source: source.name,
          path: source.path,
          code: (error as NodeJS.ErrnoException).code,
        });
        return;
      }
      const sha256 = createHash('sha256').update(content).digest('hex');
      if (lastCopied.get(source.name) === sha256) return; // unchanged since the last copy
      const ext = path.extname(source.path).toLowerCase() || '.xlsx';
      const stamp = new Date()
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d+Z$/, 'Z');
      const temp = path.join(inbox, `.${source.name}.${stamp}.tmp`);
      const target = path.join(inbox, copyName(source.name, stamp, ext));
      // The bytes just hashed, not a second read: HR may be overwriting the source right now.
      await writeFile(temp, content, { flag: 'wx', mode: 0o600 });
      try {
        await link(temp, target); // refuses to replace an existing file
      } finally {
        await rm(temp, { force: true });
      }
      lastCopied.set(source.name, sha256);
      log.info('source.copied', { source: source.name, to: path.basename(target), sha256 });
    },
  };
}

/** `<source>_<stamp><ext>`, stamp `YYYYMMDDTHHMMSSZ`: how a copy is named, and read back by {@link sourceOfCopy}. */
function copyName(sourceName: string, stamp: string, ext: string): string {
  return `${sourceName}_${stamp}${ext}`;
}

const COPY_NAME = /^(.+)_\d{8}T\d{6}Z\.[^.]+$/;

/** The configured source a file of this name is a copy of; undefined when it is not named like one. */
export function sourceOfCopy(config: Readonly<Config>, fileName: string): Source | undefined {
  const named = COPY_NAME.exec(fileName)?.[1]?.toLowerCase();
  return named === undefined ? undefined : config.schedule.sources.find((s) => s.name.toLowerCase() === named);
}

/**
 * The feed of a file the daemon takes: a source's copy feeds the feed of the source's name when
 * there is one; any other file (and a copy of a source no feed is named after) the feed whose
 * glob first matches its name, or `inbox`.
 */
export function feedOfInboxFile(config: Readonly<Config>, fileName: string): string {
  const source = sourceOfCopy(config, fileName)?.name.toLowerCase();
  const sourceFeed = source === undefined ? undefined : config.feeds.find((f) => f.name.toLowerCase() === source);
  return sourceFeed?.name ?? feedOfFile(config, fileName);
}
