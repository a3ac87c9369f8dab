import type { FastifyInstance } from 'fastify';
import { accountRoutes, type AccountOptions } from './account/account.routes.ts';
import { createBackground } from './background.ts';
import { consentRoutes } from './consent/consent.routes.ts';
import { loginRoutes, type LoginOptions } from './login/login.routes.ts';
import { mfaPagesRoutes, type MfaPagesOptions } from './mfa/mfa.routes.ts';
import { passkeyRoutes, type PasskeyPagesOptions } from './passkeys/passkeys.routes.ts';
import { recoveryRoutes, type RecoveryOptions } from './recovery/recovery.routes.ts';
import { registrationRoutes, type RegistrationOptions } from './registration/registration.routes.ts';
import { verificationRoutes, type VerificationOptions } from './verification/verification.routes.ts';

/** What the hosted pages need, all of it passed in (src/app.ts). */
export type PagesOptions = LoginOptions & RegistrationOptions & Omit<VerificationOptions, 'background'> & Omit<RecoveryOptions, 'background'> & AccountOptions & MfaPagesOptions & PasskeyPagesOptions;

/**
 * The hosted pages, one folder per flow, each with its routes and its view model (the data
 * and names of its templates in views/): login, consent, registration, verification,
 * recovery, account. Logout's pages are oidc-provider's `/logout` (src/pages/logout, wired
 * into the provider's configuration). Register inside the scope that parses forms and checks
 * CSRF tokens (src/app.ts).
 */
export async function pagesRoutes(app: FastifyInstance, options: PagesOptions) {
  // "Mail me a link" answers before the work is done; closing waits for it.
  const background = createBackground(app.log);
  app.addHook('onClose', () => background.drain());
  const withBackground = { ...options, background };

  await app.register(loginRoutes, options);
  await app.register(mfaPagesRoutes, options);
  await app.register(passkeyRoutes, options);
  await app.register(consentRoutes, options);
  await app.register(registrationRoutes, options);
  await app.register(verificationRoutes, withBackground);
  await app.register(recoveryRoutes, withBackground);
  await app.register(accountRoutes, options);
}
