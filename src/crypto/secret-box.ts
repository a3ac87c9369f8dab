import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Encryption at rest for signing keys and client secrets: AES-256-GCM under a key derived
 * (HKDF-SHA256) from SECRETS. Sealed with the newest secret, opened with whichever still works,
 * so secrets rotate by putting the new one first and keeping the old one until re-sealed.
 */
export interface SecretBox {
  seal(plaintext: string): string;
  open(sealed: string): string;
}

function deriveKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'gatehouse', 'gatehouse secret-box v1', 32));
}

export function createSecretBox(secrets: readonly string[]): SecretBox {
  if (secrets.length === 0) throw new Error('createSecretBox needs at least one secret');
  const keys = secrets.map(deriveKey);
  return {
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', keys[0]!, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `v1.${iv.toString('base64url')}.${body.toString('base64url')}`;
    },
    open(sealed) {
      const [version, ivPart, bodyPart] = sealed.split('.');
      if (version !== 'v1' || !ivPart || !bodyPart) throw new Error('not a sealed value');
      const iv = Buffer.from(ivPart, 'base64url');
      const body = Buffer.from(bodyPart, 'base64url');
      for (const key of keys) {
        try {
          const decipher = createDecipheriv('aes-256-gcm', key, iv);
          decipher.setAuthTag(body.subarray(body.length - 16));
          return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
        } catch {
          // try the next (older) secret
        }
      }
      throw new Error('sealed value does not open with any configured secret (was SECRETS changed?)');
    },
  };
}

/** SHA-256 hex digest: how single-use tokens (e-mail links, refresh token ids) are stored. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** A URL-safe random token of `bytes` bytes of entropy. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
