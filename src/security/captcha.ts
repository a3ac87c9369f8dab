import type { RedisClient } from '../redis.ts';
import { AppError } from '../errors.ts';
import { sha256 } from '../crypto/secret-box.ts';
import { translate } from '../i18n/locale.ts';

/**
 * Server-side captcha verification (CONTRACT.md: CAPTCHA_PROVIDER, CAPTCHA_SITE_KEY,
 * CAPTCHA_SECRET, CAPTCHA_VERIFY_URL) for reCAPTCHA, hCaptcha and Cloudflare Turnstile, which
 * share one siteverify shape: POST `secret`, `response`, `remoteip` form-encoded, answer
 * `{ success, "error-codes" }`. It fails closed (ASVS V6.3.1: anti-automation must not be
 * bypassable): anything but a clear "success" from the provider refuses the request, and a
 * token is accepted at most once, whatever the provider says the second time.
 */

export type CaptchaProvider = 'none' | 'recaptcha' | 'hcaptcha' | 'turnstile';

/** What a page needs to render the provider's widget (and what its CSP must allow). */
export interface CaptchaWidget {
  /** The provider's script; load it with `async defer`. */
  scriptUrl: string;
  /** The class of the element the script turns into the widget (with `data-sitekey`). */
  className: string;
  /** The form field the widget fills with its token. */
  responseField: string;
  /** Sources the Content-Security-Policy of a page with the widget must allow, by directive. */
  csp: { scriptSrc: string[]; frameSrc: string[]; styleSrc: string[]; connectSrc: string[] };
}

interface ProviderInfo {
  verifyUrl: string;
  widget: CaptchaWidget;
}

// Each provider's documented siteverify endpoint, script, widget class, form field and the
// CSP sources its own "Content Security Policy" page lists.
const PROVIDERS: Record<Exclude<CaptchaProvider, 'none'>, ProviderInfo> = {
  recaptcha: {
    verifyUrl: 'https://www.google.com/recaptcha/api/siteverify',
    widget: {
      scriptUrl: 'https://www.google.com/recaptcha/api.js',
      className: 'g-recaptcha',
      responseField: 'g-recaptcha-response',
      csp: {
        scriptSrc: ['https://www.google.com/recaptcha/', 'https://www.gstatic.com/recaptcha/'],
        frameSrc: ['https://www.google.com/recaptcha/', 'https://recaptcha.google.com/recaptcha/'],
        styleSrc: [],
        connectSrc: [],
      },
    },
  },
  hcaptcha: {
    verifyUrl: 'https://api.hcaptcha.com/siteverify',
    widget: {
      scriptUrl: 'https://js.hcaptcha.com/1/api.js',
      className: 'h-captcha',
      responseField: 'h-captcha-response',
      csp: {
        scriptSrc: ['https://hcaptcha.com', 'https://*.hcaptcha.com'],
        frameSrc: ['https://hcaptcha.com', 'https://*.hcaptcha.com'],
        styleSrc: ['https://hcaptcha.com', 'https://*.hcaptcha.com'],
        connectSrc: ['https://hcaptcha.com', 'https://*.hcaptcha.com'],
      },
    },
  },
  turnstile: {
    verifyUrl: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
    widget: {
      scriptUrl: 'https://challenges.cloudflare.com/turnstile/v0/api.js',
      className: 'cf-turnstile',
      responseField: 'cf-turnstile-response',
      csp: { scriptSrc: ['https://challenges.cloudflare.com'], frameSrc: ['https://challenges.cloudflare.com'], styleSrc: [], connectSrc: [] },
    },
  },
};

/** The field of CONTRACT.md's JSON `POST /session/login` body that carries the token. */
export const JSON_CAPTCHA_FIELD = 'captcha';

// Real tokens are a few hundred to ~2,000 characters (Turnstile documents 2,048 at most);
// anything far longer is not a token, and is not sent on to the provider.
const MAX_TOKEN_LENGTH = 4096;
// A siteverify answer is a small JSON object.
const MAX_ANSWER_LENGTH = 64 * 1024;
// Longer than any provider keeps a token valid (reCAPTCHA and hCaptcha 2 min, Turnstile 5 min),
// so a token cannot outlive our memory of having accepted it.
const DEFAULT_REPLAY_SECONDS = 10 * 60;

/**
 * The one error of a refused captcha. `reason` says why, for logs and security events (never
 * the token or the secret); users see only the message.
 */
export class CaptchaError extends AppError {
  readonly reason: string;
  constructor(code: 'CAPTCHA_FAILED' | 'CAPTCHA_UNAVAILABLE', reason: string) {
    super(
      code,
      code === 'CAPTCHA_FAILED' ? 400 : 503,
      code === 'CAPTCHA_FAILED'
        ? translate('captcha.failed')
        : translate('captcha.unavailable'),
    );
    this.name = 'CaptchaError';
    this.reason = reason;
  }
}

const failed = (reason: string) => new CaptchaError('CAPTCHA_FAILED', reason);
const unavailable = (reason: string) => new CaptchaError('CAPTCHA_UNAVAILABLE', reason);

export interface CaptchaOptions {
  provider: CaptchaProvider;
  siteKey?: string;
  secret?: string;
  /** CAPTCHA_VERIFY_URL: overrides the provider's siteverify endpoint. */
  verifyUrl?: string;
  /** How long to wait for siteverify, in milliseconds (default 5,000). */
  timeoutMs?: number;
  /** The fetch to call siteverify with (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /** Where accepted tokens are remembered: shared by every process with Redis, else this process's memory. */
  redis?: RedisClient;
  /** Redis key prefix (`config.redisPrefix`). */
  prefix?: string;
  /** How long an accepted token is remembered, in seconds (default 600). */
  replaySeconds?: number;
  /** The clock of the in-memory replay set (tests move it). */
  now?: () => number;
}

export interface CaptchaVerifier {
  /** False for CAPTCHA_PROVIDER=none: render no widget; `verify` accepts anything. */
  enabled: boolean;
  provider: CaptchaProvider;
  /** For the widget's `data-sitekey`. */
  siteKey?: string;
  /** Present when enabled. */
  widget?: CaptchaWidget;
  /** The token in a request body: the widget's own form field, or `captcha` (JSON APIs). */
  tokenFrom(body: unknown): unknown;
  /**
   * Resolves when the provider confirms the token and it was never accepted before; otherwise
   * throws a CaptchaError: CAPTCHA_FAILED (400) for a missing, oversized, reused or refused
   * token or a malformed answer, CAPTCHA_UNAVAILABLE (503) when siteverify cannot be reached,
   * times out or fails (5xx). Either way the request must be refused.
   */
  verify(token: unknown, remoteIp?: string): Promise<void>;
}

interface ReplaySet {
  /** True when the token was accepted before. */
  seen(digest: string): Promise<boolean>;
  /** Remembers an accepted token; false when another request accepted it first. */
  claim(digest: string): Promise<boolean>;
}

function redisReplaySet(redis: RedisClient, prefix: string, seconds: number): ReplaySet {
  const key = (digest: string) => `${prefix}captcha:${digest}`;
  return {
    async seen(digest) {
      return (await redis.exists(key(digest))) === 1;
    },
    async claim(digest) {
      // SET NX is atomic: of two requests racing with one token, exactly one gets 'OK'.
      return (await redis.set(key(digest), '1', 'EX', seconds, 'NX')) === 'OK';
    },
  };
}

function memoryReplaySet(seconds: number, now: () => number): ReplaySet {
  const accepted = new Map<string, number>();
  let claims = 0;
  const seen = (digest: string) => {
    const until = accepted.get(digest);
    if (until === undefined) return false;
    if (until > now()) return true;
    accepted.delete(digest);
    return false;
  };
  return {
    async seen(digest) {
      return seen(digest);
    },
    async claim(digest) {
      if (seen(digest)) return false;
      accepted.set(digest, now() + seconds * 1000);
      if (++claims % 256 === 0) {
        const t = now();
        for (const [d, until] of accepted) if (until <= t) accepted.delete(d);
      }
      return true;
    },
  };
}

/**
 * Creates the captcha verifier of one provider. From the configuration:
 * `createCaptchaVerifier({ ...config.captcha, redis, prefix: config.redisPrefix })`.
 */
export function createCaptchaVerifier(options: CaptchaOptions): CaptchaVerifier {
  const { provider } = options;
  if (provider === 'none') {
    return {
      enabled: false,
      provider,
      tokenFrom: (body) => ownField(body, JSON_CAPTCHA_FIELD),
      async verify() {},
    };
  }
  const info = PROVIDERS[provider];
  if (!info) throw new Error(`unknown captcha provider ${String(provider)}`);
  if (!options.secret) throw new Error(`captcha provider ${provider} needs its secret`);
  const secret = options.secret;
  const verifyUrl = options.verifyUrl ?? info.verifyUrl;
  if (!URL.canParse(verifyUrl) || !/^https?:$/.test(new URL(verifyUrl).protocol)) throw new Error('the captcha verify URL must be an http or https URL');
  const timeoutMs = options.timeoutMs ?? 5000;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const seconds = options.replaySeconds ?? DEFAULT_REPLAY_SECONDS;
  const replay = options.redis
    ? redisReplaySet(options.redis, options.prefix ?? 'gatehouse:', seconds)
    : memoryReplaySet(seconds, options.now ?? Date.now);

  // A replay store that does not answer cannot tell a fresh token from a reused one: refuse.
  async function remembered<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch {
      throw unavailable('replay-store');
    }
  }

  async function askProvider(token: string, remoteIp: string | undefined): Promise<void> {
    const form = new URLSearchParams({ secret, response: token });
    if (remoteIp) form.set('remoteip', remoteIp);
    // hCaptcha checks that the token was issued for this site key when it is given.
    if (provider === 'hcaptcha' && options.siteKey) form.set('sitekey', options.siteKey);
    let response: Response;
    let text: string;
    try {
      response = await fetchImpl(verifyUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
        // A redirect is not an answer; following one would resend the secret elsewhere.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => {});
        throw response.status >= 500 ? unavailable(`http-${response.status}`) : failed(`http-${response.status}`);
      }
      text = await response.text();
    } catch (err) {
      if (err instanceof CaptchaError) throw err;
      throw unavailable((err as Error).name === 'TimeoutError' ? 'timeout' : 'unreachable');
    }
    if (text.length > MAX_ANSWER_LENGTH) throw failed('bad-answer');
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      throw failed('bad-answer');
    }
    if (!answer || typeof answer !== 'object' || Array.isArray(answer)) throw failed('bad-answer');
    const { success, 'error-codes': codes } = answer as { success?: unknown; 'error-codes'?: unknown };
    // Only the boolean true counts: "true", 1 or a missing field are refusals.
    if (success !== true) {
      const list = Array.isArray(codes) ? codes.filter((c): c is string => typeof c === 'string' && /^[\w-]{1,64}$/.test(c)).slice(0, 5) : [];
      throw failed(list.length ? `rejected:${list.join(',')}` : 'rejected');
    }
  }

  return {
    enabled: true,
    provider,
    siteKey: options.siteKey,
    widget: info.widget,
    tokenFrom: (body) => ownField(body, info.widget.responseField) ?? ownField(body, JSON_CAPTCHA_FIELD),
    async verify(token, remoteIp) {
      if (typeof token !== 'string' || token.length === 0) throw failed('missing-token');
      if (token.length > MAX_TOKEN_LENGTH) throw failed('oversized-token');
      const digest = sha256(token);
      // Asked first so a replayed token never reaches the provider...
      if (await remembered(() => replay.seen(digest))) throw failed('reused-token');
      await askProvider(token, remoteIp);
      // ...and claimed atomically after, so two requests racing with one token cannot both pass.
      if (!(await remembered(() => replay.claim(digest)))) throw failed('reused-token');
    },
  };
}

/** A field of a parsed body, own properties only (never one inherited through `__proto__`). */
function ownField(body: unknown, name: string): unknown {
  if (!body || typeof body !== 'object' || !Object.hasOwn(body, name)) return undefined;
  return (body as Record<string, unknown>)[name];
}
