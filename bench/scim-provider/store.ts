/**
 * In-memory storage behind the SCIMMY handlers. Lookups by id, userName and externalId are Map
 * hits, so 100,000 users cost no more per request than ten: only a filter SCIMMY has to evaluate
 * (anything but a single `eq` on those attributes) scans every user.
 *
 * userName is unique case-insensitively, as RFC 7643 §4.1.1 declares it (caseExact false) and as
 * hosted providers behave: `Jose` and `jose` conflict with 409 uniqueness.
 */
import { randomUUID } from 'node:crypto';
import SCIMMY from 'scimmy';
import type { ScimGroupMember, ScimGroupRecord, ScimUserFields, ScimUserRecord } from './types.js';

/** What a client sets; id and meta are the store's. */
export type UserData = ScimUserFields;
export type GroupData = Omit<ScimGroupRecord, 'id' | 'meta'>;

const key = (userName: string): string => userName.toLowerCase();

export class ScimStore {
  private readonly users = new Map<string, ScimUserRecord>();
  private readonly idByUserName = new Map<string, string>();
  private readonly idByExternalId = new Map<string, string>();
  private readonly groups = new Map<string, ScimGroupRecord>();

  clear(): void {
    this.users.clear();
    this.idByUserName.clear();
    this.idByExternalId.clear();
    this.groups.clear();
  }

  user(id: string): ScimUserRecord | undefined {
    return this.users.get(id);
  }

  userByUserName(userName: string): ScimUserRecord | undefined {
    const id = this.idByUserName.get(key(userName));
    return id === undefined ? undefined : this.users.get(id);
  }

  userByExternalId(externalId: string): ScimUserRecord | undefined {
    const id = this.idByExternalId.get(externalId);
    return id === undefined ? undefined : this.users.get(id);
  }

  /** Every user in creation order (Map order), which is the order paging walks. */
  allUsers(): ScimUserRecord[] {
    return [...this.users.values()];
  }

  createUser(data: UserData, id: string = randomUUID()): ScimUserRecord {
    if (this.users.has(id)) throw new SCIMMY.Types.Error(409, 'uniqueness', `id '${id}' is already taken`);
    this.assertUserNameFree(data.userName, undefined);
    const now = new Date().toISOString();
    const record: ScimUserRecord = { ...data, id, meta: { resourceType: 'User', created: now, lastModified: now } };
    this.users.set(id, record);
    this.index(record);
    return record;
  }

  /** PUT semantics (PATCH arrives here too, as SCIMMY's patched whole resource): every attribute replaced. */
  replaceUser(id: string, data: UserData): ScimUserRecord {
    const old = this.users.get(id);
    if (!old) throw notFound(id);
    this.assertUserNameFree(data.userName, id);
    const record: ScimUserRecord = {
      ...data,
      id,
      meta: { ...old.meta, lastModified: new Date().toISOString() },
    };
    this.unindex(old);
    this.users.set(id, record);
    this.index(record);
    return record;
  }

  /** Deletes the user and takes it out of every group, as a directory does. */
  deleteUser(id: string): void {
    const old = this.users.get(id);
    if (!old) throw notFound(id);
    this.unindex(old);
    this.users.delete(id);
    for (const group of this.groups.values()) group.members = group.members.filter((m) => m.value !== id);
  }

  group(id: string): ScimGroupRecord | undefined {
    return this.groups.get(id);
  }

  allGroups(): ScimGroupRecord[] {
    return [...this.groups.values()];
  }

  createGroup(data: GroupData): ScimGroupRecord {
    this.assertMembersExist(data.members);
    const now = new Date().toISOString();
    const record: ScimGroupRecord = {
      ...data,
      id: randomUUID(),
      meta: { resourceType: 'Group', created: now, lastModified: now },
    };
    this.groups.set(record.id, record);
    return record;
  }

  replaceGroup(id: string, data: GroupData): ScimGroupRecord {
    const old = this.groups.get(id);
    if (!old) throw notFound(id);
    this.assertMembersExist(data.members);
    const record: ScimGroupRecord = { ...data, id, meta: { ...old.meta, lastModified: new Date().toISOString() } };
    this.groups.set(id, record);
    return record;
  }

  deleteGroup(id: string): void {
    if (!this.groups.delete(id)) throw notFound(id);
  }

  private assertUserNameFree(userName: string, ownId: string | undefined): void {
    const holder = this.idByUserName.get(key(userName));
    if (holder !== undefined && holder !== ownId)
      throw new SCIMMY.Types.Error(409, 'uniqueness', `userName '${userName}' is already taken by user ${holder}`);
  }

  /** A member must be a stored user or group, so a client that sends a wrong id hears about it. */
  private assertMembersExist(members: ScimGroupMember[]): void {
    const unknown = members.find((m) => !this.users.has(m.value) && !this.groups.has(m.value));
    if (unknown) throw new SCIMMY.Types.Error(400, 'invalidValue', `Member '${unknown.value}' is no user or group`);
  }

  private index(record: ScimUserRecord): void {
    this.idByUserName.set(key(record.userName), record.id);
    if (record.externalId !== undefined) this.idByExternalId.set(record.externalId, record.id);
  }

  private unindex(record: ScimUserRecord): void {
    this.idByUserName.delete(key(record.userName));
    if (record.externalId !== undefined && this.idByExternalId.get(record.externalId) === record.id)
      this.idByExternalId.delete(record.externalId);
  }
}

function notFound(id: string): InstanceType<typeof SCIMMY.Types.Error> {
  return new SCIMMY.Types.Error(404, '', `Resource ${id} not found`);
}
