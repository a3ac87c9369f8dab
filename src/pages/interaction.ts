import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors, type InteractionResults } from 'oidc-provider';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { showableImage } from '../http/brand.ts';
import { translate } from '../http/views.ts';
import { firstSupported, setLocale } from '../i18n/locale.ts';
import type { OidcHost } from '../oidc/host.ts';

/**
 * What the login and consent pages share: an OIDC interaction (`/interaction/:uid`) of
 * oidc-provider. The interaction cookie oidc-provider sets for exactly this path binds the
 * forms to the browser that started the flow, which is what makes them safe from login CSRF.
 */

export interface InteractionParams {
  uid: string;
}

/** `/interaction/:uid`: any uid is looked up (an unknown one is `interactionExpired`); the router caps its length. */
export const interactionParams = z.object({ uid: z.string() });

/** An interaction that is gone, or not this browser's: an error page, never a half-done sign-in. */
export function interactionExpired() {
  return new AppError('INTERACTION_EXPIRED', 400, translate('error.interaction_expired'));
}

/** The interaction named in the URL, as oidc-provider holds it for this browser. */
export async function interactionDetails(host: OidcHost, request: FastifyRequest<{ Params: InteractionParams }>, reply: FastifyReply) {
  try {
    const found = await host.provider.interactionDetails(request.raw, reply.raw);
    if (found.uid !== request.params.uid) throw new errors.SessionNotFound('interaction mismatch');
    // The authorization request's ui_locales beats the switcher's cookie (CONTRACT "Languages").
    const asked = firstSupported(found.params.ui_locales);
    if (asked) setLocale(asked);
    return found;
  } catch (err) {
    if (err instanceof errors.SessionNotFound || err instanceof errors.InvalidRequest) throw interactionExpired();
    throw err;
  }
}

export type Interaction = Awaited<ReturnType<typeof interactionDetails>>;

/** Hands the step's result to oidc-provider and follows it on (303: the browser GETs, never re-posting credentials). */
export async function finishInteraction(host: OidcHost, request: FastifyRequest, reply: FastifyReply, result: InteractionResults) {
  // A consent completes the sign-in it follows: keep that login in the result, or a request
  // with prompt=login would ask for the password again after every consent.
  const to = await host.provider.interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: !result.login });
  return reply.redirect(to, 303);
}

/** The name a page shows for a client: its `client_name`, else its id; undefined when unknown. */
export async function clientNameOf(host: OidcHost, clientId: unknown): Promise<string | undefined> {
  const client = await host.provider.Client.find(String(clientId));
  return client ? (client.clientName ?? client.clientId) : undefined;
}

/** The name of the client an interaction (by uid) signs in to, when it still exists. */
export async function clientNameOfInteraction(host: OidcHost, uid: string | undefined): Promise<string | undefined> {
  if (!uid) return undefined;
  const interaction = await host.provider.Interaction.find(uid);
  return interaction ? clientNameOf(host, interaction.params.client_id) : undefined;
}

/** What the login, registration and consent pages show of the client asking: its name and, when safe to load, its logo. */
export interface ClientCard {
  name: string;
  /** `logo_uri`, only when https or on a loopback address (src/http/brand.ts). */
  logoUri?: string;
}

/**
 * The client an OIDC sign-in is for, as its pages show it; undefined for Gatehouse's own
 * first-party client (`ownClientId`): its sign-in is Gatehouse's, not "to continue to Gatehouse".
 */
export async function clientOf(host: OidcHost, clientId: unknown, ownClientId?: string): Promise<ClientCard | undefined> {
  if (ownClientId !== undefined && String(clientId) === ownClientId) return undefined;
  const client = await host.provider.Client.find(String(clientId));
  if (!client) return undefined;
  const logoUri = showableImage(client.logoUri);
  return { name: client.clientName ?? client.clientId, ...(logoUri ? { logoUri } : {}) };
}

/** The client of an interaction (by uid), when it still exists. */
export async function clientOfInteraction(host: OidcHost, uid: string | undefined, ownClientId?: string): Promise<ClientCard | undefined> {
  if (!uid) return undefined;
  const interaction = await host.provider.Interaction.find(uid);
  return interaction ? clientOf(host, interaction.params.client_id, ownClientId) : undefined;
}
