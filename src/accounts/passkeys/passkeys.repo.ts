import type { Knex } from 'knex';

export interface StoredPasskey {
  id: string;
  accountId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  deviceType: string;
  backedUp: boolean;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

interface PasskeyRow {
  id: string;
  account_id: string;
  public_key: string;
  counter: string | number;
  transports: string[] | string | null;
  device_type: string;
  backed_up: boolean;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}

const toPasskey = (r: PasskeyRow): StoredPasskey => ({
  id: r.id,
  accountId: r.account_id,
  publicKey: r.public_key,
  counter: Number(r.counter),
  transports: (typeof r.transports === 'string' ? JSON.parse(r.transports) : r.transports) ?? [],
  deviceType: r.device_type,
  backedUp: r.backed_up,
  name: r.name,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

export type ChallengePurpose = 'register' | 'login';

/** SQL of passkeys and their ceremonies' challenges (migrations/20261202000300_passkeys.ts). */
export function createPasskeysRepo(knex: Knex) {
  return {
    async saveChallenge(challenge: string, purpose: ChallengePurpose, accountId: string | null, ttlSeconds: number): Promise<void> {
      // Abandoned ceremonies leave their challenge behind: each new one clears the expired.
      await knex('webauthn_challenges').where('expires_at', '<=', knex.fn.now()).delete();
      await knex('webauthn_challenges').insert({ challenge, purpose, account_id: accountId, expires_at: new Date(Date.now() + ttlSeconds * 1000) });
    },

    /** Takes a live challenge once: true for the one caller that took it. */
    async takeChallenge(challenge: string, purpose: ChallengePurpose, accountId: string | null): Promise<boolean> {
      const query = knex('webauthn_challenges').where({ challenge, purpose }).andWhere('expires_at', '>', knex.fn.now());
      if (accountId) query.andWhere({ account_id: accountId });
      return (await query.delete()) > 0;
    },

    async insert(p: Omit<StoredPasskey, 'createdAt' | 'lastUsedAt'>): Promise<boolean> {
      const rows = await knex('webauthn_credentials')
        .insert({
          id: p.id,
          account_id: p.accountId,
          public_key: p.publicKey,
          counter: p.counter,
          transports: JSON.stringify(p.transports),
          device_type: p.deviceType,
          backed_up: p.backedUp,
          name: p.name,
        })
        .onConflict('id')
        .ignore()
        .returning('id');
      return rows.length > 0;
    },

    async find(id: string): Promise<StoredPasskey | undefined> {
      const row = (await knex('webauthn_credentials').where({ id }).first()) as PasskeyRow | undefined;
      return row ? toPasskey(row) : undefined;
    },

    async list(accountId: string): Promise<StoredPasskey[]> {
      return ((await knex('webauthn_credentials').where({ account_id: accountId }).orderBy('created_at')) as PasskeyRow[]).map(toPasskey);
    },

    /** Records a use: the new signature counter, but only over the one read (a cloned key racing loses). */
    async used(id: string, expectedCounter: number, counter: number, backedUp: boolean): Promise<boolean> {
      const updated = await knex('webauthn_credentials').where({ id, counter: expectedCounter }).update({ counter, backed_up: backedUp, last_used_at: knex.fn.now() });
      return updated > 0;
    },

    async remove(accountId: string, id: string): Promise<boolean> {
      return (await knex('webauthn_credentials').where({ account_id: accountId, id }).delete()) > 0;
    },

    async removeAll(accountId: string): Promise<number> {
      return knex('webauthn_credentials').where({ account_id: accountId }).delete();
    },
  };
}

export type PasskeysRepo = ReturnType<typeof createPasskeysRepo>;
