import { firstSupported, setLocale } from '../../i18n/locale.ts';
import type { LogoutPages, Render } from '../../oidc/provider.ts';
import { LOGOUT_TEMPLATES, loggedOut, logoutConfirm } from './logout.view.ts';

/**
 * `/logout` (OIDC RP-Initiated Logout 1.0): oidc-provider serves the route, checks the request
 * and ends the session; these are the two pages it shows on the way, given to the provider's
 * configuration (src/oidc/provider.ts) instead of routes of their own.
 */
export function logoutPages(render: Render): LogoutPages {
  return {
    async logoutSource(ctx, form) {
      // RP-Initiated Logout's own ui_locales beats the cookie, as on the authorization request.
      const asked = firstSupported(ctx.oidc.params?.ui_locales);
      if (asked) setLocale(asked);
      ctx.type = 'html';
      ctx.body = await render(LOGOUT_TEMPLATES.confirm, logoutConfirm(form, ctx.oidc.client?.clientName));
    },
    async postLogoutSuccessSource(ctx) {
      ctx.type = 'html';
      ctx.body = await render(LOGOUT_TEMPLATES.done, loggedOut(ctx.oidc.client?.clientName));
    },
  };
}
