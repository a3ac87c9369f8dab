import { resolve } from 'node:path';
import { z } from 'zod';
import { defaults, DEV_SECRET } from '../config/defaults.ts';

/**
 * The one place that reads the environment (CONTRACT.md, "Configuration"). Every variable
 * is optional; a bad value is reported with the variable, what it got and what it accepts.
 */

const CRON_FIELD = /^[\d*/,-]+$/;

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const url = (protocols: string[]) =>
  z.string().refine((v) => {
    try {
      return protocols.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, `a URL with scheme ${protocols.map((p) => p.replace(':', '')).join(' or ')}`);

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  ISSUER: url(['http:', 'https:'])
    .refine((v) => !v.endsWith('/') && !new URL(v).search && !new URL(v).hash, 'a URL without trailing slash, query or fragment')
    .optional(),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  SMTP_URL: url(['smtp:', 'smtps:']).optional(),
  MAIL_FROM: z.string().min(3).refine((v) => !/[\r\n]/.test(v), 'one line').default('Gatehouse <no-reply@localhost>'),
  JOBS_BACKEND: z.enum(['postgres', 'mongodb']).default('postgres'),
  MONGODB_URL: url(['mongodb:', 'mongodb+srv:']).optional(),
  WORKER: z.enum(['inline', 'off']).default('inline'),
  EMAIL_RESEND_CRON: z
    .string()
    .refine((v) => {
      const f = v.trim().split(/\s+/);
      return (f.length === 5 || f.length === 6) && f.every((x) => CRON_FIELD.test(x));
    }, 'a cron expression of 5 or 6 fields')
    .default('*/5 * * * *'),
  CAPTCHA_PROVIDER: z.enum(['none', 'recaptcha', 'hcaptcha', 'turnstile']).default('none'),
  CAPTCHA_SITE_KEY: z.string().min(1).optional(),
  CAPTCHA_SECRET: z.string().min(1).optional(),
  CAPTCHA_VERIFY_URL: url(['http:', 'https:']).optional(),
  COOKIE_DOMAIN: z
    .string()
    .regex(/^[a-z0-9.-]+$/i, 'a domain name such as example.com')
    .optional(),
  SESSION_REFRESH_GRACE_SECONDS: z.coerce.number().int().min(0).max(300).default(5),
  TRUST_PROXY: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.string().optional(),
  /** Comma-separated secrets, newest first: encrypt signing keys at rest and sign cookies. */
  SECRETS: z
    .string()
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .refine((a) => a.length > 0 && a.every((s) => s.length >= 32), 'a comma-separated list of secrets of at least 32 characters')
    .optional(),
  /** Dev-only features (the dev mailbox) on or off; on by default outside production. */
  DEV_FEATURES: bool.optional(),
});

export type Env = Record<string, string | undefined>;

/** A defaults block's type with its `as const` literals widened, so tests can override them. */
type Widened<T> = T extends string ? string : T extends number ? number : T extends boolean ? boolean : { -readonly [K in keyof T]: Widened<T[K]> };

export interface Config {
  port: number;
  host: string;
  issuer: string;
  production: boolean;
  databaseUrl?: string;
  dataDir: string;
  redisUrl?: string;
  smtpUrl?: string;
  mailFrom: string;
  jobsBackend: 'postgres' | 'mongodb';
  mongodbUrl?: string;
  worker: 'inline' | 'off';
  emailResendCron: string;
  captcha: { provider: 'none' | 'recaptcha' | 'hcaptcha' | 'turnstile'; siteKey?: string; secret?: string; verifyUrl?: string };
  cookieDomain?: string;
  sessionRefreshGraceSeconds: number;
  trustProxy?: boolean | string | number;
  logLevel: string;
  /** Newest first. */
  secrets: string[];
  devFeatures: boolean;
  ttl: typeof defaults.ttl;
  retiredKeyGraceSeconds: number;
  keyPollSeconds: number;
  argon2: typeof defaults.argon2;
  embeddedMaxConnections: number;
  redisPrefix: string;
  allowPrivateNetworkFetch: boolean;
  /** Self-service e-mail and its outbox (issue 3; config/defaults.ts documents each). */
  email: Widened<typeof defaults.email>;
  jobs: Widened<typeof defaults.jobs>;
  firstParty: typeof defaults.firstParty;
  /** Security (issue 5; config/defaults.ts documents each). */
  passwordPolicy: Widened<typeof defaults.passwordPolicy>;
  throttle: Widened<typeof defaults.throttle>;
  securityEvents: Widened<typeof defaults.securityEvents>;
  /** HTTP connection limits and the shutdown grace (issue 15 finding 5; config/defaults.ts documents each). */
  http: Widened<typeof defaults.http>;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const s = String(value);
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}

function parseTrustProxy(v: string | undefined): Config['trustProxy'] {
  if (v === undefined) return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (/^\d+$/.test(v)) return Number(v);
  return v;
}

/** Parse the environment; throws ConfigError listing every problem, one line each. */
export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  // Empty strings count as unset, as docker-compose writes `VAR=` for "no value".
  const clean = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(clean);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0]);
      problems.push(`${name}: got ${show(clean[name])}, expected ${issue.message.replace(/^Invalid input: /, '')}`);
    }
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const issuer = e.ISSUER ?? `http://localhost:${e.PORT}`;
  const secrets = e.SECRETS ?? [DEV_SECRET];
  const devFeatures = e.DEV_FEATURES ?? !production;

  if (e.JOBS_BACKEND === 'mongodb' && !e.MONGODB_URL) {
    problems.push('MONGODB_URL: got nothing, expected a mongodb:// URL when JOBS_BACKEND=mongodb');
  }
  if (e.CAPTCHA_PROVIDER !== 'none' && (!e.CAPTCHA_SITE_KEY || !e.CAPTCHA_SECRET)) {
    problems.push(`CAPTCHA_SECRET: got ${e.CAPTCHA_SECRET ? 'a secret' : 'nothing'}, expected CAPTCHA_SITE_KEY and CAPTCHA_SECRET when CAPTCHA_PROVIDER=${e.CAPTCHA_PROVIDER}`);
  }
  if (production) {
    const host = new URL(issuer).hostname;
    if (new URL(issuer).protocol !== 'https:' && host !== 'localhost' && host !== '127.0.0.1') {
      problems.push(`ISSUER: got ${show(issuer)}, expected an https URL when NODE_ENV=production`);
    }
    if (devFeatures) problems.push('DEV_FEATURES: got "true", expected false when NODE_ENV=production');
    if (secrets.includes(DEV_SECRET)) problems.push('SECRETS: got nothing, expected your own secrets when NODE_ENV=production');
  }
  if (problems.length) throw new ConfigError(problems);

  return {
    port: e.PORT,
    host: e.HOST,
    issuer,
    production,
    databaseUrl: e.DATABASE_URL,
    dataDir: resolve(e.DATA_DIR),
    redisUrl: e.REDIS_URL,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    jobsBackend: e.JOBS_BACKEND,
    mongodbUrl: e.MONGODB_URL,
    worker: e.WORKER,
    emailResendCron: e.EMAIL_RESEND_CRON,
    captcha: { provider: e.CAPTCHA_PROVIDER, siteKey: e.CAPTCHA_SITE_KEY, secret: e.CAPTCHA_SECRET, verifyUrl: e.CAPTCHA_VERIFY_URL },
    cookieDomain: e.COOKIE_DOMAIN,
    sessionRefreshGraceSeconds: e.SESSION_REFRESH_GRACE_SECONDS,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    logLevel: e.LOG_LEVEL,
    secrets,
    devFeatures,
    ttl: defaults.ttl,
    retiredKeyGraceSeconds: defaults.retiredKeyGraceSeconds,
    keyPollSeconds: defaults.keyPollSeconds,
    argon2: defaults.argon2,
    embeddedMaxConnections: defaults.embeddedMaxConnections,
    redisPrefix: defaults.redisPrefix,
    allowPrivateNetworkFetch: defaults.allowPrivateNetworkFetch,
    email: defaults.email,
    jobs: defaults.jobs,
    firstParty: defaults.firstParty,
    passwordPolicy: defaults.passwordPolicy,
    throttle: defaults.throttle,
    securityEvents: defaults.securityEvents,
    http: defaults.http,
    ...overrides,
  };
}
