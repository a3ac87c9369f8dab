import { createHmac, hkdfSync } from 'node:crypto';
import { errors } from 'jose';
import type { AccountValidity } from '../accounts/validity.ts';
import { randomToken, sha256 } from '../crypto/secret-box.ts';
import { NotFirstPartyError, RefreshError } from './errors.ts';
import type { KeyRing } from './keyring.ts';
import type { Family, RefreshTokenRecord, RefreshTokensRepo, RevocationReason } from './refresh-tokens.repo.ts';
import { mintAccessToken, mintRefreshToken, verifyRefreshToken, type MintedToken } from './tokens.ts';

export interface SessionsDeps {
  repo: RefreshTokensRepo;
  keys: KeyRing;
  issuer: string;
  /** SECRETS, newest first: the key that links a refresh token to its successor derives from them. */
  secrets: readonly string[];
  /** SESSION_REFRESH_GRACE_SECONDS. */
  graceSeconds: number;
  ttl: { accessTokenTtlSeconds: number; refreshIdleSeconds: number; refreshAbsoluteSeconds: number };
  /**
   * Whether the account may go on with a sign-in made at `signedInAt`: not when it is gone or
   * disabled, nor when its sessions were revoked since (a password reset signs out everywhere).
   */
  accountState(accountId: string, signedInAt: Date): Promise<AccountValidity>;
  /** False for a client an admin has since made third-party (or deleted): its sessions end too. */
  isFirstPartyClient(clientId: string): Promise<boolean>;
  /** Called once a family is revoked: ends what the sign-in left elsewhere (the provider's session). */
  onRevoked(family: Family): Promise<void>;
  now?: () => number;
}

/** What a sign-in or a refresh hands to the browser. */
export interface IssuedSession {
  family: Family;
  accessToken: MintedToken;
  refreshToken: MintedToken;
}

// A chain of rotations inside one grace window longer than this is not two tabs: refuse it.
const MAX_GRACE_HOPS = 8;

/**
 * First-party sessions: a family of rotating refresh tokens per sign-in (RFC 9700 §4.14.2).
 *
 * Every refresh rotates the token. Presented again after SESSION_REFRESH_GRACE_SECONDS, a
 * rotated token is reuse: someone holds a copy, so the whole family is revoked. Presented
 * again within the window it is two tabs (or a retried request) racing: it gets the token
 * that replaced it. To hand that successor out again without storing any token in the clear,
 * a successor's jti is an HMAC of its parent's jti under a key derived from SECRETS: whoever
 * holds the parent can be given the successor, and the table holds only hashes.
 */
export function createSessions(deps: SessionsDeps) {
  const { repo, keys, issuer, ttl } = deps;
  const now = deps.now ?? Date.now;
  const successorKeys = deps.secrets.map((s) => Buffer.from(hkdfSync('sha256', s, 'gatehouse', 'gatehouse first-party refresh successor v1', 32)));

  const successorJti = (jti: string, key: Buffer = successorKeys[0]!) => createHmac('sha256', key).update(jti).digest('base64url');

  async function issue(family: Family, refreshJti: string, refreshExpiresAt: Date, at: number, accessToken?: MintedToken): Promise<IssuedSession> {
    const { accountId, clientId, scope } = family;
    const [access, refreshToken] = await Promise.all([
      accessToken ?? mintAccessToken(keys, { issuer, accountId, clientId, scope, ttlSeconds: ttl.accessTokenTtlSeconds, now: at }),
      mintRefreshToken(keys, { issuer, accountId, clientId, jti: refreshJti, expiresAt: refreshExpiresAt, now: at }),
    ]);
    return { family, accessToken: access, refreshToken };
  }

  async function claimsOf(token: string) {
    try {
      return await verifyRefreshToken(keys, token, { issuer });
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new RefreshError('SESSION_EXPIRED');
      if (err instanceof errors.JOSEError) throw new RefreshError('INVALID_REFRESH_TOKEN');
      throw err;
    }
  }

  /**
   * Within the grace window: the live token the presented one was rotated into, following
   * the chain if the successor was itself rotated meanwhile (a third tab).
   */
  async function liveSuccessor(jti: string, record: RefreshTokenRecord, at: number) {
    let current = record;
    for (let hop = 0; hop < MAX_GRACE_HOPS; hop++) {
      if (!current.usedAt) {
        if (current.expiresAt.getTime() <= at) throw new RefreshError('SESSION_EXPIRED');
        return { jti, expiresAt: current.expiresAt };
      }
      // Try every secret: SECRETS may have rotated since the successor was made.
      const next = successorKeys.map((k) => successorJti(jti, k)).find((candidate) => sha256(candidate) === current.successorHash);
      const found = next && (await repo.findToken(current.successorHash!));
      if (!next || !found) throw new RefreshError('INVALID_REFRESH_TOKEN');
      jti = next;
      current = found.token;
    }
    throw new RefreshError('INVALID_REFRESH_TOKEN');
  }

  async function revoke(family: Family, reason: RevocationReason, at: number) {
    const ended = await repo.revokeFamily(family.id, reason, new Date(at));
    if (ended) await deps.onRevoked(ended);
  }

  return {
    /**
     * A new sign-in: a family, its first refresh token, and an access token (minted here unless
     * the sign-in already produced one: the provider's, after `/session/start`).
     */
    async open(
      input: Pick<Family, 'accountId' | 'clientId' | 'scope'> & Partial<Pick<Family, 'oidcSessionUid' | 'oidcGrantId'>>,
      accessToken?: MintedToken,
    ): Promise<IssuedSession> {
      const at = now();
      const absoluteExpiresAt = new Date(at + ttl.refreshAbsoluteSeconds * 1000);
      const expiresAt = new Date(Math.min(at + ttl.refreshIdleSeconds * 1000, absoluteExpiresAt.getTime()));
      const jti = randomToken(32);
      const family = await repo.createFamily(
        {
          accountId: input.accountId,
          clientId: input.clientId,
          scope: input.scope,
          oidcSessionUid: input.oidcSessionUid ?? null,
          oidcGrantId: input.oidcGrantId ?? null,
          absoluteExpiresAt,
        },
        { idHash: sha256(jti), expiresAt },
      );
      return issue(family, jti, expiresAt, at, accessToken);
    },

    /**
     * Rotates a refresh token (RFC 9700 §4.14.2). Throws RefreshError (NotFirstPartyError for a
     * demoted client); after reuse the family is revoked (and `onRevoked` called) first.
     */
    async refresh(token: string): Promise<IssuedSession & { replayed: boolean }> {
      const claims = await claimsOf(token);
      const at = now();
      const idHash = sha256(claims.jti);
      let found = await repo.findToken(idHash);
      if (!found || found.family.accountId !== claims.sub || found.family.clientId !== claims.clientId) {
        throw new RefreshError('INVALID_REFRESH_TOKEN');
      }
      const { family } = found;
      if (family.revokedAt) throw new RefreshError('SESSION_REVOKED');
      if (found.token.expiresAt.getTime() <= at || family.absoluteExpiresAt.getTime() <= at) throw new RefreshError('SESSION_EXPIRED');
      const state = await deps.accountState(family.accountId, family.createdAt);
      if (state !== 'valid') {
        await revoke(family, state === 'disabled' ? 'account_disabled' : 'sessions_revoked', at);
        throw new RefreshError('SESSION_REVOKED');
      }
      if (!(await deps.isFirstPartyClient(family.clientId))) {
        await revoke(family, 'client_not_first_party', at);
        throw new NotFirstPartyError();
      }

      if (!found.token.usedAt) {
        const jti = successorJti(claims.jti);
        const expiresAt = new Date(Math.min(at + ttl.refreshIdleSeconds * 1000, family.absoluteExpiresAt.getTime()));
        if (await repo.rotate(idHash, { idHash: sha256(jti), expiresAt }, new Date(at))) {
          return { ...(await issue(family, jti, expiresAt, at)), replayed: false };
        }
        // A concurrent refresh with the same token rotated it first: it is used now.
        found = await repo.findToken(idHash);
        if (!found?.token.usedAt) throw new RefreshError('INVALID_REFRESH_TOKEN');
      }

      if (at - found.token.usedAt.getTime() >= deps.graceSeconds * 1000) {
        await revoke(family, 'reuse', at);
        throw new RefreshError('REFRESH_TOKEN_REUSED');
      }
      const live = await liveSuccessor(claims.jti, found.token, at);
      return { ...(await issue(family, live.jti, live.expiresAt, at)), replayed: true };
    },

    /**
     * Signing out: revokes the family of the given refresh token. A token that does not verify
     * or is unknown revokes nothing (there is nothing it could name); expiry does not matter.
     */
    async logout(token: string | undefined): Promise<Family | undefined> {
      if (!token) return undefined;
      let claims;
      try {
        claims = await verifyRefreshToken(keys, token, { issuer, allowExpired: true });
      } catch (err) {
        if (err instanceof errors.JOSEError) return undefined;
        throw err;
      }
      const found = await repo.findToken(sha256(claims.jti));
      if (!found || found.family.revokedAt) return undefined;
      await revoke(found.family, 'logout', now());
      return found.family;
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;

/** A family past its absolute expiry can do nothing; its rows go this long after. */
export const KEEP_ENDED_MS = 24 * 60 * 60 * 1000;

/** Deletes first-party sessions that ended more than KEEP_ENDED_MS ago (the sweep job); returns how many. */
export function deleteEndedSessions(repo: Pick<RefreshTokensRepo, 'deleteEnded'>, now = Date.now()): Promise<number> {
  return repo.deleteEnded(new Date(now - KEEP_ENDED_MS));
}
