import type { Knex } from 'knex';

/** One sign-in of a first-party app: every refresh token rotated from its first one. */
export interface Family {
  id: string;
  accountId: string;
  clientId: string;
  scope: string;
  oidcSessionUid: string | null;
  oidcGrantId: string | null;
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

export type RevocationReason = 'logout' | 'reuse' | 'account_disabled';

interface FamilyRow {
  id: string;
  account_id: string;
  client_id: string;
  scope: string;
  oidc_session_uid: string | null;
  oidc_grant_id: string | null;
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
  /** Runs `fn` in one transaction, with a repo whose queries are part of it. */
  transaction<T>(fn: (tx: RefreshTokensRepo) => Promise<T>): Promise<T>;
  insertFamily(f: Pick<Family, 'accountId' | 'clientId' | 'scope' | 'oidcSessionUid' | 'oidcGrantId' | 'absoluteExpiresAt'>): Promise<Family>;
  insertToken(t: Pick<RefreshTokenRecord, 'idHash' | 'familyId' | 'parentHash' | 'expiresAt'>): Promise<void>;
  /** The token and its family, the token's row locked until the transaction ends. */
  lockToken(idHash: string): Promise<TokenWithFamily | undefined>;
  findToken(idHash: string): Promise<TokenWithFamily | undefined>;
  markUsed(idHash: string, successorHash: string, usedAt: Date): Promise<void>;
  /** Revokes the family unless it already was; returns it when this call revoked it. */
  revokeFamily(familyId: string, reason: RevocationReason, at: Date): Promise<Family | undefined>;
  /** Deletes families (and, by cascade, their tokens) that ended before `before`. */
  deleteEnded(before: Date): Promise<number>;
}

/** Families and refresh tokens of first-party sessions; refresh tokens by the hash of their jti. */
export function createRefreshTokensRepo(knex: Knex): RefreshTokensRepo {
  async function tokenWithFamily(idHash: string, lock: boolean): Promise<TokenWithFamily | undefined> {
    // Rotation updates the token row and reads the family: rotations of one token queue on
    // the token's row, and revoking the family waits for the rotations under way.
    const tokenQuery = knex('first_party_refresh_tokens').where({ id_hash: idHash }).first();
    const token = (await (lock ? tokenQuery.forUpdate() : tokenQuery)) as TokenRow | undefined;
    if (!token) return undefined;
    const familyQuery = knex('first_party_families').where({ id: token.family_id }).first();
    const family = (await (lock ? familyQuery.forShare() : familyQuery)) as FamilyRow;
    return { token: toToken(token), family: toFamily(family) };
  }

  return {
    transaction(fn) {
      return knex.transaction((trx) => fn(createRefreshTokensRepo(trx)));
    },

    async insertFamily(f) {
      const [row] = (await knex('first_party_families')
        .insert({
          account_id: f.accountId,
          client_id: f.clientId,
          scope: f.scope,
          oidc_session_uid: f.oidcSessionUid,
          oidc_grant_id: f.oidcGrantId,
          absolute_expires_at: f.absoluteExpiresAt,
        })
        .returning('*')) as FamilyRow[];
      return toFamily(row!);
    },

    async insertToken(t) {
      await knex('first_party_refresh_tokens').insert({
        id_hash: t.idHash,
        family_id: t.familyId,
        parent_hash: t.parentHash,
        expires_at: t.expiresAt,
      });
    },

    lockToken: (idHash) => tokenWithFamily(idHash, true),
    findToken: (idHash) => tokenWithFamily(idHash, false),

    async markUsed(idHash, successorHash, usedAt) {
      await knex('first_party_refresh_tokens').where({ id_hash: idHash }).update({ used_at: usedAt, successor_hash: successorHash });
    },

    async revokeFamily(familyId, reason, at) {
      const [row] = (await knex('first_party_families')
        .where({ id: familyId })
        .whereNull('revoked_at')
        .update({ revoked_at: at, revoked_reason: reason })
        .returning('*')) as FamilyRow[];
      return row ? toFamily(row) : undefined;
    },

    async deleteEnded(before) {
      return knex('first_party_families').where('absolute_expires_at', '<', before).delete();
    },
  };
}
