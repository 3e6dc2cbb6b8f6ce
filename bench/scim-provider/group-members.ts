/**
 * PATCH /Groups/{id} that only adds or removes members, applied to the store directly — as
 * production service providers do. Through SCIMMY, every PATCH reads the whole group, coerces its
 * whole member list, writes it back and returns it: a cost that grows with the group, which made a
 * 100,000-user first load into groups of 50,000 take half an hour in the provider alone. Anything
 * else (another path, a replace of members, a malformed body) goes on to SCIMMY unchanged, which
 * validates and answers it.
 *
 * Answers 204 No Content (RFC 7644 §3.5.2: the service provider may return no body), 400 for a
 * member that is no user or group, 404 for an unknown group; the auth check is the same as SCIMMY's.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ScimAuth } from './auth.js';
import { rawBody } from './request-log.js';
import { scimError } from './scim-error.js';
import type { ScimStore } from './store.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const REMOVE_ONE = /^members\[value eq "((?:[^"\\]|\\.)*)"\]$/i;

interface MemberOps {
  add: string[];
  remove: string[];
}

/** The member changes of a PatchOp body, or undefined when it holds anything else. */
export function memberOps(body: unknown): MemberOps | undefined {
  const patch = body as { schemas?: unknown; Operations?: unknown } | null;
  if (!patch || !Array.isArray(patch.schemas) || !patch.schemas.includes(PATCH_OP)) return undefined;
  if (!Array.isArray(patch.Operations) || patch.Operations.length === 0) return undefined;
  const ops: MemberOps = { add: [], remove: [] };
  for (const op of patch.Operations as Array<{ op?: unknown; path?: unknown; value?: unknown }>) {
    const name = typeof op.op === 'string' ? op.op.toLowerCase() : '';
    const path = typeof op.path === 'string' ? op.path : '';
    if (name === 'add' && path.toLowerCase() === 'members' && Array.isArray(op.value)) {
      for (const member of op.value as Array<{ value?: unknown }>) {
        if (typeof member?.value !== 'string') return undefined;
        ops.add.push(member.value);
      }
    } else if (name === 'remove' && REMOVE_ONE.test(path)) {
      ops.remove.push((REMOVE_ONE.exec(path)![1] as string).replace(/\\(.)/g, '$1'));
    } else return undefined;
  }
  return ops;
}

export function groupMembersPatch(store: ScimStore, auth: ScimAuth): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const match = /^\/Groups\/([^/?]+)$/.exec(req.path);
    if (req.method !== 'PATCH' || !match) return next();
    let body: unknown;
    try {
      body = JSON.parse(rawBody(res));
    } catch {
      return next(); // SCIMMY says what is wrong with it
    }
    const ops = memberOps(body);
    if (!ops) return next();
    if (!auth.accepts(req)) return next(); // SCIMMY answers the 401 with its headers
    const group = store.group(decodeURIComponent(match[1] as string));
    if (!group) return scimError(res, 404, undefined, `Resource ${match[1]} not found`);
    const unknown = ops.add.find((id) => !store.user(id) && !store.group(id));
    if (unknown !== undefined) return scimError(res, 400, 'invalidValue', `Member '${unknown}' is no user or group`);
    const present = new Set(group.members.map((m) => m.value));
    const removed = new Set(ops.remove);
    group.members = group.members.filter((m) => !removed.has(m.value));
    for (const id of ops.add)
      if (!present.has(id) || removed.has(id)) {
        group.members.push({ value: id });
        present.add(id);
      }
    group.meta.lastModified = new Date().toISOString();
    res.status(204).end();
  };
}
