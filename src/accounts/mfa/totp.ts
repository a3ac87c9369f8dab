import { Secret, TOTP } from 'otpauth';

/**
 * TOTP as CONTRACT.md fixes it: RFC 6238 with SHA-1, 6 digits, 30-second steps, the form every
 * authenticator app reads from an `otpauth://` URI. One step of drift either way is accepted
 * (RFC 6238 §5.2 recommends at most one step back; a step ahead covers a phone clock running fast).
 */
const PERIOD = 30;
const DIGITS = 6;
const DRIFT_STEPS = 1;

function totpOf(secretBase32: string, label = '', issuer = ''): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: DIGITS, period: PERIOD, secret: Secret.fromBase32(secretBase32) });
}

/** A new shared secret: 160 bits (RFC 4226 §4 recommends 160), as base32. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The `otpauth://totp/...` URI an authenticator app reads (from the QR code or typed in). */
export function otpauthUri(secretBase32: string, { issuer, label }: { issuer: string; label: string }): string {
  return totpOf(secretBase32, label, issuer).toString();
}

/** Whether `code` looks like a TOTP code (six digits; spaces as some apps show them ignored). */
export function isTotpCode(code: string): boolean {
  return /^\d{6}$/.test(code.replace(/\s+/g, ''));
}

/** The time step `code` is right for, within the drift allowed, or undefined. */
export function totpStep(secretBase32: string, code: string, now = Date.now()): number | undefined {
  const token = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return undefined;
  const delta = totpOf(secretBase32).validate({ token, timestamp: now, window: DRIFT_STEPS });
  return delta === null ? undefined : Math.floor(now / 1000 / PERIOD) + delta;
}
