import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors, type InteractionResults } from 'oidc-provider';
import type { Accounts } from '../accounts/accounts.service.ts';
import { AppError } from '../errors.ts';
import { translate } from '../http/views.ts';
import type { OidcHost } from '../oidc/host.ts';
import type { CaptchaVerifier } from '../security/captcha.ts';
import { requestContext } from '../security/events.ts';
import type { LoginThrottle } from '../security/login-throttle.ts';
import type { PasswordLogin } from '../accounts/passwords/password-login.ts';

interface Params {
  uid: string;
}

type LoginBody = { login?: unknown; password?: unknown };

/**
 * Login and consent inside an OIDC flow (`/interaction/:uid`). The interaction cookie that
 * oidc-provider sets for exactly this path binds the form to the browser that started the
 * flow, which is what makes these forms safe from login CSRF.
 */
export async function interactionRoutes(
  app: FastifyInstance,
  { host, accounts, passwordLogin, captcha, throttle }: { host: OidcHost; accounts: Accounts; passwordLogin: PasswordLogin; captcha: CaptchaVerifier; throttle: LoginThrottle },
) {
  /** The widget to show when the next attempt for this login will need a captcha. */
  async function captchaFor(login: unknown, ip: string) {
    if (!captcha.enabled || typeof login !== 'string' || !login) return undefined;
    const state = await throttle.peek(login, ip);
    return state.captchaRequired ? { siteKey: captcha.siteKey, scriptUrl: captcha.widget!.scriptUrl, className: captcha.widget!.className } : undefined;
  }

  async function details(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) {
    try {
      const found = await host.provider.interactionDetails(request.raw, reply.raw);
      if (found.uid !== request.params.uid) throw new errors.SessionNotFound('interaction mismatch');
      return found;
    } catch (err) {
      if (err instanceof errors.SessionNotFound || err instanceof errors.InvalidRequest) {
        throw new AppError('INTERACTION_EXPIRED', 400, translate('error.interaction_expired'));
      }
      throw err;
    }
  }

  async function finish(request: FastifyRequest, reply: FastifyReply, result: InteractionResults) {
    // A consent completes the sign-in it follows: keep that login in the result, or a request
    // with prompt=login would ask for the password again after every consent.
    const to = await host.provider.interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: !result.login });
    // 303: the browser follows with GET, never re-posting the credentials.
    return reply.header('cache-control', 'no-store').redirect(to, 303);
  }

  async function renderLogin(reply: FastifyReply, uid: string, clientName: string | undefined, extra: Record<string, unknown> = {}) {
    return reply
      .header('cache-control', 'no-store')
      .view('login', {
        title: translate('login.title'),
        action: `/interaction/${uid}/login`,
        abortUrl: `/interaction/${uid}/abort`,
        registerUrl: `/register?interaction=${encodeURIComponent(uid)}`,
        clientName,
        ...extra,
      });
  }

  app.get<{ Params: Params }>('/interaction/:uid', async (request, reply) => {
    const interaction = await details(request, reply);
    const client = await host.provider.Client.find(String(interaction.params.client_id));
    const clientName = client?.clientName ?? client?.clientId;
    if (interaction.prompt.name === 'login') {
      return renderLogin(reply, interaction.uid, clientName, { login: interaction.params.login_hint });
    }
    const account = interaction.session?.accountId ? await accounts.findById(interaction.session.accountId) : undefined;
    const scopes = [...new Set(String(interaction.params.scope ?? '').split(' ').filter(Boolean))];
    return reply.header('cache-control', 'no-store').view('consent', {
      title: translate('consent.title'),
      clientName,
      accountEmail: account?.email,
      scopes: scopes.map((s) => translate(`scope.${s}`)),
      action: `/interaction/${interaction.uid}/confirm`,
      abortUrl: `/interaction/${interaction.uid}/abort`,
    });
  });

  app.post<{ Params: Params; Body: LoginBody }>('/interaction/:uid/login', async (request, reply) => {
    const interaction = await details(request, reply);
    if (interaction.prompt.name !== 'login') throw new AppError('INTERACTION_STATE', 400, translate('error.interaction_expired'));
    const { login, password } = request.body ?? {};
    const loginText = typeof login === 'string' ? login : '';
    try {
      const account = await passwordLogin(
        requestContext(request),
        { login: loginText, captchaToken: captcha.tokenFrom(request.body), clientId: String(interaction.params.client_id) },
        () => accounts.authenticate(loginText, typeof password === 'string' ? password : ''),
      );
      return await finish(request, reply, { login: { accountId: account.id, amr: ['pwd'] } });
    } catch (err) {
      if (!(err instanceof AppError) || err.statusCode >= 500) throw err;
      const client = await host.provider.Client.find(String(interaction.params.client_id));
      reply.code(err.statusCode === 403 ? 403 : 400);
      return renderLogin(reply, interaction.uid, client?.clientName ?? client?.clientId, {
        error: err.message,
        code: err.code,
        login: loginText || undefined,
        captcha: await captchaFor(loginText, request.ip),
      });
    }
  });

  app.post<{ Params: Params }>('/interaction/:uid/confirm', async (request, reply) => {
    const interaction = await details(request, reply);
    if (interaction.prompt.name !== 'consent' || !interaction.session) {
      throw new AppError('INTERACTION_STATE', 400, translate('error.interaction_expired'));
    }
    const { Grant } = host.provider;
    const grant = interaction.grantId
      ? await Grant.find(interaction.grantId)
      : new Grant({ accountId: interaction.session.accountId, clientId: String(interaction.params.client_id) });
    if (!grant) throw new AppError('INTERACTION_STATE', 400, translate('error.interaction_expired'));
    const missing = interaction.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return finish(request, reply, { consent: { grantId } });
  });

  app.post<{ Params: Params }>('/interaction/:uid/abort', async (request, reply) => {
    await details(request, reply);
    return finish(request, reply, { error: 'access_denied', error_description: 'End-User aborted interaction' });
  });
}
