import { execFileAsync } from './servers.ts';
import { clientAddress, Jar, type Target } from './http.ts';
import { codeExchangeFields, signIn, tokenRequest, type BenchClient } from './setup.ts';

/**
 * The hosted password login, end to end, as a browser and its app do it: GET /auth, the
 * login page, POST of the login form, the redirect back to /auth and to the client with a
 * code, then the app's code exchange: five requests, one argon2id verification. autocannon
 * cannot follow such a chain, so this driver runs `connections` browsers in a loop and
 * counts whole logins (a failed step makes the login an error).
 */
export interface LoginResult {
  perSecond: number;
  p50: number;
  p99: number;
  ok: number;
  errors: number;
  /** Logins that failed on a 429. */
  rateLimited: number;
  seconds: number;
  firstError?: string;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** `users[i]` signs in on browser i, one login after the other. */
export async function loginLoad(target: Target, client: BenchClient, users: { email: string; password: string }[], connections: number, seconds: number): Promise<LoginResult> {
  const latencies: number[] = [];
  let errors = 0;
  let rateLimited = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, i) => {
      const user = users[i % users.length]!;
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          const { code } = await signIn(target, client, user, new Jar(), clientAddress());
          const tokens = await tokenRequest(target, client, codeExchangeFields(client, code));
          if (!tokens.id_token) throw new Error('no ID token');
          latencies.push(performance.now() - t0);
        } catch (err) {
          errors++;
          if (/ 429\b/.test((err as Error).message)) rateLimited++;
          firstError ??= (err as Error).message.replace(/\s+/g, " ").replace(/.*<main[^>]*>/, "").slice(0, 400);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: latencies.length / elapsed, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), ok: latencies.length, errors, rateLimited, seconds: elapsed, firstError };
}

/** The raw argon2id verification rate at `concurrency`, in a process of its own on the same cores. */
export async function argon2Rate(concurrency: number, seconds: number): Promise<{ perSecond: number; cpuMsPerHash: number }> {
  const { stdout } = await execFileAsync(process.execPath, ['bench/argon2-rate.ts', String(concurrency), String(seconds)], { cwd: new URL('..', import.meta.url).pathname });
  return JSON.parse(stdout);
}
