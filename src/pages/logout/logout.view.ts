/** The logout flow's templates (views/). */
export const LOGOUT_TEMPLATES = { confirm: 'logout', done: 'logged-out' } as const;

/** "Sign out?": oidc-provider's hidden form (`form`, its CSRF protection included) and one submit button. */
export function logoutConfirm(form: string, clientName: string | undefined) {
  return { form, clientName };
}

/** Signed out, and the client gave no `post_logout_redirect_uri` to go back to. */
export function loggedOut(clientName: string | undefined) {
  return { clientName };
}
