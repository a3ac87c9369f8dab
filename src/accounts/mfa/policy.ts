import type { Account } from '../accounts.repo.ts';

/**
 * Authentication context classes (OIDC Core §2 `acr`) Gatehouse asserts. The multi-factor one
 * is OpenID PAPE's, the value relying parties ask for with `acr_values`; a password alone is
 * Gatehouse's own.
 */
export const MFA_ACR = 'http://schemas.openid.net/pape/policies/2007/06/multi-factor';
export const PASSWORD_ACR = 'urn:gatehouse:acr:password';
export const SUPPORTED_ACRS = [PASSWORD_ACR, MFA_ACR];

/** RFC 8176 authentication method references. */
export const AMR = { password: 'pwd', otp: 'otp', hardwareKey: 'hwk', softwareKey: 'swk', multiFactor: 'mfa' } as const;

/** `mfa` config: who must sign in with a second factor. */
export interface MfaPolicy {
  requireForRoles: string[];
  requireForEveryone: boolean;
}

/** The acr of a sign-in that used these methods (RFC 8176 §2: `mfa` marks two factors). */
export function acrOf(amr: readonly string[]): string {
  return amr.includes(AMR.multiFactor) ? MFA_ACR : PASSWORD_ACR;
}

/** Whether the configured policy asks this account for a second factor, whatever the client asked. */
export function policyRequiresMfa(policy: MfaPolicy, account: Pick<Account, 'roles'>): boolean {
  return policy.requireForEveryone || account.roles.some((role) => policy.requireForRoles.includes(role));
}

/**
 * What comes after the password: nothing (`none`), the second factor the account has (`verify`),
 * or enrolling one first (`enrol`), when the policy or the client (`acr_values`) wants two
 * factors and the account has none yet.
 */
export function nextStep({ hasFactor, required }: { hasFactor: boolean; required: boolean }): 'none' | 'verify' | 'enrol' {
  if (hasFactor) return 'verify';
  return required ? 'enrol' : 'none';
}
