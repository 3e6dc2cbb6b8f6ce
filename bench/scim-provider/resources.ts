/**
 * SCIMMY's User and Group resource types, declared with ingress/egress/degress handlers over a
 * ScimStore. SCIMMY parses and validates what arrives (schema coercion, filters, PatchOp, Bulk)
 * and formats what leaves; these handlers only store and find.
 *
 * SCIMMY.Resources is process-global: declaring again replaces the handlers, so the provider that
 * starts last is the one SCIMMY serves (index.ts allows one running provider at a time).
 *
 * PATCH reaches ingress as a whole resource: SCIMMY reads it through egress, applies the
 * operations and writes the result through ingress with `resource.id` set, exactly like PUT.
 */
import SCIMMY from 'scimmy';
import { pageFor } from './paging.js';
import type { GroupData, ScimStore, UserData } from './store.js';
import type { ScimGroupMember } from './types.js';

type Filter = InstanceType<typeof SCIMMY.Types.Filter>;
type UserResource = InstanceType<typeof SCIMMY.Resources.User>;
type GroupResource = InstanceType<typeof SCIMMY.Resources.Group>;

/** Declares User and Group to SCIMMY with handlers that read and write `store`. */
export function declareResources(store: ScimStore, maxResults: number): void {
  SCIMMY.Resources.declare(SCIMMY.Resources.User, {
    egress: (resource: UserResource) => {
      if (resource.id) return store.user(resource.id) ?? notFound(resource.id);
      return pageFor(resource, findUsers(store, resource.filter), maxResults);
    },
    ingress: (resource: UserResource, instance: InstanceType<typeof SCIMMY.Schemas.User>) => {
      const data = plain(instance) as UserData;
      return resource.id ? store.replaceUser(resource.id, data) : store.createUser(data);
    },
    degress: (resource: UserResource) => store.deleteUser(String(resource.id)),
  });
  SCIMMY.Resources.declare(SCIMMY.Resources.Group, {
    egress: (resource: GroupResource) => {
      if (resource.id) return store.group(resource.id) ?? notFound(resource.id);
      const groups = store.allGroups();
      return pageFor(resource, resource.filter ? resource.filter.match(groups) : groups, maxResults);
    },
    ingress: (resource: GroupResource, instance: InstanceType<typeof SCIMMY.Schemas.Group>) => {
      const { members, ...rest } = plain(instance) as Omit<GroupData, 'members'> & { members?: ScimGroupMember[] };
      const data: GroupData = { ...rest, members: members ?? [] };
      return resource.id ? store.replaceGroup(resource.id, data) : store.createGroup(data);
    },
    degress: (resource: GroupResource) => store.deleteGroup(String(resource.id)),
  });
}

/**
 * The users a filter selects. A single `eq` on userName, externalId or id (what a provisioning
 * client sends to find one user) is a Map lookup; anything else is SCIMMY's own Filter.match over
 * every user. userName eq ignores case, as RFC 7643 declares userName caseExact false (SCIMMY's
 * match would compare exactly).
 */
function findUsers(store: ScimStore, filter: Filter | undefined) {
  if (!filter) return store.allUsers();
  const lookup = singleEquality(filter);
  if (lookup) {
    const found =
      lookup.attribute === 'username'
        ? store.userByUserName(lookup.value)
        : lookup.attribute === 'externalid'
          ? store.userByExternalId(lookup.value)
          : store.user(lookup.value);
    return found ? [found] : [];
  }
  return filter.match(store.allUsers());
}

/** `{attribute, value}` when the filter is exactly `<userName|externalId|id> eq "<string>"`. */
function singleEquality(filter: Filter): { attribute: string; value: string } | undefined {
  if (filter.length !== 1) return undefined;
  const entries = Object.entries(filter[0] as object);
  if (entries.length !== 1) return undefined;
  const [attribute, expression] = entries[0] as [string, unknown];
  if (!['username', 'externalid', 'id'].includes(attribute.toLowerCase())) return undefined;
  if (!Array.isArray(expression) || expression.length !== 2) return undefined;
  const [comparator, value] = expression as [unknown, unknown];
  if (typeof comparator !== 'string' || comparator.toLowerCase() !== 'eq' || typeof value !== 'string')
    return undefined;
  return { attribute: attribute.toLowerCase(), value };
}

/**
 * The validated instance as plain JSON data. JSON drops what the schema never returns (password)
 * and the shadow attributes schemas/meta; id and meta are the store's to set.
 */
export function plain(instance: object): Record<string, unknown> {
  const {
    schemas: _schemas,
    meta: _meta,
    id: _id,
    ...data
  } = JSON.parse(JSON.stringify(instance)) as Record<string, unknown>;
  return data;
}

function notFound(id: string): never {
  throw new SCIMMY.Types.Error(404, '', `Resource ${id} not found`);
}
