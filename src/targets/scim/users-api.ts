/**
 * Writing one user to a target: POST for a user it does not have, PATCH for one it has. A 409 on
 * create means the target has the userName already (made by hand, or by a try whose answer was
 * lost): that user is found by `userName eq` and linked, then brought to the directory's values. A
 * 404 on PATCH means it was deleted there: it is created again.
 */
import type { ScimClient } from './client.js';
import { refused } from './client.js';
import { DeliveryFault } from './fault.js';
import { patchBody, quoted, scimUser, userPatch, type UserSnapshot } from './resource.js';

export interface UserWrite {
  username: string;
  remoteId: string | null;
  /** What the target is known to hold; null when unknown (everything is sent). */
  before: UserSnapshot | null;
  after: UserSnapshot;
}

/**
 * What a write did: the target's id for the user, and whether the account there is new to usersync
 * (created again after a 404, or linked after a 409), whose groups are then not known.
 */
export interface Written {
  id: string;
  fresh: boolean;
}

/** Writes the user. Throws DeliveryFault. */
export async function writeUser(client: ScimClient, write: UserWrite): Promise<Written> {
  if (write.remoteId === null) return createUser(client, write);
  const ops = userPatch(write.username, write.before, write.after);
  if (ops.length === 0) return { id: write.remoteId, fresh: false };
  const path = `/Users/${encodeURIComponent(write.remoteId)}`;
  const response = await client.request('PATCH', path, patchBody(ops));
  if (response.status === 404)
    return { ...(await createUser(client, { ...write, remoteId: null, before: null })), fresh: true };
  if (response.status >= 300) throw refused('PATCH', path, response);
  return { id: write.remoteId, fresh: false };
}

async function createUser(client: ScimClient, write: UserWrite): Promise<Written> {
  const response = await client.request('POST', '/Users', scimUser(write.username, write.after));
  if (response.status === 409) {
    const id = await findUserId(client, write.username);
    if (id === null) throw refused('POST', '/Users', response);
    // What the target holds is not known: every attribute is set.
    const linked = await writeUser(client, { ...write, remoteId: id, before: null });
    return { id: linked.id, fresh: true };
  }
  if (response.status >= 300) throw refused('POST', '/Users', response);
  return { id: idOf(response.body, 'POST /Users'), fresh: false };
}

export async function findUserId(client: ScimClient, username: string): Promise<string | null> {
  const path = `/Users?filter=${encodeURIComponent(`userName eq ${quoted(username)}`)}`;
  const response = await client.request('GET', path);
  if (response.status >= 300) throw refused('GET', path, response);
  const resources = (response.body as { Resources?: Array<{ id?: unknown; userName?: unknown }> })?.Resources ?? [];
  // userName is not case-exact (RFC 7643 §4.1.1); anything else is not this user, whatever the
  // target answered (one that ignores the filter lists every user).
  const match = resources.find(
    (r) => typeof r.userName === 'string' && r.userName.toLowerCase() === username.toLowerCase(),
  );
  return typeof match?.id === 'string' ? match.id : null;
}

export function idOf(body: unknown, what: string): string {
  const id = (body as { id?: unknown } | null)?.id;
  if (typeof id === 'string' && id !== '') return id;
  throw new DeliveryFault('refused', `${what}: the answer has no id`);
}
