/**
 * What `import` and `imports revert` run the pipeline with (loaded when one of them runs: the
 * password hasher brings argon2's native module with it).
 */
import { commandLineActor } from '../app/actor.js';
import { createAuditTrail } from '../pipeline/audit.js';
import type { PipelineDeps } from '../pipeline/import-request.js';
import { createPasswordHasher } from '../pipeline/passwords.js';
import type { CommandContext } from './context.js';
import { openForChanges } from './open-for-changes.js';

/** A dry run changes nothing, the configured catalogue included (apply/ counts it as existing). */
export async function openPipeline(
  context: CommandContext,
  dryRun: boolean,
): Promise<{ deps: PipelineDeps; actor: string }> {
  const { db, trail, actor } = dryRun
    ? await context.database().then((opened) => ({
        db: opened,
        trail: createAuditTrail(context.auditLog(), opened),
        actor: commandLineActor(),
      }))
    : await openForChanges(context);
  const hasher = createPasswordHasher(context.config.import);
  return { deps: { config: context.config, db, logger: context.logger, audit: trail, hasher }, actor };
}
