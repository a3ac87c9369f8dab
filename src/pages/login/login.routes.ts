import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Accounts } from '../../accounts/accounts.service.ts';
import type { PasswordLogin } from '../../accounts/passwords/password-login.ts';
import type { Config } from '../../config.ts';
import { AppError, TooManyAttemptsError } from '../../errors.ts';
import { SESSION_PREFIX } from '../../first-party/client-metadata.ts';
import { failedSchema, formBody, formRoute, formText, queryText } from '../../http/schemas.ts';
import { translate } from '../../http/views.ts';
import type { OidcHost } from '../../oidc/host.ts';
import type { CaptchaVerifier } from '../../security/captcha.ts';
import { requestContext } from '../../security/events.ts';
import type { LoginThrottle } from '../../security/login-throttle.ts';
import { CONSENT_TEMPLATE, consentView } from '../consent/consent.view.ts';
import { clientOf, finishInteraction, interactionDetails, interactionParams } from '../interaction.ts';
import { captchaWidget, field } from '../page.ts';
import { continueAfterPassword } from '../mfa/mfa.routes.ts';
import type { Mfa } from '../../accounts/mfa/mfa.ts';
import { LOGIN_TEMPLATE, loginView } from './login.view.ts';

export interface LoginOptions {
  config: Pick<Config, 'issuer' | 'firstParty' | 'ttl'>;
  host: OidcHost;
  accounts: Accounts;
  passwordLogin: PasswordLogin;
  captcha: CaptchaVerifier;
  throttle: LoginThrottle;
  /** What follows a right password: a second factor, when the account has one or must (issue 13). */
  mfa: Mfa;
}

// `verified=1`: back from a confirmation link (src/pages/verification); repeating it is harmless.
const pageSchema = { params: interactionParams, querystring: z.looseObject({ verified: z.union([queryText, z.array(queryText)]).optional() }) };
// A wrong or missing login or password is the credentials' answer (no enumeration): the schema
// only refuses what is not one string. A NUL in `login` is a wrong login, not a form error.
const loginSchema = { params: interactionParams, body: formBody({ login: formText.optional(), password: formText.optional() }) };

/**
 * Signing in. `GET /interaction/:uid` is where oidc-provider sends the browser for each step of
 * an OIDC sign-in: the login form here, or the consent page (src/pages/consent) once the person
 * is known. `POST /interaction/:uid/login` checks the password under the login rules of
 * src/accounts/passwords/password-login.ts; `/abort` cancels the sign-in (from either page).
 * `GET /login` is Gatehouse's own sign-in, to `/account`.
 */
export async function loginRoutes(scope: FastifyInstance, { config, host, accounts, passwordLogin, captcha, mfa }: LoginOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  /** The widget to show when the next attempt for this login will need a captcha. */
  async function captchaFor(login: string, ip: string) {
    if (!captcha.enabled || !login) return undefined;
    return (await passwordLogin.peek(login, ip)).captchaRequired ? captchaWidget(captcha) : undefined;
  }

  app.get('/interaction/:uid', { schema: pageSchema }, async (request, reply) => {
    const interaction = await interactionDetails(host, request, reply);
    const client = await clientOf(host, interaction.params.client_id, config.firstParty.builtinClientId);
    if (interaction.prompt.name === 'login') {
      const verified = [request.query.verified].flat()[0] === '1';
      return reply.view(LOGIN_TEMPLATE, loginView({ uid: interaction.uid, client, login: interaction.params.login_hint, verified }));
    }
    const account = interaction.session?.accountId ? await accounts.findById(interaction.session.accountId) : undefined;
    return reply
      .view(CONSENT_TEMPLATE, consentView({ uid: interaction.uid, client, accountEmail: account?.email, scope: interaction.params.scope }));
  });

  app.post('/interaction/:uid/login', formRoute(loginSchema), async (request, reply) => {
    const interaction = await interactionDetails(host, request, reply);
    if (interaction.prompt.name !== 'login') throw new AppError('INTERACTION_STATE', 400, translate('error.interaction_expired'));
    // Read as field(): when the schema refused the body, it is the body as it came.
    const loginText = field(request.body.login);
    try {
      failedSchema(request);
      const account = await passwordLogin(
        requestContext(request),
        { login: loginText, captchaToken: captcha.tokenFrom(request.body), clientId: String(interaction.params.client_id) },
        () => accounts.authenticate(loginText, field(request.body.password)),
      );
      return await continueAfterPassword({ config, host, mfa }, request, reply, interaction, account);
    } catch (err) {
      if (!(err instanceof AppError) || err.statusCode >= 500) throw err;
      const view = loginView({
        uid: interaction.uid,
        client: await clientOf(host, interaction.params.client_id, config.firstParty.builtinClientId),
        error: err.message,
        code: err.code,
        fields: err.fields,
        login: loginText || undefined,
        captcha: await captchaFor(loginText, request.ip),
      });
      // 403: the address is not confirmed; 429: too many attempts (TooManyAttemptsError); else 400.
      if (err instanceof TooManyAttemptsError) reply.header('retry-after', String(err.retryAfterSeconds));
      return reply.code(err.statusCode === 403 || err.statusCode === 429 ? err.statusCode : 400).view(LOGIN_TEMPLATE, view);
    }
  });

  app.post('/interaction/:uid/abort', { schema: { params: interactionParams } }, async (request, reply) => {
    await interactionDetails(host, request, reply);
    return finishInteraction(host, request, reply, { error: 'access_denied', error_description: 'End-User aborted interaction' });
  });

  // CONTRACT.md "Hosted pages": /login is Gatehouse's own first-party sign-in (the same
  // `/session/start` any first-party app uses, src/first-party), back to /account.
  app.get('/login', { schema: { querystring: z.looseObject({ return_to: queryText.optional() }) } }, async (request, reply) => {
    const returnTo = request.query.return_to ?? `${config.issuer}/account`;
    const start = new URLSearchParams({ client_id: config.firstParty.builtinClientId, return_to: returnTo });
    return reply.redirect(`${SESSION_PREFIX}/start?${start}`, 303);
  });
}
