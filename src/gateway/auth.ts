/**
 * Bearer-token authentication shared by the HTTP routes and the WebSocket upgrade.
 *
 * A token is accepted from `Authorization: Bearer <token>` or from the `token` query parameter
 * (browsers cannot set headers on a WebSocket or on a dashboard link). Both sides are hashed with
 * SHA-256 before `timingSafeEqual`, so the comparison is constant-time and the buffers are always
 * of equal length (no early exit that would leak the token's length).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { httpError } from './errors.ts';

export type AuthResult = { ok: true } | { ok: false; message: string };

export interface TokenAuthenticator {
  /** Check the credentials of a request given its Authorization header and its `token` query value. */
  check(authorization: string | string[] | undefined, queryToken: string | null | undefined): AuthResult;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function createTokenAuthenticator(token: string): TokenAuthenticator {
  if (token.length === 0) throw new Error('gateway token must be a non-empty string (omit it to disable auth)');
  const expectedDigest = sha256(token);
  const matches = (presented: string): boolean => timingSafeEqual(sha256(presented), expectedDigest);

  return {
    check(authorization, queryToken) {
      if (authorization !== undefined) {
        const header = Array.isArray(authorization) ? authorization[0] ?? '' : authorization;
        const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
        if (match === null) return { ok: false, message: 'Authorization header must be "Bearer <token>"' };
        return matches(match[1]) ? { ok: true } : { ok: false, message: 'invalid token' };
      }
      if (typeof queryToken === 'string' && queryToken.length > 0) {
        return matches(queryToken) ? { ok: true } : { ok: false, message: 'invalid token' };
      }
      return { ok: false, message: 'missing token: send "Authorization: Bearer <token>" or ?token=<token>' };
    },
  };
}

/** The `token` query parameter of a raw request URL, without decoding the rest of the query. */
export function queryTokenOf(url: string | undefined): string | null {
  if (url === undefined) return null;
  const q = url.indexOf('?');
  if (q < 0) return null;
  return new URLSearchParams(url.slice(q + 1)).get('token');
}

/** The WWW-Authenticate challenge of a 401, over HTTP and on a refused WebSocket upgrade. */
export const BEARER_CHALLENGE = 'Bearer realm="driftwatch"';

/** fastify onRequest hook enforcing the token on every route of the scope it is added to. */
export function requireToken(auth: TokenAuthenticator) {
  return async function checkToken(request: FastifyRequest): Promise<void> {
    const result = auth.check(request.headers.authorization, queryTokenOf(request.raw.url));
    // A hook that throws skips the route handler; the error handler writes the 401.
    if (!result.ok) throw httpError(401, result.message, { 'www-authenticate': BEARER_CHALLENGE });
  };
}
