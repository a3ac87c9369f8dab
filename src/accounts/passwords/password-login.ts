import { setTimeout as sleep } from 'node:timers/promises';
import type { Account } from '../accounts.service.ts';
import { EmailNotVerifiedError, InvalidCredentialsError, TooManyAttemptsError } from '../../errors.ts';
import { normalizeEmail } from '../../identifiers.ts';
import type { CaptchaVerifier } from '../../security/captcha.ts';
import { ACCOUNT_LOCKED, CAPTCHA_FAILED, IP_LOCKED, LOGIN_FAILED, LOGIN_SUCCEEDED, type SecurityEvents } from '../../security/events.ts';
import type { LoginThrottle } from '../../security/login-throttle.ts';

/** Where an attempt comes from: the client address (as TRUST_PROXY resolves it) and its user agent. */
export interface LoginClient {
  ip: string;
  userAgent?: string;
}

export interface PasswordLoginAttempt {
  login: string;
  /** The captcha token the form or JSON body carried, if any. */
  captchaToken: unknown;
  /** Verify a captcha on every attempt, not only after failures (`POST /session/login`). */
  alwaysCaptcha?: boolean;
  /** For the security event: which client the user was signing in to. */
  clientId?: string;
}

export interface PasswordLoginDeps {
  throttle: LoginThrottle;
  captcha: CaptchaVerifier;
  events: SecurityEvents;
  /** The id of the account a login (e-mail address or username) names, if any. */
  findAccountId?: (login: string) => Promise<string | undefined>;
  /** The failure that locked this account (once per lock): tell its owner. Not awaited. */
  onAccountLocked?: (accountId: string, retryAfterSeconds: number) => void;
}

/**
 * One set of rules around every password check, hosted login and JSON login alike (ASVS
 * V6.3.1): the throttle admits the attempt (or refuses it as locked: "too many attempts",
 * TooManyAttemptsError, for an existing account and an unknown login alike), a captcha is
 * verified once failures pile up, a progressive delay slows guessing, and the outcome is
 * counted and recorded as a security event.
 *
 * Failures count per account whichever of its e-mail address or username was typed (issue
 * 12): the throttle's key is the account's id when the login names one, the normalised login
 * otherwise. The look-up is made for every attempt, known or not, so it does not tell them apart.
 */
export function createPasswordLogin({ throttle, captcha, events, findAccountId, onAccountLocked }: PasswordLoginDeps) {
  async function throttleKey(login: string): Promise<{ key: string; accountId?: string }> {
    const accountId = findAccountId && login.length <= 320 ? await findAccountId(login) : undefined;
    return accountId ? { key: `account-id:${accountId}`, accountId } : { key: `login:${normalizeEmail(login)}` };
  }

  async function passwordLogin(client: LoginClient, attempt: PasswordLoginAttempt, authenticate: () => Promise<Account>): Promise<Account> {
    const ctx = { ip: client.ip, userAgent: client.userAgent };
    const details = { clientId: attempt.clientId };
    const { key, accountId } = await throttleKey(attempt.login);
    const verdict = await throttle.check(key, client.ip);
    if (verdict.locked) {
      await events.record(LOGIN_FAILED, { ...ctx, details: { ...details, reason: 'locked' } });
      throw new TooManyAttemptsError(verdict.retryAfterSeconds ?? 60);
    }
    if (captcha.enabled && (verdict.captchaRequired || attempt.alwaysCaptcha)) {
      try {
        await captcha.verify(attempt.captchaToken, client.ip);
      } catch (err) {
        // The password was never tried: this attempt must not count towards a lock, or a bot
        // without captchas could lock anyone out.
        await throttle.release(key, client.ip);
        await events.record(CAPTCHA_FAILED, { ...ctx, details: { ...details, reason: (err as { reason?: string }).reason } });
        throw err;
      }
    }
    if (verdict.delayMs > 0) await sleep(verdict.delayMs);

    let account: Account;
    try {
      account = await authenticate();
    } catch (err) {
      if (err instanceof InvalidCredentialsError) {
        const outcome = await throttle.recordFailure(key, client.ip);
        await events.record(LOGIN_FAILED, { ...ctx, details: { ...details, reason: 'credentials' } });
        if (outcome.lockedNow.account) {
          await events.record(ACCOUNT_LOCKED, { ...ctx, details });
          if (accountId) onAccountLocked?.(accountId, outcome.retryAfterSeconds ?? 60);
        }
        if (outcome.lockedNow.ip) await events.record(IP_LOCKED, { ...ctx, details });
      } else if (err instanceof EmailNotVerifiedError) {
        // The password was right: not a guess.
        await throttle.recordSuccess(key, client.ip);
      } else {
        await throttle.release(key, client.ip);
      }
      throw err;
    }
    await throttle.recordSuccess(key, client.ip);
    await events.record(LOGIN_SUCCEEDED, { ...ctx, accountId: account.id, details });
    return account;
  }

  return Object.assign(passwordLogin, {
    /** The throttle's counts for a login as the next attempt would see them (whether to show a captcha). */
    peek: async (login: string, ip: string) => throttle.peek((await throttleKey(login)).key, ip),
  });
}

export type PasswordLogin = ReturnType<typeof createPasswordLogin>;
