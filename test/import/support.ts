import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The real tools that make the hashes test/import verifies: Django's make_password, the
 * bcrypt, argon2-cffi and passlib libraries (Debian: python3-django python3-bcrypt
 * python3-argon2 python3-passlib; .ci/run installs them). The first python3 that has them.
 */
const CANDIDATES = ['/usr/bin/python3', 'python3'];
const NEEDED = 'import django, bcrypt, argon2';

export const PYTHON = CANDIDATES.find((bin) => spawnSync(bin, ['-c', NEEDED], { stdio: 'ignore' }).status === 0);

/** A skip message when no python3 has the tools, false otherwise (node:test's `skip`). */
export const NO_PYTHON_TOOLS: string | false = PYTHON
  ? false
  : 'needs python3 with Django, bcrypt and argon2-cffi (apt-get install python3-django python3-bcrypt python3-argon2 python3-passlib)';

/** Runs a script of this folder with `input` as JSON on stdin; resolves with its stdout parsed. */
export function runPython<T>(script: string, input: unknown, env: Record<string, string> = {}): Promise<T> {
  if (!PYTHON) throw new Error(NO_PYTHON_TOOLS as string);
  const path = fileURLToPath(new URL(script, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [path], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(stdout) as T) : reject(new Error(`${script} exited ${code}: ${stderr}`))));
    child.stdin.end(JSON.stringify(input));
  });
}

/** Every format's hash of `password`, made by the real tools (see make_hashes.py). */
export function realHashes(password: string): Promise<Record<string, string>> {
  return runPython('make_hashes.py', { password });
}

/**
 * Firebase's published example (github.com/firebase/scrypt README: the project's hash
 * parameters, an exported user's salt, and the hash of "user1password"), in the one-string
 * layout `user import` takes.
 */
export const FIREBASE_VECTOR = {
  password: 'user1password',
  hash:
    '$firebase-scrypt$rounds=8,mem_cost=14' +
    '$jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==' +
    '$Bw==$42xEC+ixf3L2lw==' +
    '$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==',
};

/**
 * A password NFKC changes (a full-width letter, a ligature): the old systems hashed it as
 * typed, Gatehouse hashes its NFKC form; both must work for the same typed password.
 */
export const TYPED_PASSWORD = 'Ｐassword ﬁ 2024 imported';

/**
 * A Postgres server to hold a Django database (the system being moved off, not Gatehouse's
 * storage): DATABASE_URL's, else the local one the README's test command uses; a skip
 * message when none answers.
 */
export async function djangoServer(): Promise<{ url: string } | { skip: string }> {
  const url = process.env.DATABASE_URL || 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
  const { default: knexFactory } = await import('knex');
  const knex = knexFactory({ client: 'pg', connection: { connectionString: url, connectionTimeoutMillis: 2000 }, pool: { min: 0, max: 1 } });
  try {
    await knex.raw('select 1');
    return { url };
  } catch (err) {
    return { skip: `needs a Postgres server for the Django database (DATABASE_URL, or ${url}): ${(err as Error).message}` };
  } finally {
    await knex.destroy();
  }
}
