import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Knex } from 'knex';
import { AppError } from '../../errors.ts';
import { translate } from '../../i18n/locale.ts';
import { AMR } from '../mfa/policy.ts';
import { createPasskeysRepo, type ChallengePurpose } from './passkeys.repo.ts';

export interface PasskeysDeps {
  knex: Knex;
  /** The issuer URL: its origin is the only origin accepted, its host name the RP ID. */
  issuer: string;
  /** The name authenticators show (the brand name). */
  rpName: string;
}

/** A passkey ceremony that did not verify (wrong origin, stale or reused challenge, unknown key...): one answer. */
export class PasskeyError extends AppError {
  constructor() {
    super('PASSKEY_FAILED', 400, translate('passkey.failed'));
    this.name = 'PasskeyError';
  }
}

/** How long a ceremony may take from its options to its answer (WebAuthn's own timeout is the same). */
const CHALLENGE_SECONDS = 300;
const MAX_NAME = 60;

/** The challenge the browser signed, read from its client data (verified again by the library). */
function challengeOf(clientDataJSON: unknown): string | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(String(clientDataJSON), 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof parsed.challenge === 'string' ? parsed.challenge : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Passkeys (issue 13): WebAuthn discoverable credentials with user verification, so one passkey
 * is two factors (the device, and the PIN or biometric that unlocks it). Registration and
 * sign-in each start with a challenge stored server-side, taken once as the answer is checked
 * and gone after five minutes.
 */
export function createPasskeys({ knex, issuer, rpName }: PasskeysDeps) {
  const repo = createPasskeysRepo(knex);
  const { origin, hostname: rpID } = new URL(issuer);

  /** The check of a ceremony's challenge: it must be one we issued for this purpose (and account), unused. */
  const takes = (purpose: ChallengePurpose, accountId: string | null) => (challenge: string) => repo.takeChallenge(challenge, purpose, accountId);

  return {
    repo,

    async registrationOptions(account: { id: string; email: string; name: string }) {
      const existing = await repo.list(account.id);
      const options = await generateRegistrationOptions({
        rpName,
        rpID,
        userName: account.email,
        userDisplayName: account.name || account.email,
        userID: new TextEncoder().encode(account.id),
        attestationType: 'none',
        excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports })),
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
        timeout: CHALLENGE_SECONDS * 1000,
      });
      await repo.saveChallenge(options.challenge, 'register', account.id, CHALLENGE_SECONDS);
      return options;
    },

    /** Verifies a new passkey's registration and stores it under `name`. */
    async register(accountId: string, name: string, response: RegistrationResponseJSON): Promise<void> {
      if (!challengeOf(response?.response?.clientDataJSON)) throw new PasskeyError();
      const verification = await verifyRegistrationResponse({
        response,
        expectedChallenge: takes('register', accountId),
        expectedOrigin: origin,
        expectedRPID: rpID,
        requireUserVerification: true,
      }).catch(() => ({ verified: false as const, registrationInfo: undefined }));
      if (!verification.verified) throw new PasskeyError();
      const info = verification.registrationInfo;
      const stored = await repo.insert({
        id: info.credential.id,
        accountId,
        publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
        counter: info.credential.counter,
        transports: info.credential.transports ?? [],
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
        name: name.trim().slice(0, MAX_NAME) || translate('passkey.default_name'),
      });
      if (!stored) throw new PasskeyError();
    },

    /** Options for signing in with any passkey of this site (discoverable: no account named yet). */
    async authenticationOptions() {
      const options = await generateAuthenticationOptions({ rpID, userVerification: 'required', timeout: CHALLENGE_SECONDS * 1000 });
      await repo.saveChallenge(options.challenge, 'login', null, CHALLENGE_SECONDS);
      return options;
    },

    /** Verifies a sign-in; returns the account and the RFC 8176 methods it stands for. */
    async authenticate(response: AuthenticationResponseJSON): Promise<{ accountId: string; amr: string[] }> {
      const passkey = typeof response?.id === 'string' ? await repo.find(response.id) : undefined;
      if (!passkey || !challengeOf(response.response?.clientDataJSON)) throw new PasskeyError();
      const verification = await verifyAuthenticationResponse({
        response,
        expectedChallenge: takes('login', null),
        expectedOrigin: origin,
        expectedRPID: rpID,
        credential: { id: passkey.id, publicKey: new Uint8Array(Buffer.from(passkey.publicKey, 'base64url')), counter: passkey.counter, transports: passkey.transports },
        requireUserVerification: true,
      }).catch(() => ({ verified: false as const, authenticationInfo: undefined }));
      if (!verification.verified) throw new PasskeyError();
      const info = verification.authenticationInfo;
      if (!(await repo.used(passkey.id, passkey.counter, info.newCounter, info.credentialBackedUp))) throw new PasskeyError();
      // A synced passkey lives in software (a password manager); one bound to its device, in hardware.
      const key = info.credentialDeviceType === 'multiDevice' ? AMR.softwareKey : AMR.hardwareKey;
      return { accountId: passkey.accountId, amr: [key, AMR.multiFactor] };
    },

    list: (accountId: string) => repo.list(accountId),
    remove: (accountId: string, id: string) => repo.remove(accountId, id),
  };
}

export type Passkeys = ReturnType<typeof createPasskeys>;
