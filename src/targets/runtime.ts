/**
 * One configured target while the process runs: its HTTP client (and token), what its
 * /ServiceProviderConfig says about Bulk (read once, again after an hour), and its SCIM groups.
 */
import type { Knex } from 'knex';
import type { TargetConfig } from '../config/targets-schema.js';
import { targetGroups, type TargetGroup } from '../db/repositories/targets.js';
import { bulkLimits, type BulkLimits } from './scim/bulk.js';
import { createScimClient, type ScimClient } from './scim/client.js';

export interface TargetRuntime {
  readonly config: TargetConfig;
  readonly client: ScimClient;
  /** SCIM Bulk's limits when the target offers it and targets[].bulk allows it, else null. */
  bulkLimits(): Promise<BulkLimits | null>;
  /** The target's groups by `role:<key>` / `group:<key>`, read from the database once. */
  groups(): Promise<Map<string, TargetGroup>>;
}

const DISCOVERY_TTL_MS = 3_600_000;

export function createTargetRuntime(
  knex: Knex,
  config: TargetConfig,
  client: ScimClient = createScimClient(config),
): TargetRuntime {
  let discovered: { limits: BulkLimits | null; at: number } | undefined;
  let groups: Promise<Map<string, TargetGroup>> | undefined;
  return {
    config,
    client,
    async bulkLimits() {
      if (!config.bulk) return null;
      if (discovered === undefined || Date.now() - discovered.at > DISCOVERY_TTL_MS)
        discovered = { limits: await bulkLimits(client), at: Date.now() };
      return discovered.limits;
    },
    groups() {
      groups ??= targetGroups(knex, config.name).catch((error: unknown) => {
        groups = undefined;
        throw error;
      });
      return groups;
    },
  };
}
