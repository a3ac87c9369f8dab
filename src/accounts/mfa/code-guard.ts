import { setTimeout as sleep } from 'node:timers/promises';
import { TooManyAttemptsError } from '../../errors.ts';
import { ACCOUNT_LOCKED, IP_LOCKED, LOGIN_FAILED, type SecurityEvents } from '../../security/events.ts';
import type { LoginThrottle } from '../../security/login-throttle.ts';
import type { LoginClient } from '../passwords/password-login.ts';
import { InvalidCodeError } from './mfa.errors.ts';

export interface CodeGuardDeps {
  throttle: LoginThrottle;
  events: SecurityEvents;
  /** The failure that locked the account's codes: tell its owner (as for passwords). Not awaited. */
  onAccountLocked?: (accountId: string, retryAfterSeconds: number) => void;
}

/**
 * Every entry of a TOTP or recovery code (signing in, enrolling, removing, renewing codes) goes
 * through the brute-force guard of passwords (src/security/login-throttle.ts): the same limits,
 * the progressive delay, the lock and its notice, counted per account and per client address.
 *
 * The account's code failures have a key of their own: a right password forgives password
 * failures, and must not forgive code guesses, or typing the password again between guesses
 * would never reach the lock.
 */
export function createCodeGuard({ throttle, events, onAccountLocked }: CodeGuardDeps) {
  return async function guardCode<T>(client: LoginClient, accountId: string, check: () => Promise<T>): Promise<T> {
    const ctx = { ip: client.ip, userAgent: client.userAgent, accountId };
    const key = `second-factor:${accountId}`;
    const verdict = await throttle.check(key, client.ip);
    if (verdict.locked) {
      await events.record(LOGIN_FAILED, { ...ctx, details: { reason: 'locked', step: 'second_factor' } });
      throw new TooManyAttemptsError(verdict.retryAfterSeconds ?? 60);
    }
    if (verdict.delayMs > 0) await sleep(verdict.delayMs);
    let result: T;
    try {
      result = await check();
    } catch (err) {
      if (!(err instanceof InvalidCodeError)) {
        await throttle.release(key, client.ip);
        throw err;
      }
      const outcome = await throttle.recordFailure(key, client.ip);
      await events.record(LOGIN_FAILED, { ...ctx, details: { reason: 'wrong_second_factor' } });
      if (outcome.lockedNow.account) {
        await events.record(ACCOUNT_LOCKED, { ...ctx, details: { step: 'second_factor' } });
        onAccountLocked?.(accountId, outcome.retryAfterSeconds ?? 60);
      }
      if (outcome.lockedNow.ip) await events.record(IP_LOCKED, { ...ctx, details: { step: 'second_factor' } });
      // The code that locked is answered as the lock: the next one would be anyway.
      if (outcome.locked) throw new TooManyAttemptsError(outcome.retryAfterSeconds ?? 60);
      throw err;
    }
    await throttle.recordSuccess(key, client.ip);
    return result;
  };
}

export type CodeGuard = ReturnType<typeof createCodeGuard>;
