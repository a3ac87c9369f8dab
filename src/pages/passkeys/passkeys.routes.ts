import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Accounts } from '../../accounts/accounts.service.ts';
import { acrOf } from '../../accounts/mfa/policy.ts';
import type { Mfa } from '../../accounts/mfa/mfa.ts';
import { PasskeyError, type Passkeys } from '../../accounts/passkeys/passkeys.service.ts';
import { AppError } from '../../errors.ts';
import type { SessionUser } from '../../first-party/session.ts';
import { formBody, formText, jsonBody } from '../../http/schemas.ts';
import type { OidcHost } from '../../oidc/host.ts';
import { LOGIN_SUCCEEDED, MFA_ENROLLED, MFA_REMOVED, type SecurityEvents } from '../../security/events.ts';
import { interactionDetails, interactionParams } from '../interaction.ts';
import { auditOf } from '../page.ts';

export interface PasskeyPagesOptions {
  host: OidcHost;
  accounts: Accounts;
  events: SecurityEvents;
  passkeys: Passkeys;
  mfa: Pick<Mfa, 'factorAdded'>;
  currentUser: (request: FastifyRequest) => Promise<SessionUser | undefined>;
}

/**
 * The scripts of a page that offers passkeys, by their asset names (src/http/assets.ts: served
 * from our own origin, content-hashed; the CSP allows 'self' only).
 */
export const PASSKEY_SCRIPTS = ['simplewebauthn-browser.js', 'passkeys.js'];

/** A PublicKeyCredential as the browser library serializes it; the library verifies the rest. */
const credential = z.looseObject({ id: z.string().max(1400), rawId: z.string().max(1400), type: z.string(), response: z.looseObject({}) });
const registerBody = jsonBody({ _csrf: z.string().optional(), name: z.string().max(200).optional(), credential });
const csrfOnly = jsonBody({ _csrf: z.string().optional() });

class SignInRequiredError extends AppError {
  constructor() {
    super('UNAUTHENTICATED', 401, 'Sign in first.');
  }
}

/**
 * Passkeys (CONTRACT.md "Multi-factor sign-in"): the login page's button and autofill
 * (`/interaction/:uid/passkey/*`, JSON for views/assets/passkeys.js), and `/account`'s list,
 * "add a passkey" (JSON) and "remove" (a form). A passkey sign-in completes the interaction
 * with `hwk` or `swk` and `mfa` (user verification is required).
 */
export async function passkeyRoutes(scope: FastifyInstance, { host, accounts, events, passkeys, mfa, currentUser }: PasskeyPagesOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  /** The interaction, only while it asks who the person is. */
  async function loginStep(request: FastifyRequest<{ Params: { uid: string } }>, reply: FastifyReply) {
    const interaction = await interactionDetails(host, request, reply);
    if (interaction.prompt.name !== 'login') throw new PasskeyError();
    return interaction;
  }

  app.post('/interaction/:uid/passkey/options', { schema: { params: interactionParams, body: csrfOnly } }, async (request, reply) => {
    await loginStep(request, reply);
    return passkeys.authenticationOptions();
  });

  app.post('/interaction/:uid/passkey', { schema: { params: interactionParams, body: jsonBody({ credential }) } }, async (request, reply) => {
    const interaction = await loginStep(request, reply);
    const { accountId, amr } = await passkeys.authenticate(request.body.credential as unknown as AuthenticationResponseJSON);
    const account = await accounts.findById(accountId);
    if (!account || account.disabled) throw new PasskeyError();
    await events.record(LOGIN_SUCCEEDED, { ...auditOf(request, accountId), details: { clientId: String(interaction.params.client_id), method: 'passkey' } });
    const login = { accountId, acr: acrOf(amr), amr, ts: Math.floor(Date.now() / 1000) };
    const to = await host.provider.interactionResult(request.raw, reply.raw, { login }, { mergeWithLastSubmission: false });
    return { redirect: to };
  });

  /** The signed-in person of /account, or 401 (JSON) / to /login (a form). */
  async function person(request: FastifyRequest) {
    const user = await currentUser(request);
    const account = user ? await accounts.findById(user.sub) : undefined;
    return account && !account.disabled ? account : undefined;
  }

  app.post('/account/passkeys/options', { schema: { body: csrfOnly } }, async (request) => {
    const account = await person(request);
    if (!account) throw new SignInRequiredError();
    return passkeys.registrationOptions(account);
  });

  app.post('/account/passkeys', { schema: { body: registerBody } }, async (request) => {
    const account = await person(request);
    if (!account) throw new SignInRequiredError();
    await passkeys.register(account.id, request.body.name ?? '', request.body.credential as unknown as RegistrationResponseJSON);
    await events.record(MFA_ENROLLED, { ...auditOf(request, account.id), details: { method: 'passkey' } });
    mfa.factorAdded(account.id);
    return { redirect: '/account?done=passkey_added' };
  });

  app.post('/account/passkeys/remove', { schema: { body: formBody({ id: formText.max(1400).optional() }) } }, async (request, reply) => {
    const account = await person(request);
    if (!account) return reply.redirect('/login', 303);
    if (request.body.id && (await passkeys.remove(account.id, request.body.id))) {
      await events.record(MFA_REMOVED, { ...auditOf(request, account.id), details: { method: 'passkey' } });
    }
    return reply.redirect('/account?done=passkey_removed', 303);
  });
}
