import { setTimeout as sleep } from 'node:timers/promises';
import type { Account } from '../accounts.service.ts';
import { EmailNotVerifiedError, InvalidCredentialsError } from '../../errors.ts';
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

/**
 * One set of rules around every password check, hosted login and JSON login alike (ASVS
 * V6.3.1): the throttle admits the attempt (or refuses it as locked, answered exactly like a
 * wrong password), a captcha is verified once failures pile up, a progressive delay slows
 * guessing, and the outcome is counted and recorded as a security event.
 */
export function createPasswordLogin({ throttle, captcha, events }: { throttle: LoginThrottle; captcha: CaptchaVerifier; events: SecurityEvents }) {
  return async function passwordLogin(client: LoginClient, attempt: PasswordLoginAttempt, authenticate: () => Promise<Account>): Promise<Account> {
    const ctx = { ip: client.ip, userAgent: client.userAgent };
    const details = { clientId: attempt.clientId };
    const verdict = await throttle.check(attempt.login, client.ip);
    if (verdict.locked) {
      await events.record(LOGIN_FAILED, { ...ctx, details: { ...details, reason: 'locked' } });
      throw new InvalidCredentialsError();
    }
    if (captcha.enabled && (verdict.captchaRequired || attempt.alwaysCaptcha)) {
      try {
        await captcha.verify(attempt.captchaToken, client.ip);
      } catch (err) {
        // The password was never tried: this attempt must not count towards a lock, or a bot
        // without captchas could lock anyone out.
        await throttle.release(attempt.login, client.ip);
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
        const outcome = await throttle.recordFailure(attempt.login, client.ip);
        await events.record(LOGIN_FAILED, { ...ctx, details: { ...details, reason: 'credentials' } });
        if (outcome.lockedNow.account) await events.record(ACCOUNT_LOCKED, { ...ctx, details });
        if (outcome.lockedNow.ip) await events.record(IP_LOCKED, { ...ctx, details });
      } else if (err instanceof EmailNotVerifiedError) {
        // The password was right: not a guess.
        await throttle.recordSuccess(attempt.login, client.ip);
      } else {
        await throttle.release(attempt.login, client.ip);
      }
      throw err;
    }
    await throttle.recordSuccess(attempt.login, client.ip);
    await events.record(LOGIN_SUCCEEDED, { ...ctx, accountId: account.id, details });
    return account;
  };
}

export type PasswordLogin = ReturnType<typeof createPasswordLogin>;
