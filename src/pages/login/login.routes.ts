import type { FastifyInstance } from 'fastify';
import type { Accounts } from '../../accounts/accounts.service.ts';
import type { PasswordLogin } from '../../accounts/passwords/password-login.ts';
import type { Config } from '../../config.ts';
import { AppError, TooManyAttemptsError } from '../../errors.ts';
import { SESSION_PREFIX } from '../../first-party/client-metadata.ts';
import { translate } from '../../http/views.ts';
import type { OidcHost } from '../../oidc/host.ts';
import type { CaptchaVerifier } from '../../security/captcha.ts';
import { requestContext } from '../../security/events.ts';
import type { LoginThrottle } from '../../security/login-throttle.ts';
import { CONSENT_TEMPLATE, consentView } from '../consent/consent.view.ts';
import { clientNameOf, finishInteraction, interactionDetails, type InteractionParams } from '../interaction.ts';
import { captchaWidget } from '../page.ts';
import { LOGIN_TEMPLATE, loginView } from './login.view.ts';

export interface LoginOptions {
  config: Pick<Config, 'issuer' | 'firstParty'>;
  host: OidcHost;
  accounts: Accounts;
  passwordLogin: PasswordLogin;
  captcha: CaptchaVerifier;
  throttle: LoginThrottle;
}

type LoginBody = { login?: unknown; password?: unknown };

/**
 * Signing in. `GET /interaction/:uid` is where oidc-provider sends the browser for each step of
 * an OIDC sign-in: the login form here, or the consent page (src/pages/consent) once the person
 * is known. `POST /interaction/:uid/login` checks the password under the login rules of
 * src/accounts/passwords/password-login.ts; `/abort` cancels the sign-in (from either page).
 * `GET /login` is Gatehouse's own sign-in, to `/account`.
 */
export async function loginRoutes(app: FastifyInstance, { config, host, accounts, passwordLogin, captcha }: LoginOptions) {
  /** The widget to show when the next attempt for this login will need a captcha. */
  async function captchaFor(login: string, ip: string) {
    if (!captcha.enabled || !login) return undefined;
    return (await passwordLogin.peek(login, ip)).captchaRequired ? captchaWidget(captcha) : undefined;
  }

  app.get<{ Params: InteractionParams; Querystring: { verified?: unknown } }>('/interaction/:uid', async (request, reply) => {
    const interaction = await interactionDetails(host, request, reply);
    const clientName = await clientNameOf(host, interaction.params.client_id);
    if (interaction.prompt.name === 'login') {
      const verified = [request.query.verified].flat()[0] === '1';
      return reply.view(LOGIN_TEMPLATE, loginView({ uid: interaction.uid, clientName, login: interaction.params.login_hint, verified }));
    }
    const account = interaction.session?.accountId ? await accounts.findById(interaction.session.accountId) : undefined;
    return reply
      .view(CONSENT_TEMPLATE, consentView({ uid: interaction.uid, clientName, accountEmail: account?.email, scope: interaction.params.scope }));
  });

  app.post<{ Params: InteractionParams; Body: LoginBody }>('/interaction/:uid/login', async (request, reply) => {
    const interaction = await interactionDetails(host, request, reply);
    if (interaction.prompt.name !== 'login') throw new AppError('INTERACTION_STATE', 400, translate('error.interaction_expired'));
    const { login, password } = request.body ?? {};
    const loginText = typeof login === 'string' ? login : '';
    try {
      const account = await passwordLogin(
        requestContext(request),
        { login: loginText, captchaToken: captcha.tokenFrom(request.body), clientId: String(interaction.params.client_id) },
        () => accounts.authenticate(loginText, typeof password === 'string' ? password : ''),
      );
      return await finishInteraction(host, request, reply, { login: { accountId: account.id, amr: ['pwd'] } });
    } catch (err) {
      if (!(err instanceof AppError) || err.statusCode >= 500) throw err;
      const view = loginView({
        uid: interaction.uid,
        clientName: await clientNameOf(host, interaction.params.client_id),
        error: err.message,
        code: err.code,
        login: loginText || undefined,
        captcha: await captchaFor(loginText, request.ip),
      });
      // 403: the address is not confirmed; 429: too many attempts (TooManyAttemptsError); else 400.
      if (err instanceof TooManyAttemptsError) reply.header('retry-after', String(err.retryAfterSeconds));
      return reply.code(err.statusCode === 403 || err.statusCode === 429 ? err.statusCode : 400).view(LOGIN_TEMPLATE, view);
    }
  });

  app.post<{ Params: InteractionParams }>('/interaction/:uid/abort', async (request, reply) => {
    await interactionDetails(host, request, reply);
    return finishInteraction(host, request, reply, { error: 'access_denied', error_description: 'End-User aborted interaction' });
  });

  // CONTRACT.md "Hosted pages": /login is Gatehouse's own first-party sign-in (the same
  // `/session/start` any first-party app uses, src/first-party), back to /account.
  app.get<{ Querystring: { return_to?: unknown } }>('/login', async (request, reply) => {
    const returnTo = typeof request.query.return_to === 'string' ? request.query.return_to : `${config.issuer}/account`;
    const start = new URLSearchParams({ client_id: config.firstParty.builtinClientId, return_to: returnTo });
    return reply.redirect(`${SESSION_PREFIX}/start?${start}`, 303);
  });
}
