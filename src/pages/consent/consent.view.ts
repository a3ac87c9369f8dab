import { translate } from '../../http/views.ts';
import type { ClientCard } from '../interaction.ts';

/** The consent page's template (views/consent.hbs). */
export const CONSENT_TEMPLATE = 'consent';

/** The consent page: who asks, for what (each scope in words), as whom. */
export function consentView({ uid, client, accountEmail, scope }: { uid: string; client?: ClientCard; accountEmail?: string; scope: unknown }) {
  const scopes = [...new Set(String(scope ?? '').split(' ').filter(Boolean))];
  return {
    title: translate('consent.title'),
    client,
    clientName: client?.name,
    accountEmail,
    scopes: scopes.map((s) => translate(`scope.${s}`)),
    action: `/interaction/${uid}/confirm`,
    abortUrl: `/interaction/${uid}/abort`,
  };
}
