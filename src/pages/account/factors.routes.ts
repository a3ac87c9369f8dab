import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Mfa } from '../../accounts/mfa/mfa.ts';
import { AppError, TooManyAttemptsError } from '../../errors.ts';
import type { SessionUser } from '../../first-party/session.ts';
import { failedSchema, formBody, formRoute, formText, NO_INPUT } from '../../http/schemas.ts';
import { MFA_ENROLLED, MFA_RECOVERY_CODES_REGENERATED, MFA_REMOVED, requestContext, type SecurityEvents } from '../../security/events.ts';
import { confirmView, enrolView, MFA_TEMPLATES, recoveryCodesView } from '../mfa/mfa.view.ts';
import { auditOf, field, page } from '../page.ts';

export interface AccountFactorsOptions {
  events: SecurityEvents;
  mfa: Mfa;
  currentUser: (request: FastifyRequest) => Promise<SessionUser | undefined>;
}

const codeForm = formRoute({ body: formBody({ code: formText.optional() }) });

/**
 * The second factors of the signed-in account (CONTRACT.md "Multi-factor sign-in"):
 * `/account/totp` adds an authenticator app (QR code, then a first code confirms it and the
 * recovery codes are shown once); `/account/totp/remove` and `/account/recovery-codes` take a
 * fresh code before they remove it or renew the codes. Every code goes through the sign-in
 * throttle, so a stolen session cannot guess its way to the factor.
 */
export async function accountFactorsRoutes(scope: FastifyInstance, { events, mfa, currentUser }: AccountFactorsOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const toLogin = (reply: FastifyReply) => reply.redirect('/login', 303);

  /** The signed-in person with e-mail, or undefined (then the caller sends them to sign in). */
  async function signedIn(request: FastifyRequest) {
    const user = await currentUser(request);
    return user ? { id: user.sub, email: user.email ?? user.sub } : undefined;
  }

  function refusal(err: unknown, reply: FastifyReply) {
    if (!(err instanceof AppError) || err.statusCode >= 500) throw err;
    if (err instanceof TooManyAttemptsError) reply.header('retry-after', String(err.retryAfterSeconds));
    return { state: { error: err.message, fields: err.fields ?? {} }, status: err.statusCode === 429 ? 429 : 400 };
  }

  async function enrolPage(reply: FastifyReply, account: { id: string; email: string }, state = {}, status = 200) {
    const totp = (await mfa.factors.pendingTotp(account)) ?? (await mfa.factors.startTotp(account));
    if (!totp) return reply.redirect('/account', 303);
    return page(reply, MFA_TEMPLATES.enrol, await enrolView({ ...totp, action: '/account/totp', cancelUrl: '/account', ...state }), status);
  }

  app.get('/account/totp', { schema: NO_INPUT }, async (request, reply) => {
    const account = await signedIn(request);
    return account ? enrolPage(reply, account) : toLogin(reply);
  });

  app.post('/account/totp', codeForm, async (request, reply) => {
    const account = await signedIn(request);
    if (!account) return toLogin(reply);
    let codes: string[];
    try {
      failedSchema(request);
      codes = await mfa.guard(requestContext(request), account.id, () => mfa.factors.confirmTotp(account.id, field(request.body.code)));
    } catch (err) {
      const { state, status } = refusal(err, reply);
      return enrolPage(reply, account, state, status);
    }
    await events.record(MFA_ENROLLED, { ...auditOf(request, account.id), details: { method: 'totp', during: 'account' } });
    mfa.factorAdded(account.id);
    return page(reply, MFA_TEMPLATES.recoveryCodes, recoveryCodesView(codes, '/account'));
  });

  for (const what of ['remove', 'regenerate'] as const) {
    const path = what === 'remove' ? '/account/totp/remove' : '/account/recovery-codes';
    app.get(path, { schema: NO_INPUT }, async (request, reply) => {
      const account = await signedIn(request);
      if (!account) return toLogin(reply);
      if (!(await mfa.factors.hasFactor(account.id))) return reply.redirect('/account', 303);
      return page(reply, MFA_TEMPLATES.confirm, confirmView(what));
    });
    app.post(path, codeForm, async (request, reply) => {
      const account = await signedIn(request);
      if (!account) return toLogin(reply);
      const code = field(request.body.code);
      try {
        failedSchema(request);
        if (what === 'remove') {
          await mfa.guard(requestContext(request), account.id, () => mfa.factors.removeTotp(account.id, code));
        } else {
          const codes = await mfa.guard(requestContext(request), account.id, () => mfa.factors.regenerateRecoveryCodes(account.id, code));
          await events.record(MFA_RECOVERY_CODES_REGENERATED, auditOf(request, account.id));
          return page(reply, MFA_TEMPLATES.recoveryCodes, recoveryCodesView(codes, '/account'));
        }
      } catch (err) {
        const { state, status } = refusal(err, reply);
        return page(reply, MFA_TEMPLATES.confirm, confirmView(what, state), status);
      }
      await events.record(MFA_REMOVED, { ...auditOf(request, account.id), details: { method: 'totp' } });
      return reply.redirect('/account?done=mfa_removed', 303);
    });
  }
}
