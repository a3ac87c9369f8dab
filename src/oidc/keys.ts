import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Knex } from 'knex';
import type { SecretBox } from '../crypto/secret-box.ts';

/**
 * Signing keys: RS256 (OIDC Core §15.1 makes it the ID token default every RP supports) and
 * ES256 (JWT access tokens). Generated on first start, kept in Postgres with the private
 * part sealed by SECRETS. `rotate` retires the current pair; a retired key stays in the JWKS
 * for `retiredKeyGraceSeconds` so tokens it signed still verify, and is never used to sign.
 */
export const SIGNING_ALGS = ['RS256', 'ES256'] as const;

// Any constant: serialises key generation between processes starting at once.
const KEYS_LOCK = 4_171_190_001;

interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: JWK;
  private_jwk_enc: string;
  created_at: Date;
  retired_at: Date | null;
}

async function generate(alg: (typeof SIGNING_ALGS)[number], box: SecretBox) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  const full: JWK = { ...jwk, kid, alg, use: 'sig' };
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = full;
  return { kid, alg, public_jwk: publicJwk, private_jwk_enc: box.seal(JSON.stringify(full)) };
}

async function insertPair(trx: Knex, box: SecretBox, algs: readonly (typeof SIGNING_ALGS)[number][]) {
  const rows = [];
  for (const alg of algs) rows.push(await generate(alg, box));
  await trx('signing_keys').insert(rows);
  return rows.map(({ kid, alg }) => ({ kid, alg }));
}

/** Makes sure an active key exists for every signing algorithm; returns the ones created. */
export async function ensureSigningKeys(knex: Knex, box: SecretBox) {
  return knex.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(?)', [KEYS_LOCK]);
    const active = (await trx('signing_keys').whereNull('retired_at').select('alg')) as { alg: string }[];
    const missing = SIGNING_ALGS.filter((alg) => !active.some((k) => k.alg === alg));
    return missing.length ? insertPair(trx, box, missing) : [];
  });
}

/** Retires the active keys and creates new ones; returns the new keys, RS256 first. */
export async function rotateSigningKeys(knex: Knex, box: SecretBox) {
  return knex.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(?)', [KEYS_LOCK]);
    await trx('signing_keys').whereNull('retired_at').update({ retired_at: trx.fn.now() });
    return insertPair(trx, box, SIGNING_ALGS);
  });
}

const publishedKeys = (knex: Knex, retiredKeyGraceSeconds: number) =>
  knex('signing_keys')
    .whereNull('retired_at')
    .orWhere('retired_at', '>', knex.raw(`now() - make_interval(secs => ?)`, [retiredKeyGraceSeconds]))
    .orderByRaw('retired_at is not null, created_at desc');

/** A string that changes whenever the published set of keys changes (cheap: nothing is decrypted). */
export async function signingKeysVersion(knex: Knex, retiredKeyGraceSeconds: number): Promise<string> {
  const rows = (await publishedKeys(knex, retiredKeyGraceSeconds).select('kid', 'retired_at')) as Pick<KeyRow, 'kid' | 'retired_at'>[];
  return rows.map((r) => `${r.kid}:${r.retired_at ? 'r' : 'a'}`).join(',');
}

/**
 * The private JWKS for oidc-provider: active keys first (newest first, so they sign), then
 * keys retired within the grace period, which verify what they signed but sign nothing new.
 */
export async function loadSigningJwks(knex: Knex, box: SecretBox, retiredKeyGraceSeconds: number) {
  const rows = (await publishedKeys(knex, retiredKeyGraceSeconds)) as KeyRow[];
  return {
    version: rows.map((r) => `${r.kid}:${r.retired_at ? 'r' : 'a'}`).join(','),
    keys: rows.map((r) => JSON.parse(box.open(r.private_jwk_enc)) as JWK),
  };
}
