/**
 * The configuration of SPEC §8–9: `safety` (plan before write, guards, protected accounts) and
 * `feeds`. Part of the schema (schema.ts, the only place keys are spelled), kept apart for size.
 */
import { z } from 'zod';

/** A guard's limit: the most a plan may count before the guard trips; -1 disables it (SPEC §9). */
const limit = (fallback: number, what: string) =>
  z.number().int().min(-1).default(fallback).describe(`${what}; -1 disables the guard.`);

const LIMIT_DESCRIPTIONS = {
  deactivate: 'Most existing active users one file may deactivate (Active = No, or absent from a mirror file)',
  mfaBypass: 'Most existing users whose Ignore MFA one file may turn from No to Yes',
  privilegedGrant: 'Most users one file may give a role or group listed in safety.privileged',
  privilegedRevoke: 'Most existing users one file may take such a role or group from',
  passwordReset: 'Most existing users whose password one file may change',
  rowDropPercent: 'Mirror feeds: most percent fewer data rows than the last applied file of the feed',
} as const;

const limits = z
  .strictObject({
    deactivate: limit(50, LIMIT_DESCRIPTIONS.deactivate),
    mfaBypass: limit(10, LIMIT_DESCRIPTIONS.mfaBypass),
    privilegedGrant: limit(5, LIMIT_DESCRIPTIONS.privilegedGrant),
    privilegedRevoke: limit(10, LIMIT_DESCRIPTIONS.privilegedRevoke),
    passwordReset: limit(100, LIMIT_DESCRIPTIONS.passwordReset),
    rowDropPercent: limit(20, LIMIT_DESCRIPTIONS.rowDropPercent),
  })
  .prefault({})
  .describe('Guards: a file whose plan counts more than a limit is held for approval, nothing written.');

/** A feed's own limits: only the keys it sets replace safety.limits. */
const feedLimits = z
  .strictObject(
    Object.fromEntries(
      Object.entries(LIMIT_DESCRIPTIONS).map(([key, what]) => [
        key,
        z.number().int().min(-1).optional().describe(what),
      ]),
    ) as { [K in keyof typeof LIMIT_DESCRIPTIONS]: z.ZodOptional<z.ZodNumber> },
  )
  .default({})
  .describe('This feed’s limits, replacing those of safety.limits it names.');

export const safety = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe('Plan every import before its first write and hold it when a guard trips; false turns both off.'),
    limits,
    privileged: z
      .strictObject({
        roles: z.array(z.string().min(1)).default([]).describe('Privileged roles.'),
        groups: z.array(z.string().min(1)).default([]).describe('Privileged user groups.'),
      })
      .prefault({})
      .describe('Roles and groups whose grants and removals the privilegedGrant / privilegedRevoke guards count.'),
    protectedUsers: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'Glob patterns on normalised usernames (e.g. "breakglass-*"): rows for them fail with ROW_PROTECTED_USER.',
      ),
    protectedRoles: z
      .array(z.string().min(1))
      .default([])
      .describe('Roles or groups no import may grant or remove: such a row fails with ROW_PROTECTED_ROLE.'),
    approvers: z
      .array(z.email())
      .default([])
      .describe(
        'Addresses told about every held file, with the tripped guards and the commands that decide it (SPEC §11).',
      ),
  })
  .prefault({})
  .describe('Plan before write, guards, holds and protected accounts (SPEC §9).');

/** The feed every file no configured feed matches belongs to (SPEC §8). */
export const BUILT_IN_FEED = 'inbox';

const feed = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[\w.-]+$/, 'letters, digits, . _ - only')
    .refine(
      (name) => name.toLowerCase() !== BUILT_IN_FEED,
      `"${BUILT_IN_FEED}" is the built-in feed; choose another name`,
    )
    .describe('The feed’s name: recorded on its imports, given to `usersync import --feed`.'),
  match: z
    .string()
    .min(1)
    .describe('Glob on the file name, case-insensitive (e.g. "workday*.xlsx"); the first matching feed owns a file.'),
  mode: z
    .enum(['delta', 'mirror'])
    .default('delta')
    .describe(
      '"delta": rows create and update, absent users are untouched; "mirror": each file is the feed’s complete roster, and the feed’s users it leaves out are deactivated (SPEC §8).',
    ),
  missingBeforeDeactivate: z
    .number()
    .int()
    .min(1)
    .default(1)
    .describe('Mirror feeds: how many applied files in a row a user must be missing from before it is deactivated.'),
  limits: feedLimits,
  notify: z
    .array(z.email())
    .default([])
    .describe('Addresses told about this feed’s files (SPEC §11), besides notify.to.'),
});

export const feeds = z
  .array(feed)
  .default([])
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((entry, i) => {
      const key = entry.name.toLowerCase();
      if (seen.has(key))
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `feed "${entry.name}" is defined twice` });
      seen.add(key);
    });
  })
  .describe(
    'Named streams of files from HR systems: [{name, match, mode, missingBeforeDeactivate, limits, notify}] (SPEC §8).',
  );
