import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Accounts } from '../../accounts/accounts.service.ts';
import type { Mfa } from '../../accounts/mfa/mfa.ts';
import { AMR, MFA_ACR, PASSWORD_ACR } from '../../accounts/mfa/policy.ts';
import type { Config } from '../../config.ts';
import { AppError, TooManyAttemptsError } from '../../errors.ts';
import { failedSchema, formBody, formRoute, formText } from '../../http/schemas.ts';
import type { OidcHost } from '../../oidc/host.ts';
import { MFA_ENROLLED, MFA_RECOVERY_CODE_USED, requestContext, type SecurityEvents } from '../../security/events.ts';
import { clientNameOf, finishInteraction, interactionDetails, interactionExpired, interactionParams, type Interaction } from '../interaction.ts';
import { auditOf, field, page } from '../page.ts';
import { codeView, enrolView, MFA_TEMPLATES, recoveryCodesView } from './mfa.view.ts';
import { forgetPending, pendingOf, rememberPending } from './pending.ts';

export interface MfaPagesOptions {
  config: Pick<Config, 'issuer' | 'ttl'>;
  host: OidcHost;
  accounts: Accounts;
  events: SecurityEvents;
  mfa: Mfa;
}

const codeSchema = { params: interactionParams, body: formBody({ code: formText.optional() }) };

/** Whether the client asked for a multi-factor sign-in (`acr_values`, OIDC Core §3.1.2.1). */
export function asksForMfa(interaction: Interaction): boolean {
  const asked = interaction.params.acr_values;
  return typeof asked === 'string' && asked.split(' ').includes(MFA_ACR);
}

/**
 * After a right password (src/pages/login): signs the person in with the password alone, or
 * sends them to the second factor (`/interaction/:uid/mfa`), enrolling one first when the policy
 * or the client wants two factors and the account has none.
 */
export async function continueAfterPassword(
  { config, host, mfa }: Pick<MfaPagesOptions, 'config' | 'host' | 'mfa'>,
  request: FastifyRequest,
  reply: FastifyReply,
  interaction: Interaction,
  account: { id: string; roles: string[] },
) {
  const step = await mfa.nextStep(account, { askedMfa: asksForMfa(interaction) });
  if (step === 'none') return finishInteraction(host, request, reply, { login: { accountId: account.id, acr: PASSWORD_ACR, amr: [AMR.password] } });
  rememberPending(reply, config, { uid: interaction.uid, accountId: account.id, ts: Math.floor(Date.now() / 1000) });
  return reply.redirect(`/interaction/${interaction.uid}/mfa`, 303);
}

/** The sign-in's result once both factors are in (RFC 8176: `mfa` when two were used). */
const twoFactorLogin = (accountId: string, ts: number) => ({ login: { accountId, acr: MFA_ACR, amr: [AMR.password, AMR.otp, AMR.multiFactor], ts } });

/**
 * The second step of an OIDC sign-in (CONTRACT.md "Multi-factor sign-in"): `GET
 * /interaction/:uid/mfa` asks for a TOTP code or a recovery code (or, for an account that must
 * have a factor and has none, shows the enrolment), `POST` checks it under the sign-in
 * throttle, and `POST .../mfa/enrol` confirms a new authenticator and shows its recovery codes.
 */
export async function mfaPagesRoutes(scope: FastifyInstance, options: MfaPagesOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const { host, accounts, events, mfa } = options;

  /** The interaction and its pending sign-in, or the "sign-in expired" page. */
  async function pendingStep(request: FastifyRequest<{ Params: { uid: string } }>, reply: FastifyReply) {
    const interaction = await interactionDetails(host, request, reply);
    const pending = pendingOf(request, interaction.uid);
    const account = pending && interaction.prompt.name === 'login' ? await accounts.findById(pending.accountId) : undefined;
    if (!pending || !account || account.disabled) throw interactionExpired();
    return { interaction, pending, account };
  }

  /** The enrolment to show (the one pending, or a new one); undefined once the account has a factor. */
  async function enrolment(account: { id: string; email: string }) {
    return (await mfa.factors.pendingTotp(account)) ?? (await mfa.factors.startTotp(account));
  }

  async function enrolPage(reply: FastifyReply, uid: string, totp: { uri: string; secret: string }, state: { error?: string; fields?: Record<string, string> } = {}, status = 200) {
    const view = await enrolView({ ...totp, action: `/interaction/${uid}/mfa/enrol`, required: true, ...state });
    return page(reply, MFA_TEMPLATES.enrol, { ...view, abortUrl: `/interaction/${uid}/abort` }, status);
  }

  /** A refused code: the same page again with the reason (429 with Retry-After once locked). */
  function refusal(err: unknown, reply: FastifyReply) {
    if (!(err instanceof AppError) || err.statusCode >= 500) throw err;
    if (err instanceof TooManyAttemptsError) reply.header('retry-after', String(err.retryAfterSeconds));
    return { state: { error: err.message, fields: err.fields ?? {} }, status: err.statusCode === 429 ? 429 : 400 };
  }

  app.get('/interaction/:uid/mfa', { schema: { params: interactionParams } }, async (request, reply) => {
    const { interaction, account } = await pendingStep(request, reply);
    const totp = (await mfa.factors.hasFactor(account.id)) ? undefined : await enrolment(account);
    if (totp) return enrolPage(reply, interaction.uid, totp);
    return page(reply, MFA_TEMPLATES.code, codeView({ uid: interaction.uid, clientName: await clientNameOf(host, interaction.params.client_id) }));
  });

  app.post('/interaction/:uid/mfa', formRoute(codeSchema), async (request, reply) => {
    const { interaction, pending, account } = await pendingStep(request, reply);
    try {
      failedSchema(request);
      const kind = await mfa.guard(requestContext(request), account.id, () => mfa.factors.verify(account.id, field(request.body.code)));
      if (kind === 'recovery') await events.record(MFA_RECOVERY_CODE_USED, auditOf(request, account.id));
    } catch (err) {
      const { state, status } = refusal(err, reply);
      const clientName = await clientNameOf(host, interaction.params.client_id);
      return page(reply, MFA_TEMPLATES.code, codeView({ uid: interaction.uid, clientName, ...state }), status);
    }
    forgetPending(reply, interaction.uid);
    return finishInteraction(host, request, reply, twoFactorLogin(account.id, pending.ts));
  });

  app.post('/interaction/:uid/mfa/enrol', formRoute(codeSchema), async (request, reply) => {
    const { interaction, pending, account } = await pendingStep(request, reply);
    let codes: string[];
    try {
      failedSchema(request);
      codes = await mfa.guard(requestContext(request), account.id, () => mfa.factors.confirmTotp(account.id, field(request.body.code)));
    } catch (err) {
      const { state, status } = refusal(err, reply);
      const totp = await enrolment(account);
      return totp ? enrolPage(reply, interaction.uid, totp, state, status) : reply.redirect(`/interaction/${interaction.uid}/mfa`, 303);
    }
    await events.record(MFA_ENROLLED, { ...auditOf(request, account.id), details: { method: 'totp', during: 'sign_in' } });
    mfa.factorAdded(account.id);
    forgetPending(reply, interaction.uid);
    // The sign-in is complete; the codes are shown once before the browser goes on to the client.
    const to = await host.provider.interactionResult(request.raw, reply.raw, twoFactorLogin(account.id, pending.ts), { mergeWithLastSubmission: false });
    return page(reply, MFA_TEMPLATES.recoveryCodes, recoveryCodesView(codes, to));
  });
}
