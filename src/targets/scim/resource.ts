/**
 * A directory user as a SCIM 2.0 User (RFC 7643 §4.1) and the changes between two of them as PATCH
 * operations (RFC 7644 §3.5.2). What is sent: userName and externalId (the username),
 * name.formatted, one work e-mail, one work phone number, active. Never a password: the directory
 * holds only its hash, and a product that needs one sets it through its own login flow.
 */
import { membershipId, type DirectoryUser } from '../../db/repositories/directory-users.js';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

/** What was delivered of a user: its attributes and its roles and groups (`role:<key>`, sorted). */
export interface UserSnapshot {
  name: string | null;
  email: string | null;
  phone: string | null;
  active: boolean;
  memberOf: string[];
}

export const snapshotOf = (user: DirectoryUser): UserSnapshot => ({
  name: user.name,
  email: user.email,
  phone: user.phone,
  active: user.active,
  memberOf: user.memberships.map(membershipId),
});

export function parseSnapshot(text: string | null): UserSnapshot | null {
  if (text === null) return null;
  try {
    return JSON.parse(text) as UserSnapshot;
  } catch {
    return null; // an unreadable snapshot is treated as unknown: everything is sent again
  }
}

export const sameAttributes = (a: UserSnapshot, b: UserSnapshot): boolean =>
  a.name === b.name && a.email === b.email && a.phone === b.phone && a.active === b.active;

export function scimUser(username: string, user: UserSnapshot): Record<string, unknown> {
  return {
    schemas: [USER_SCHEMA],
    userName: username,
    externalId: username,
    ...(user.name === null ? {} : { name: { formatted: user.name }, displayName: user.name }),
    ...(user.email === null ? {} : { emails: [{ value: user.email, type: 'work', primary: true }] }),
    ...(user.phone === null ? {} : { phoneNumbers: [{ value: user.phone, type: 'work' }] }),
    active: user.active,
  };
}

export interface PatchOperation {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

/** The operations that turn `before` into `after` (every attribute when `before` is unknown). */
export function userPatch(username: string, before: UserSnapshot | null, after: UserSnapshot): PatchOperation[] {
  const ops: PatchOperation[] = [];
  if (before === null) ops.push({ op: 'replace', path: 'externalId', value: username });
  const changed = <K extends keyof UserSnapshot>(key: K) => before === null || before[key] !== after[key];
  if (changed('name')) {
    if (after.name === null) {
      ops.push({ op: 'remove', path: 'name.formatted' });
      ops.push({ op: 'remove', path: 'displayName' });
    } else {
      ops.push({ op: 'replace', path: 'name.formatted', value: after.name });
      ops.push({ op: 'replace', path: 'displayName', value: after.name });
    }
  }
  if (changed('email'))
    ops.push(
      after.email === null
        ? { op: 'remove', path: 'emails' }
        : { op: 'replace', path: 'emails', value: [{ value: after.email, type: 'work', primary: true }] },
    );
  if (changed('phone'))
    ops.push(
      after.phone === null
        ? { op: 'remove', path: 'phoneNumbers' }
        : { op: 'replace', path: 'phoneNumbers', value: [{ value: after.phone, type: 'work' }] },
    );
  if (changed('active')) ops.push({ op: 'replace', path: 'active', value: after.active });
  return ops;
}

export const patchBody = (ops: readonly PatchOperation[]) => ({ schemas: [PATCH_SCHEMA], Operations: ops });

/** A user as a target holds it, read back into a snapshot (memberships are read from /Groups). */
export function snapshotFromScim(resource: Record<string, unknown>): UserSnapshot {
  const name = resource.name as { formatted?: unknown } | undefined;
  const first = (list: unknown): string | null => {
    if (!Array.isArray(list) || list.length === 0) return null;
    const primary = (list as Array<{ value?: unknown; primary?: unknown }>).find((e) => e.primary === true) ?? list[0];
    return typeof primary?.value === 'string' ? primary.value : null;
  };
  return {
    name: typeof name?.formatted === 'string' ? name.formatted : null,
    email: first(resource.emails),
    phone: first(resource.phoneNumbers),
    active: resource.active !== false,
    memberOf: [],
  };
}

/** A filter value in double quotes (RFC 7644 §3.4.2.2): backslashes and quotes escaped. */
export const quoted = (value: string): string => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
