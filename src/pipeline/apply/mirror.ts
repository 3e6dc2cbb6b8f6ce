/**
 * Mirror feeds (SPEC §8): a file of a mirror feed is that feed's complete roster. Users the feed
 * owns, active, not protected and left out of `missingBeforeDeactivate` applied files in a row are
 * deactivated; users it lists are adopted by it, and those it had deactivated for absence are
 * reactivated (unless the row says Active = No).
 *
 * Planned like every other change (plan.ts): while the file's batches are prepared this notes
 * who the file lists — failed rows count as present, so a bad e-mail never deactivates anyone —
 * whom it adopts and whose missing count it resets; then `findAbsent` streams the feed's active
 * users, set-based, checking each against the usernames the file used (the
 * import's own index of them, kept off the heap: domain/username-index.ts). The deactivations
 * count for the `deactivate` guard. They are written by `settle`, in the transaction that closes
 * the import's register row: a crash before it deactivates nobody and counts no absence; the
 * next run of the file plans them again.
 */
import type { Knex } from 'knex';
import type { AuditEvent } from '../../db/repositories/audit.js';
import { chunk } from '../../db/time.js';
import type { SeenUsernames } from '../../domain/username-index.js';
import { UsernameIndex } from '../../domain/username-index.js';
import { fail } from '../../errors.js';
import type { PreparedBatch } from './prepare.js';

export interface MirrorSettings {
  feed: string;
  missingBeforeDeactivate: number;
  /** safety.protectedUsers: never deactivated. */
  isProtected?: ((username: string) => boolean) | undefined;
}

/** A user of the feed the file left out, and how many applied files in a row that now makes. */
export interface AbsentUser {
  id: number;
  username: string;
  missing: number;
}

/** Ids per UPDATE … WHERE id IN (…). */
const IDS_PER_STATEMENT = 500;

export class MirrorPlan {
  /** Usernames of rows that failed: present all the same. */
  private readonly failedPresent = new UsernameIndex();
  /** Listed users another feed (or none) owns: this feed adopts them. */
  private readonly adopt: number[] = [];
  /** Listed users with a missing count to reset. */
  private readonly reset: number[] = [];
  /** Listed users the feed owns that are active: when they are all its active users, nobody is absent. */
  private listedOwned = 0;
  /** Found by findAbsent: deactivated by settle. */
  deactivate: AbsentUser[] = [];
  /** Found by findAbsent: absent, not yet often enough; their count goes up. */
  stillMissing: AbsentUser[] = [];

  constructor(readonly settings: MirrorSettings) {}

  /**
   * Notes a prepared batch, before it is counted for the guards: reactivates the users the feed
   * deactivated for absence that it lists again without an Active cell.
   */
  noteBatch(batch: PreparedBatch): void {
    const { feed } = this.settings;
    for (const failed of batch.failed) if (failed.username !== '') this.failedPresent.set(failed.username, failed.row);
    for (const intent of batch.intents) {
      const stored = batch.stored.get(intent.username);
      if (!stored) continue;
      if (stored.feed === feed && stored.active) this.listedOwned++;
      if (stored.feed !== feed) this.adopt.push(stored.id);
      if ((stored.missingCount ?? 0) > 0) this.reset.push(stored.id);
      if (stored.deactivatedReason === 'absent' && !stored.active && intent.active === undefined) intent.active = true;
    }
  }

  /** The feed's active users the file left out (`seen`: the usernames of its valid rows). */
  async findAbsent(knex: Knex, seen: SeenUsernames): Promise<void> {
    const { feed, missingBeforeDeactivate, isProtected } = this.settings;
    this.deactivate = [];
    this.stillMissing = [];
    // The daily case, a roster with nobody gone: the feed has exactly the active users the file
    // listed (usernames are unique in a file), and one count says so. Failed rows' users were not
    // looked up, so with any of them the feed is walked.
    if (this.failedPresent.size === 0) {
      const [row] = (await knex('users').where({ feed, active: true }).count({ n: '*' })) as Array<{
        n: number | string;
      }>;
      if (Number(row?.n) === this.listedOwned) return;
    }
    // One streamed query, not pages: MariaDB answers `id > ? ORDER BY id LIMIT n` on (feed, active)
    // with a ref scan from the start of the feed each time (measured: 1M users, +12–20 s).
    const users = knex('users').where({ feed, active: true }).select('id', 'username', 'missing_count').stream();
    for await (const user of users as AsyncIterable<{
      id: number | string;
      username: string;
      missing_count: number | string;
    }>) {
      const { username } = user;
      if (seen.get(username) !== undefined || this.failedPresent.get(username) !== undefined) continue;
      if (isProtected?.(username)) continue;
      const absent = { id: Number(user.id), username, missing: Number(user.missing_count) + 1 };
      (absent.missing >= missingBeforeDeactivate ? this.deactivate : this.stillMissing).push(absent);
    }
  }

  /**
   * Writes the feed's part of the import in the closing transaction: adoptions, reset and raised
   * missing counts, and the deactivations with their `user.deactivated` events. Each statement is
   * conditional on what was planned; a user changed since (reactivated by hand, taken by another
   * feed) fails the close as DIRECTORY_CHANGED_DURING_IMPORT, rolling all of it back.
   */
  async settle(trx: Knex, context: { importId: number | null; actor: string; now: string }): Promise<AuditEvent[]> {
    const { feed } = this.settings;
    for (const ids of chunk(this.adopt, IDS_PER_STATEMENT)) await trx('users').whereIn('id', ids).update({ feed });
    for (const ids of chunk(this.reset, IDS_PER_STATEMENT))
      await trx('users').whereIn('id', ids).update({ missing_count: 0 });
    for (const users of chunk(this.stillMissing, IDS_PER_STATEMENT)) {
      const changed = await trx('users')
        .whereIn(
          'id',
          users.map((u) => u.id),
        )
        .where({ feed, active: true })
        .increment('missing_count', 1);
      if (Number(changed) !== users.length) throw drifted();
    }
    const events: AuditEvent[] = [];
    for (const users of chunk(this.deactivate, IDS_PER_STATEMENT)) {
      const changed = await trx('users')
        .whereIn(
          'id',
          users.map((u) => u.id),
        )
        .where({ feed, active: true })
        .update({
          active: false,
          deactivated_reason: 'absent',
          missing_count: trx.raw('missing_count + 1'),
          updated_at: context.now,
          last_import_id: context.importId,
        });
      if (Number(changed) !== users.length) throw drifted();
      for (const user of users)
        events.push({
          at: context.now,
          importId: context.importId,
          row: null,
          username: user.username,
          action: 'user.deactivated',
          changes: { active: { old: true, new: false }, reason: 'absent', feed, missing: user.missing },
          actor: context.actor,
        });
    }
    return events;
  }
}

const drifted = () =>
  fail('DIRECTORY_CHANGED_DURING_IMPORT', {
    message:
      'A user this mirror import was about to deactivate (or count as missing) was changed by someone else after the import planned it; nothing of the roster step was written. The file is planned again against the directory as it is now.',
  });
