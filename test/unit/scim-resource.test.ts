import { describe, expect, it } from 'vitest';
import { bulkRequests } from '../../src/targets/scim/bulk.js';
import { errorDetail, retryAfterMs } from '../../src/targets/scim/fault.js';
import { quoted, scimUser, snapshotFromScim, userPatch, type UserSnapshot } from '../../src/targets/scim/resource.js';
import { retryWait } from '../../src/targets/dispatcher.js';

const ann: UserSnapshot = {
  name: 'Ann Lee',
  email: 'ann@example.com',
  phone: '+1 555 0100',
  active: true,
  memberOf: ['group:ops', 'role:admin'],
};

describe('SCIM resources', () => {
  it('sends the attributes of SPEC §12 and nothing else', () => {
    expect(scimUser('ann', ann)).toEqual({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'ann',
      externalId: 'ann',
      name: { formatted: 'Ann Lee' },
      displayName: 'Ann Lee',
      emails: [{ value: 'ann@example.com', type: 'work', primary: true }],
      phoneNumbers: [{ value: '+1 555 0100', type: 'work' }],
      active: true,
    });
    const bare = scimUser('bob', { name: null, email: null, phone: null, active: false, memberOf: [] });
    expect(Object.keys(bare).sort()).toEqual(['active', 'externalId', 'schemas', 'userName']);
  });

  it('patches only what changed, and removes what was emptied', () => {
    expect(userPatch('ann', ann, { ...ann, active: false })).toEqual([{ op: 'replace', path: 'active', value: false }]);
    expect(userPatch('ann', ann, { ...ann, email: null, phone: '+1 555 0199' })).toEqual([
      { op: 'remove', path: 'emails' },
      { op: 'replace', path: 'phoneNumbers', value: [{ value: '+1 555 0199', type: 'work' }] },
    ]);
    expect(userPatch('ann', ann, ann)).toEqual([]);
    // Unknown before (a linked user): every attribute is set.
    expect(userPatch('ann', null, ann).map((op) => op.path)).toEqual([
      'externalId',
      'name.formatted',
      'displayName',
      'emails',
      'phoneNumbers',
      'active',
    ]);
  });

  it('reads a target’s user back into the shape it compares', () => {
    expect(
      snapshotFromScim({
        userName: 'ann',
        name: { formatted: 'Ann Lee' },
        emails: [{ value: 'old@example.com' }, { value: 'ann@example.com', primary: true }],
        active: false,
      }),
    ).toEqual({ name: 'Ann Lee', email: 'ann@example.com', phone: null, active: false, memberOf: [] });
  });

  it('quotes filter values', () => {
    expect(quoted('a"b\\c')).toBe('"a\\"b\\\\c"');
  });
});

describe('SCIM faults and waits', () => {
  it('reads Retry-After as seconds or as a date', () => {
    expect(retryAfterMs('7')).toBe(7000);
    expect(retryAfterMs(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(30_000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
  });

  it('quotes the target’s detail', () => {
    expect(errorDetail(400, { detail: 'bad email', scimType: 'invalidValue' }, '')).toBe(
      'HTTP 400: bad email (invalidValue)',
    );
    expect(errorDetail(502, null, '<html>Bad gateway</html>')).toBe('HTTP 502: <html>Bad gateway</html>');
  });

  it('backs off exponentially with jitter, capped, and a longer Retry-After wins', () => {
    const target = { retryInitialMs: 1000, retryMaxMs: 8000 };
    for (let i = 0; i < 20; i++) {
      expect(retryWait(target, 1)).toBeGreaterThanOrEqual(500);
      expect(retryWait(target, 1)).toBeLessThanOrEqual(1000);
      expect(retryWait(target, 10)).toBeLessThanOrEqual(8000);
      expect(retryWait(target, 10)).toBeGreaterThanOrEqual(4000);
    }
    expect(retryWait(target, 1, 60_000)).toBe(60_000);
  });
});

describe('SCIM Bulk requests', () => {
  it('splits writes by the target’s operation and payload limits, creates with a bulkId', () => {
    const writes = Array.from({ length: 25 }, (_, i) => ({
      username: `u${i}`,
      remoteId: i % 2 === 0 ? null : `id-${i}`,
      before: i % 2 === 0 ? null : { ...ann, active: false },
      after: ann,
    }));
    const requests = bulkRequests(writes, { maxOperations: 10, maxPayloadSize: 1_000_000 });
    expect(requests.map((r) => r.writes.length)).toEqual([10, 10, 5]);
    const ops = (requests[1]!.body as { Operations: Array<{ method: string; path: string; bulkId?: string }> })
      .Operations;
    expect(ops[0]).toMatchObject({ method: 'POST', path: '/Users', bulkId: 'u0' });
    expect(ops[1]).toMatchObject({ method: 'PATCH', path: '/Users/id-11' });
    const small = bulkRequests(writes, { maxOperations: 100, maxPayloadSize: 2000 });
    expect(small.length).toBeGreaterThan(3);
    for (const r of small) expect(JSON.stringify(r.body).length).toBeLessThanOrEqual(2000);
  });
});
