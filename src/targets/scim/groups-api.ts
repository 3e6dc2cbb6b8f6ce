/**
 * Roles and groups as SCIM groups (RFC 7643 §4.2): each is created at the target the first time a
 * user is put in it (displayName = its name, with targets[].rolePrefix for roles; externalId =
 * `role:<key>` / `group:<key>`), or linked by displayName when the target has it already. Members
 * are added and removed with PATCH (RFC 7644 §3.5.2), never by replacing the whole list: other
 * members the product's admins added stay.
 */
import type { ScimClient } from './client.js';
import { refused } from './client.js';
import { GROUP_SCHEMA, patchBody, quoted, type PatchOperation } from './resource.js';
import { idOf } from './users-api.js';

export async function createGroup(client: ScimClient, displayName: string, externalId: string): Promise<string> {
  const response = await client.request('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName, externalId });
  if (response.status === 409) {
    const path = `/Groups?filter=${encodeURIComponent(`displayName eq ${quoted(displayName)}`)}&attributes=id,displayName`;
    const found = await client.request('GET', path);
    const resources =
      (found.body as { Resources?: Array<{ id?: unknown; displayName?: unknown }> } | null)?.Resources ?? [];
    // Only the group of that very name: a target that ignores the filter lists every group.
    const match = resources.find(
      (r) => typeof r.displayName === 'string' && r.displayName.toLowerCase() === displayName.toLowerCase(),
    );
    if (found.status < 300 && typeof match?.id === 'string') return match.id;
    throw refused('POST', '/Groups', response);
  }
  if (response.status >= 300) throw refused('POST', '/Groups', response);
  return idOf(response.body, 'POST /Groups');
}

/**
 * Adds and removes members in one PATCH; resolves to false when the group is gone at the target
 * (404), for the caller to create it again. Throws DeliveryFault.
 */
export async function patchMembers(
  client: ScimClient,
  groupId: string,
  add: readonly string[],
  remove: readonly string[],
): Promise<boolean> {
  const path = `/Groups/${encodeURIComponent(groupId)}`;
  const ops: PatchOperation[] = [
    ...(add.length > 0 ? [{ op: 'add' as const, path: 'members', value: add.map((value) => ({ value })) }] : []),
    ...remove.map((id) => ({ op: 'remove' as const, path: `members[value eq ${quoted(id)}]` })),
  ];
  if (ops.length === 0) return true;
  const response = await client.request('PATCH', path, patchBody(ops));
  if (response.status === 404) return false;
  if (response.status >= 300) throw refused('PATCH', path, response);
  return true;
}
