import type { Knex } from 'knex';
import type { SecretBox } from '../../crypto/secret-box.ts';
import { InvalidCodeError } from './mfa.errors.ts';
import { createFactorsRepo } from './factors.repo.ts';
import { newRecoveryCodes, recoveryCodeHash } from './recovery-codes.ts';
import { isTotpCode, newTotpSecret, otpauthUri, totpStep } from './totp.ts';

export interface SecondFactorsDeps {
  knex: Knex;
  /** Seals TOTP secrets at rest (src/crypto/secret-box.ts). */
  box: SecretBox;
  /** The issuer an authenticator app shows beside the account (the brand name). */
  issuerName: string;
  /** The clock (tests may move it). */
  now?: () => number;
}

/** What `/account` shows of an account's second factors. */
export interface FactorStatus {
  totp: boolean;
  recoveryCodesLeft: number;
}

/** Which kind of code was accepted. */
export type CodeKind = 'totp' | 'recovery';

/**
 * Second factors of an account (issue 13): a TOTP authenticator and its recovery codes. Every
 * code is checked here and nowhere else; the caller runs each check inside the sign-in throttle
 * (code-guard.ts), so guessing codes locks like guessing passwords.
 */
export function createSecondFactors({ knex, box, issuerName, now = Date.now }: SecondFactorsDeps) {
  const repo = createFactorsRepo(knex);

  async function confirmedSecret(accountId: string): Promise<string | undefined> {
    const totp = await repo.findTotp(accountId);
    return totp?.confirmedAt ? box.open(totp.secretSealed) : undefined;
  }

  async function issueRecoveryCodes(accountId: string, trx: Knex = knex): Promise<string[]> {
    const codes = newRecoveryCodes();
    await repo.replaceRecoveryCodes(accountId, codes.map((c) => recoveryCodeHash(c)!), trx);
    return codes;
  }

  /** A current TOTP code (each step once) or an unused recovery code; throws InvalidCodeError. */
  async function verify(accountId: string, code: string): Promise<CodeKind> {
    const typed = code.trim();
    if (isTotpCode(typed)) {
      const secret = await confirmedSecret(accountId);
      const step = secret ? totpStep(secret, typed, now()) : undefined;
      if (step !== undefined && (await repo.takeStep(accountId, step, { confirm: false }))) return 'totp';
      throw new InvalidCodeError();
    }
    const hash = recoveryCodeHash(typed);
    if (hash && (await confirmedSecret(accountId)) && (await repo.useRecoveryCode(accountId, hash))) return 'recovery';
    throw new InvalidCodeError();
  }

  return {
    repo,
    verify,

    async status(accountId: string): Promise<FactorStatus> {
      const totp = await repo.findTotp(accountId);
      const confirmed = Boolean(totp?.confirmedAt);
      return { totp: confirmed, recoveryCodesLeft: confirmed ? await repo.unusedRecoveryCodes(accountId) : 0 };
    },

    /** Whether the account has a second factor to be asked for. */
    async hasFactor(accountId: string): Promise<boolean> {
      return Boolean((await repo.findTotp(accountId))?.confirmedAt);
    },

    /**
     * Starts (or restarts) a TOTP enrolment: a new secret, sealed, waiting for its first code.
     * Undefined when the account has an authenticator already (remove it first).
     */
    async startTotp(account: { id: string; email: string }): Promise<{ uri: string; secret: string } | undefined> {
      const secret = newTotpSecret();
      if (!(await repo.startTotp(account.id, box.seal(secret)))) return undefined;
      return { secret, uri: otpauthUri(secret, { issuer: issuerName, label: account.email }) };
    },

    /** The pending enrolment's URI again (the page reloaded), if there is one. */
    async pendingTotp(account: { id: string; email: string }): Promise<{ uri: string; secret: string } | undefined> {
      const totp = await repo.findTotp(account.id);
      if (!totp || totp.confirmedAt) return undefined;
      const secret = box.open(totp.secretSealed);
      return { secret, uri: otpauthUri(secret, { issuer: issuerName, label: account.email }) };
    },

    /** The first code confirms the enrolment; returns the ten recovery codes, to be shown this once. */
    async confirmTotp(accountId: string, code: string): Promise<string[]> {
      const totp = await repo.findTotp(accountId);
      if (!totp || totp.confirmedAt) throw new InvalidCodeError();
      const step = totpStep(box.open(totp.secretSealed), code, now());
      if (step === undefined) throw new InvalidCodeError();
      return knex.transaction(async (trx) => {
        if (!(await repo.takeStep(accountId, step, { confirm: true }, trx))) throw new InvalidCodeError();
        return issueRecoveryCodes(accountId, trx);
      });
    },

    /** New recovery codes (the old ones stop working), after a fresh code. */
    async regenerateRecoveryCodes(accountId: string, code: string): Promise<string[]> {
      await verify(accountId, code);
      return issueRecoveryCodes(accountId);
    },

    /** Removes the authenticator and its recovery codes, after a fresh code. */
    async removeTotp(accountId: string, code: string): Promise<void> {
      await verify(accountId, code);
      await knex.transaction(async (trx) => {
        await repo.deleteTotp(accountId, trx);
        await repo.deleteRecoveryCodes(accountId, trx);
      });
    },

    removeAll,
  };

  /** Every second factor of the account (passkeys too), without asking (an admin's recovery of access); true if there were any. */
  async function removeAll(accountId: string): Promise<boolean> {
    return knex.transaction(async (trx) => {
      const removed = (await repo.deleteTotp(accountId, trx)) + (await repo.deleteRecoveryCodes(accountId, trx)) + (await repo.deletePasskeys(accountId, trx));
      return removed > 0;
    });
  }
}

export type SecondFactors = ReturnType<typeof createSecondFactors>;
