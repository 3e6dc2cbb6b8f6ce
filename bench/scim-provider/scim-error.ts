/**
 * SCIM error responses (RFC 7644 §3.12) written by hand for the cases SCIMMY cannot express:
 * its Messages.Error refuses any status outside 307/308/400/401/403/404/409/412/413/500/501, so
 * injected 429, 502 and 503 would throw inside its constructor.
 */
import type { Response } from 'express';

export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

export function scimError(res: Response, status: number, scimType: string | undefined, detail: string): void {
  res
    .status(status)
    .type('application/scim+json')
    .send(
      JSON.stringify({
        schemas: [SCIM_ERROR_SCHEMA],
        status: String(status),
        ...(scimType ? { scimType } : {}),
        detail,
      }),
    );
}
