import type { Knex } from 'knex';
import type { SecretBox } from '../../crypto/secret-box.ts';
import type { SecurityEvents } from '../../security/events.ts';
import type { LoginThrottle } from '../../security/login-throttle.ts';
import type { Account } from '../accounts.repo.ts';
import { createCodeGuard } from './code-guard.ts';
import { createSecondFactors } from './factors.service.ts';
import { nextStep, policyRequiresMfa, type MfaPolicy } from './policy.ts';

export interface MfaDeps {
  knex: Knex;
  box: SecretBox;
  /** The name authenticator apps show (the brand name). */
  issuerName: string;
  policy: MfaPolicy;
  throttle: LoginThrottle;
  events: SecurityEvents;
  onAccountLocked?: (accountId: string, retryAfterSeconds: number) => void;
  /** A factor was added to the account (mailing its owner, src/accounts/mfa/notices.ts). Not awaited. */
  onFactorAdded?: (accountId: string) => void;
  now?: () => number;
}

/**
 * Multi-factor sign-in (issue 13), as the sign-in pages, `/account` and `/session/login` use it:
 * the account's factors, the throttle every code goes through, and the policy deciding what
 * follows a right password.
 */
export function createMfa({ knex, box, issuerName, policy, throttle, events, onAccountLocked, onFactorAdded, now }: MfaDeps) {
  const factors = createSecondFactors({ knex, box, issuerName, now });
  return {
    factors,
    guard: createCodeGuard({ throttle, events, onAccountLocked }),
    policy,
    /** Call once a factor was added (enrolment confirmed, passkey registered). */
    factorAdded: (accountId: string) => onFactorAdded?.(accountId),
    /** After a right password: nothing more, the account's second factor, or enrolling one. `askedMfa`: the client's acr_values. */
    async nextStep(account: Pick<Account, 'id' | 'roles'>, { askedMfa = false } = {}) {
      return nextStep({ hasFactor: await factors.hasFactor(account.id), required: askedMfa || policyRequiresMfa(policy, account) });
    },
  };
}

export type Mfa = ReturnType<typeof createMfa>;
