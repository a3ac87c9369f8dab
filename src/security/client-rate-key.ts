import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { clientIpKey } from './login-throttle.ts';

/** The narrow view of the clients table this needs. */
export interface ClientSecrets {
  secret(clientId: string): Promise<string | undefined>;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();
/** RFC 6749 §2.3.1: the id and secret are form-urlencoded before they go into Basic. */
const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));

/** `Authorization: Basic` credentials (RFC 7617), or undefined when the header is not one. */
export function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const m = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header ?? '');
  if (!m || m[1]!.length > 4096) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) return undefined;
  try {
    const id = formDecode(decoded.slice(0, colon));
    const secret = formDecode(decoded.slice(colon + 1));
    return id && secret ? { id, secret } : undefined;
  } catch {
    return undefined; // a malformed %-escape
  }
}

/**
 * The rate-limit key of a token, introspection or revocation request: the client when it
 * proves who it is with client_secret_basic, the client address otherwise.
 *
 * One app server speaks for many users, so counting its token requests per address caps a busy
 * backend; counting them per client gives each client its own budget wherever it calls from.
 * The provider's routes get no parsed body (src/oidc/oidc.routes.ts), so only the
 * Authorization header can name the client here.
 *
 * The id alone is no proof: client ids are public (they are in every authorization URL). Were
 * requests keyed by the id a header claims, anyone could spend a real client's budget with
 * a wrong secret and shut it out of its own token endpoint. So the secret is checked (against
 * the stored one, in constant time) and only a request that carries it counts as the client's.
 * What an attacker can do: send requests with any id and a wrong secret, which count against
 * their own address exactly as before this change (the per-address flood limit holds, and
 * made-up ids do not give fresh budgets); each such request costs one primary-key lookup of
 * the client (served from the clients cache for known ids, src/oidc/clients.repo.ts, which every
 * instance invalidates on a change), the same lookup the provider makes to
 * answer it. What they cannot do without the secret: touch a client's budget. Clients that
 * authenticate otherwise (client_secret_post or JWTs in the body, public clients) are counted
 * per address, as before.
 */
export function createClientRateKey({ clients }: { clients: ClientSecrets }) {
  async function storedDigest(id: string): Promise<Buffer | null> {
    // The provider's own cache: a deleted or re-keyed client stops counting as itself as soon
    // as the provider stops accepting it.
    const secret = await clients.secret(id);
    return secret ? sha256(secret) : null;
  }

  return async function clientRateKey(request: FastifyRequest): Promise<string> {
    const credentials = basicCredentials(request.headers.authorization);
    if (credentials) {
      const digest = await storedDigest(credentials.id);
      if (digest && timingSafeEqual(digest, sha256(credentials.secret))) return `client:${credentials.id}`;
    }
    return `address:${clientIpKey(request.ip)}`;
  };
}
