/**
 * Reading what a target holds, for `targets sync` (SPEC §12): every user, a page at a time
 * (RFC 7644 §3.4.2.4), and every group with its members, so that each user's roles and groups as
 * the target sees them can be compared with the directory's.
 */
import { refused, type ScimClient } from './client.js';
import { snapshotFromScim, type UserSnapshot } from './resource.js';

export interface RemoteUser {
  id: string;
  userName: string;
  snapshot: UserSnapshot;
}

export interface RemoteGroup {
  id: string;
  displayName: string;
  externalId: string | null;
  members: string[];
}

const PAGE = 500;

/** Every resource of `/Users` or `/Groups`, page by page. */
async function* pages(client: ScimClient, resource: '/Users' | '/Groups'): AsyncGenerator<Record<string, unknown>> {
  let startIndex = 1;
  for (;;) {
    const path = `${resource}?startIndex=${startIndex}&count=${PAGE}`;
    const response = await client.request('GET', path);
    if (response.status >= 300) throw refused('GET', path, response);
    const body = response.body as { Resources?: unknown[]; totalResults?: unknown; itemsPerPage?: unknown } | null;
    const resources = (body?.Resources ?? []) as Array<Record<string, unknown>>;
    for (const r of resources) yield r;
    startIndex += resources.length;
    const total = typeof body?.totalResults === 'number' ? body.totalResults : 0;
    if (resources.length === 0 || startIndex > total) return;
  }
}

/** Every user of the target, by userName in lower case (it is not case-exact, RFC 7643 §4.1.1). */
export async function readRemoteUsers(client: ScimClient): Promise<Map<string, RemoteUser>> {
  const users = new Map<string, RemoteUser>();
  for await (const r of pages(client, '/Users')) {
    if (typeof r.id !== 'string' || typeof r.userName !== 'string') continue;
    users.set(r.userName.toLowerCase(), { id: r.id, userName: r.userName, snapshot: snapshotFromScim(r) });
  }
  return users;
}

export async function readRemoteGroups(client: ScimClient): Promise<RemoteGroup[]> {
  const groups: RemoteGroup[] = [];
  for await (const r of pages(client, '/Groups')) {
    if (typeof r.id !== 'string') continue;
    const members = Array.isArray(r.members)
      ? (r.members as Array<{ value?: unknown }>).flatMap((m) => (typeof m.value === 'string' ? [m.value] : []))
      : [];
    groups.push({
      id: r.id,
      displayName: typeof r.displayName === 'string' ? r.displayName : '',
      externalId: typeof r.externalId === 'string' ? r.externalId : null,
      members,
    });
  }
  return groups;
}
