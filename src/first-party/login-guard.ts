import type { FastifyRequest } from 'fastify';
import type { Account } from '../accounts/accounts.service.ts';

/** What `POST /session/login` received, less the password. */
export interface LoginAttempt {
  clientId: string;
  login: string;
  captcha?: string;
}

/**
 * Where captcha checks and brute-force throttling (issue 5, src/security) plug into
 * `POST /session/login`, so that it keeps the hosted login's rules: the guard runs around the
 * password check. It may refuse before it (throw an AppError: CAPTCHA_REQUIRED, TOO_MANY_ATTEMPTS...),
 * call `authenticate` (which throws InvalidCredentialsError or EmailNotVerifiedError), and count
 * the outcome. Passed to `firstPartyRoutes` in src/app.ts.
 */
export type LoginGuard = (request: FastifyRequest, attempt: LoginAttempt, authenticate: () => Promise<Account>) => Promise<Account>;

/** No captcha, no throttling: until issue 5 passes its guard. */
export const unguardedLogin: LoginGuard = (_request, _attempt, authenticate) => authenticate();
