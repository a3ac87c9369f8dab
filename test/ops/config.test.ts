import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from '../../src/config.ts';

function problems(env: Record<string, string>) {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('configuration', () => {
  test('defaults per CONTRACT.md', () => {
    const c = loadConfig({});
    assert.equal(c.port, 3000);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.issuer, 'http://localhost:3000');
    assert.equal(c.databaseUrl, undefined);
    assert.match(c.dataDir, /\.data$/);
    assert.equal(c.jobsBackend, 'postgres');
    assert.equal(c.worker, 'inline');
    assert.equal(c.emailResendCron, '*/5 * * * *');
    assert.equal(c.captcha.provider, 'none');
    assert.equal(c.sessionRefreshGraceSeconds, 5);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.mailFrom, 'Gatehouse <no-reply@localhost>');
    assert.equal(loadConfig({ PORT: '4000' }).issuer, 'http://localhost:4000');
  });

  test('every bad value is named with what it got, all at once', () => {
    const found = problems({ PORT: 'abc', REDIS_URL: 'http://x', WORKER: 'sometimes', EMAIL_RESEND_CRON: 'every minute' });
    assert.equal(found.length, 4);
    assert.match(found.find((p) => p.startsWith('PORT:'))!, /got "abc"/);
    assert.match(found.find((p) => p.startsWith('REDIS_URL:'))!, /redis/);
    assert.match(found.find((p) => p.startsWith('WORKER:'))!, /inline|off/);
    assert.ok(found.some((p) => p.startsWith('EMAIL_RESEND_CRON:')));
    assert.ok(problems({ ISSUER: 'https://id.example.com/' }).some((p) => p.startsWith('ISSUER:')));
    assert.ok(problems({ JOBS_BACKEND: 'mongodb' }).some((p) => p.startsWith('MONGODB_URL:')));
    assert.ok(problems({ CAPTCHA_PROVIDER: 'turnstile' }).some((p) => p.startsWith('CAPTCHA_SECRET:')));
  });

  test('production refuses an http issuer, dev features and default secrets', () => {
    const found = problems({ NODE_ENV: 'production', ISSUER: 'http://id.example.com', DEV_FEATURES: 'true' });
    assert.ok(found.some((p) => p.startsWith('ISSUER:')));
    assert.ok(found.some((p) => p.startsWith('DEV_FEATURES:')));
    assert.ok(found.some((p) => p.startsWith('SECRETS:')));
    const ok = loadConfig({ NODE_ENV: 'production', ISSUER: 'https://id.example.com', SECRETS: 'x'.repeat(40) });
    assert.equal(ok.devFeatures, false);
  });

  test('production refuses every secret written in this repository (samples in the compose file and docs)', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const files = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n').filter((f) => /\.(ya?ml|md|ts|json|env|sh|example)$|Dockerfile/.test(f));
    const published = new Set<string>();
    for (const file of files) {
      const text = readFileSync(`${root}/${file}`, 'utf8');
      // SECRETS=value, SECRETS: 'value', and compose defaults ${SECRETS:-value}.
      for (const m of text.matchAll(/\bSECRETS\b["']?\s*[:=]-?\s*["']?([A-Za-z0-9_+/=.-]{32,})/g)) published.add(m[1]!);
      for (const m of text.matchAll(/DEV_SECRET = '([^']+)'/g)) published.add(m[1]!);
    }
    assert.ok(published.size >= 1, 'the development secret at least is written in the repository');
    for (const secret of published) {
      const found = problems({ NODE_ENV: 'production', ISSUER: 'https://id.example.com', SECRETS: `${'n'.repeat(40)},${secret}` });
      assert.ok(found.some((p) => p.startsWith('SECRETS:')), `production accepts the published secret ${secret}`);
    }
  });

  test('npm start with a bad value exits non-zero with one line naming the variable', async () => {
    const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
    const child = spawn(process.execPath, [main], { env: { PATH: process.env.PATH, PORT: 'seventy' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.notEqual(code, 0);
    assert.equal(stderr.trim().split('\n').length, 1);
    assert.match(stderr, /PORT: got "seventy"/);
  });

  test('EMAIL_RESEND_CRON is read by a cron parser: a value out of range is refused at start, in one line', async () => {
    for (const bad of ['99 * * * *', '0 24 * * *', '*/0 * * * *', '* * * * 8', '0 0 31 2 *', '1-70 * * * *', '*', '* * * * * * *']) {
      const found = problems({ EMAIL_RESEND_CRON: bad });
      assert.equal(found.length, 1, bad);
      assert.ok(found[0]!.startsWith(`EMAIL_RESEND_CRON: got ${JSON.stringify(bad)}, expected a cron expression of 5 fields`), found[0]);
      assert.match(found[0]!, /minute 0-59, hour 0-23/);
    }
    for (const good of ['*/5 * * * *', '0 */5 * * * *', '0 3 * * 1-5', '15,45 * * * *', '0 4 1 JAN *']) {
      assert.equal(loadConfig({ EMAIL_RESEND_CRON: good }).emailResendCron, good);
    }
    // Both processes that read it refuse to start: the web process and the worker that runs the job.
    for (const entry of ['main.ts', 'worker.ts']) {
      const file = fileURLToPath(new URL(`../../src/${entry}`, import.meta.url));
      const child = spawn(process.execPath, [file], { env: { PATH: process.env.PATH, EMAIL_RESEND_CRON: '99 * * * *' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise((resolve) => child.on('close', resolve));
      assert.notEqual(code, 0, entry);
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.match(stderr, /EMAIL_RESEND_CRON: got "99 \* \* \* \*", expected a cron expression .*minute 0-59.*\(Constraint error, got value 99 expected range 0-59\)/);
    }
  });
});
