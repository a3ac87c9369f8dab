import type { Knex } from 'knex';

/** One sign-in of a first-party app: every refresh token rotated from its first one. */
export interface Family {
  id: string;
  accountId: string;
  clientId: string;
  scope: string;
  oidcSessionUid: string | null;
  oidcGrantId: string | null;
  /** When the person signed in: a revocation of the account's sessions after it ends the family. */
  createdAt: Date;
  absoluteExpiresAt: Date;
  revokedAt: Date | null;
  revokedReason: string | null;
}

export interface RefreshTokenRecord {
  idHash: string;
  familyId: string;
  parentHash: string | null;
  successorHash: string | null;
  usedAt: Date | null;
  expiresAt: Date;
}

export type RevocationReason = 'logout' | 'reuse' | 'account_disabled' | 'sessions_revoked' | 'client_not_first_party';

interface FamilyRow {
  id: string;
  account_id: string;
  client_id: string;
  scope: string;
  oidc_session_uid: string | null;
  oidc_grant_id: string | null;
  created_at: Date;
  absolute_expires_at: Date;
  revoked_at: Date | null;
  revoked_reason: string | null;
}

interface TokenRow {
  id_hash: string;
  family_id: string;
  parent_hash: string | null;
  successor_hash: string | null;
  used_at: Date | null;
  expires_at: Date;
}

function toFamily(r: FamilyRow): Family {
  return {
    id: r.id,
    accountId: r.account_id,
    clientId: r.client_id,
    scope: r.scope,
    oidcSessionUid: r.oidc_session_uid,
    oidcGrantId: r.oidc_grant_id,
    createdAt: r.created_at,
    absoluteExpiresAt: r.absolute_expires_at,
    revokedAt: r.revoked_at,
    revokedReason: r.revoked_reason,
  };
}

function toToken(r: TokenRow): RefreshTokenRecord {
  return {
    idHash: r.id_hash,
    familyId: r.family_id,
    parentHash: r.parent_hash,
    successorHash: r.successor_hash,
    usedAt: r.used_at,
    expiresAt: r.expires_at,
  };
}

export interface TokenWithFamily {
  token: RefreshTokenRecord;
  family: Family;
}

export interface RefreshTokensRepo {
  /** A new family and its first refresh token, in one statement. */
  createFamily(
    f: Pick<Family, 'accountId' | 'clientId' | 'scope' | 'oidcSessionUid' | 'oidcGrantId' | 'absoluteExpiresAt'>,
    first: Pick<RefreshTokenRecord, 'idHash' | 'expiresAt'>,
  ): Promise<Family>;
  findToken(idHash: string): Promise<TokenWithFamily | undefined>;
  /**
   * Marks the token used and inserts its successor, in one statement, only if the token was
   * still unused: true for the one caller that rotated it, false for any caller racing it.
   */
  rotate(idHash: string, successor: Pick<RefreshTokenRecord, 'idHash' | 'expiresAt'>, usedAt: Date): Promise<boolean>;
  /** Revokes the family unless it already was; returns it when this call revoked it. */
  revokeFamily(familyId: string, reason: RevocationReason, at: Date): Promise<Family | undefined>;
  /** Revokes the live families opened from one provider session (its `uid`): that browser signed out. */
  revokeBySession(oidcSessionUid: string, reason: RevocationReason, at: Date): Promise<Family[]>;
  /** Deletes families (and, by cascade, their tokens) that ended before `before`. */
  deleteEnded(before: Date): Promise<number>;
}

/**
 * Families and refresh tokens of first-party sessions; refresh tokens by the hash of their jti.
 * Every write is a single statement, atomic on its own: concurrency is settled by Postgres's
 * row locks inside that statement (two rotations of one token: the second waits for the
 * first, then finds it used), never by a transaction held across round trips.
 */
export function createRefreshTokensRepo(knex: Knex): RefreshTokensRepo {
  return {
    async createFamily(f, first) {
      const { rows } = (await knex.raw(
        `with family as (
           insert into first_party_families (account_id, client_id, scope, oidc_session_uid, oidc_grant_id, absolute_expires_at)
           values (?, ?, ?, ?, ?, ?)
           returning *
         ), token as (
           insert into first_party_refresh_tokens (id_hash, family_id, expires_at)
           select ?, id, ? from family
         )
         select * from family`,
        [f.accountId, f.clientId, f.scope, f.oidcSessionUid, f.oidcGrantId, f.absoluteExpiresAt, first.idHash, first.expiresAt],
      )) as { rows: FamilyRow[] };
      return toFamily(rows[0]!);
    },

    async findToken(idHash) {
      const token = (await knex('first_party_refresh_tokens').where({ id_hash: idHash }).first()) as TokenRow | undefined;
      if (!token) return undefined;
      const family = (await knex('first_party_families').where({ id: token.family_id }).first()) as FamilyRow;
      return { token: toToken(token), family: toFamily(family) };
    },

    async rotate(idHash, successor, usedAt) {
      // `used_at is null` is re-checked after waiting on a concurrent rotation's row lock
      // (READ COMMITTED), so exactly one caller inserts the successor.
      const { rows } = (await knex.raw(
        `with spent as (
           update first_party_refresh_tokens set used_at = ?, successor_hash = ?
           where id_hash = ? and used_at is null
           returning id_hash, family_id
         )
         insert into first_party_refresh_tokens (id_hash, family_id, parent_hash, expires_at)
         select ?, family_id, id_hash, ? from spent
         returning id_hash`,
        [usedAt, successor.idHash, idHash, successor.idHash, successor.expiresAt],
      )) as { rows: unknown[] };
      return rows.length === 1;
    },

    async revokeFamily(familyId, reason, at) {
      const [row] = (await knex('first_party_families')
        .where({ id: familyId })
        .whereNull('revoked_at')
        .update({ revoked_at: at, revoked_reason: reason })
        .returning('*')) as FamilyRow[];
      return row ? toFamily(row) : undefined;
    },

    async revokeBySession(oidcSessionUid, reason, at) {
      const rows = (await knex('first_party_families')
        .where({ oidc_session_uid: oidcSessionUid })
        .whereNull('revoked_at')
        .update({ revoked_at: at, revoked_reason: reason })
        .returning('*')) as FamilyRow[];
      return rows.map(toFamily);
    },

    async deleteEnded(before) {
      return knex('first_party_families').where('absolute_expires_at', '<', before).delete();
    },
  };
}
