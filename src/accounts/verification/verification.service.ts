import { normalizeEmail } from '../../identifiers.ts';
import type { SelfService } from '../self-service/self-service.ts';
import { LinkError } from '../tokens/link.errors.ts';
import { markEmailVerified } from './verification.repo.ts';

export interface Verified {
  accountId: string;
  /** The OIDC interaction the registration came from, if any. */
  interactionUid: string | null;
  /** The link was used (or expired) before, and its address is confirmed: nothing left to do but sign in. */
  alreadyConfirmed?: true;
}

/**
 * Opens a confirmation link: the address is confirmed and the link spent, or LinkError. A link
 * that no longer works, of an address that is confirmed (the second click, a mail scanner's
 * fetch first), says so instead: the person only needs to sign in (issue 12).
 */
export async function verifyEmail(s: SelfService, token: unknown): Promise<Verified> {
  const done = await s.knex.transaction(async (trx) => {
    const used = await s.tokens.consume(token, 'verify', trx);
    if (typeof used === 'string') return used;
    await markEmailVerified(trx, used.accountId);
    return { accountId: used.accountId, interactionUid: used.interactionUid };
  });
  if (typeof done !== 'string') return done;
  if (done === 'used' || done === 'expired') {
    const accountId = await s.tokens.ownerOf(token, 'verify');
    const account = accountId ? await s.accounts.findById(accountId) : undefined;
    if (account?.emailVerifiedAt && !account.disabled) return { accountId: account.id, interactionUid: null, alreadyConfirmed: true };
  }
  throw new LinkError(done);
}

/**
 * Sends a new confirmation link to an unverified account found by e-mail address or username.
 * Says nothing either way (an unknown, verified or disabled account gets no mail, silently), and
 * sends at most one per account per interval.
 */
export async function resendVerification(s: SelfService, { login, interactionUid }: { login: string; interactionUid?: string }): Promise<void> {
  if (!login || login.length > 320) return;
  const account = await s.accounts.repo.findByLogin(normalizeEmail(login));
  if (!account || account.disabled || account.emailVerifiedAt) return;
  if (await s.outbox.repo.recordedRecently(account.id, ['verify-email'], s.config.email.perAddressIntervalSeconds)) return;
  await s.mailLink(account, { purpose: 'verify', ttlSeconds: s.config.email.verifyTokenTtlSeconds, interactionUid });
}
