import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.ts';

const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** Runs `npm start`'s entry with `env` until it exits: its exit code and stderr. */
async function start(env: Record<string, string>) {
  const child = spawn(process.execPath, [main], { env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((resolve) => child.on('close', resolve));
  return { code, lines: stderr.trim().split('\n') };
}

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

  test('the phases of a shutdown must end before SHUTDOWN_TIMEOUT_SECONDS', () => {
    assert.equal(loadConfig({}).shutdownTimeoutSeconds, 10);
    // Both phases are named, with where to set them; 6 s fits in 7 s.
    assert.deepEqual(problems({ SHUTDOWN_TIMEOUT_SECONDS: '5' }), [
      'GATEHOUSE_CONFIG http.closeGraceMs: got 5000, expected less than SHUTDOWN_TIMEOUT_SECONDS (5 s = 5000 ms)',
      'GATEHOUSE_CONFIG jobs.drainMs: got 6000, expected less than SHUTDOWN_TIMEOUT_SECONDS (5 s = 5000 ms)',
    ]);
    assert.deepEqual(problems({ SHUTDOWN_TIMEOUT_SECONDS: '7' }), []);
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
    const { code, lines } = await start({ PORT: 'seventy' });
    assert.notEqual(code, 0);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /PORT: got "seventy"/);
  });
});

describe('configuration file (GATEHOUSE_CONFIG)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const file = (name: string, text: string) => {
    const path = join(dir, `${n++}-${name}`);
    writeFileSync(path, text);
    return path;
  };

  const yaml = `# A deployment's settings
port: 4100
rateLimits:
  register: { max: 3 }
  token:
    max: 6000
    windowSeconds: 60
ttl:
  accessToken: 300
passwordPolicy:
  minLength: 14
  blockedWords: [acme, gatehouse]
throttle:
  account: { lockAfter: 7 }
brand:
  name: Acme ID
  color: "#112233"
mfa:
  requireForRoles: [admin]
trustProxy: 1
`;

  test('values from a YAML file apply; keys it does not name keep their defaults', () => {
    const c = loadConfig({ GATEHOUSE_CONFIG: file('gatehouse.yaml', yaml) });
    assert.equal(c.port, 4100);
    assert.equal(c.issuer, 'http://localhost:4100', 'the computed issuer follows the port from the file');
    assert.deepEqual(c.rateLimits.register, { max: 3, windowSeconds: 600 });
    assert.deepEqual(c.rateLimits.token, { max: 6000, clientMax: 12_000, windowSeconds: 60 });
    assert.deepEqual(c.rateLimits.sessionLogin, { max: 20, windowSeconds: 60 });
    assert.equal(c.ttl.accessToken, 300);
    assert.equal(c.ttl.idToken, 3600);
    assert.equal(c.passwordPolicy.minLength, 14);
    assert.deepEqual(c.passwordPolicy.blockedWords, ['acme', 'gatehouse']);
    assert.equal(c.throttle.account.lockAfter, 7);
    assert.equal(c.throttle.account.captchaAfter, 3);
    assert.deepEqual(c.brand, { name: 'Acme ID', color: '#112233' });
    assert.deepEqual(c.mfa, { requireForRoles: ['admin'], requireForEveryone: false });
    assert.equal(c.trustProxy, 1);
  });

  test('the same settings from a JSON file', () => {
    const json = { port: 4100, rateLimits: { register: { max: 3 } }, brand: { name: 'Acme ID' }, mfa: { requireForEveryone: true } };
    const c = loadConfig({ GATEHOUSE_CONFIG: file('gatehouse.json', JSON.stringify(json)) });
    assert.equal(c.port, 4100);
    assert.deepEqual(c.rateLimits.register, { max: 3, windowSeconds: 600 });
    assert.equal(c.brand.name, 'Acme ID');
    assert.equal(c.mfa.requireForEveryone, true);
  });

  test('environment variables beat the file', () => {
    const c = loadConfig({ GATEHOUSE_CONFIG: file('gatehouse.yaml', yaml), PORT: '4200', BRAND_NAME: 'From Env', TRUST_PROXY: '10.0.0.1' });
    assert.equal(c.port, 4200);
    assert.equal(c.brand.name, 'From Env');
    assert.equal(c.brand.color, '#112233', 'a key the environment does not set keeps the file\'s value');
    assert.equal(c.trustProxy, '10.0.0.1');
    assert.equal(loadConfig({ BRAND_COLOR: '#abcdef' }).brand.color, '#abcdef');
  });

  test('a bad file value and a bad environment value are listed together, each naming where it came from', () => {
    const path = file('bad.yaml', 'rateLimits:\n  register:\n    max: x\nttl:\n  authorizationCode: 600\nbrand: { color: blue }\n');
    const found = problems({ GATEHOUSE_CONFIG: path, PORT: 'abc', BRAND_LOGO_URL: 'javascript:alert(1)' });
    assert.deepEqual(found.sort(), [
      'BRAND_LOGO_URL: got "javascript:alert(1)", expected an https URL, an http URL on localhost or 127.0.0.1, or a path on this server starting with /',
      'GATEHOUSE_CONFIG brand.color: got "blue", expected a hex colour such as #2450c9 or #25c',
      'GATEHOUSE_CONFIG rateLimits.register.max: got "x", expected a positive integer',
      'GATEHOUSE_CONFIG ttl.authorizationCode: got 600, expected an integer from 1 to 60',
      'PORT: got "abc", expected an integer from 0 to 65535',
    ]);
  });

  test('the rules are the same whether a value comes from the file or the environment', () => {
    assert.deepEqual(problems({ GATEHOUSE_CONFIG: file('port.json', '{"port": 70000}') }), ['GATEHOUSE_CONFIG port: got 70000, expected an integer from 0 to 65535']);
    assert.deepEqual(problems({ PORT: '70000' }), ['PORT: got "70000", expected an integer from 0 to 65535']);
    assert.deepEqual(problems({ GATEHOUSE_CONFIG: file('worker.json', '{"worker": "sometimes"}') }), ['GATEHOUSE_CONFIG worker: got "sometimes", expected one of inline, off']);
    assert.deepEqual(problems({ WORKER: 'sometimes' }), ['WORKER: got "sometimes", expected one of inline, off']);
    // Cross-key rules name the key where it was set.
    assert.deepEqual(problems({ GATEHOUSE_CONFIG: file('mongo.yaml', 'jobsBackend: mongodb\n') }), [
      'MONGODB_URL: got nothing, expected a mongodb:// URL when GATEHOUSE_CONFIG jobsBackend is mongodb',
    ]);
  });

  test('an unknown key is refused, with the key it probably meant', () => {
    const found = problems({ GATEHOUSE_CONFIG: file('typo.yaml', 'rateLimits:\n  registr: { max: 3 }\nthrottle:\n  account: { lockAftr: 3 }\nfrobnicate: true\n') });
    assert.equal(found.length, 3);
    assert.ok(found.includes('GATEHOUSE_CONFIG rateLimits.registr: unknown key, did you mean rateLimits.register?'), found.join('\n'));
    assert.ok(found.includes('GATEHOUSE_CONFIG throttle.account.lockAftr: unknown key, did you mean throttle.account.lockAfter?'), found.join('\n'));
    assert.match(found.find((p) => p.includes('frobnicate'))!, /^GATEHOUSE_CONFIG frobnicate: unknown key, expected one of port, host, /);
    // `production` is NODE_ENV's, which only the environment sets.
    assert.match(problems({ GATEHOUSE_CONFIG: file('prod.json', '{"production": true}') })[0]!, /^GATEHOUSE_CONFIG production: unknown key/);
  });

  test('a missing or unparsable file is one clear line', () => {
    const missing = join(dir, 'nope.yaml');
    assert.deepEqual(problems({ GATEHOUSE_CONFIG: missing }), [`GATEHOUSE_CONFIG: cannot read ${missing}: no such file`]);
    const badYaml = file('broken.yaml', 'port: 4000\n  nested: [\n');
    const [yamlProblem, ...more] = problems({ GATEHOUSE_CONFIG: badYaml });
    assert.equal(more.length, 0);
    assert.match(yamlProblem!, new RegExp(`^GATEHOUSE_CONFIG: ${badYaml} is not valid YAML: .+ at line \\d+, column \\d+$`));
    const badJson = file('broken.json', '{"port": 4000,}');
    const [jsonProblem, ...moreJson] = problems({ GATEHOUSE_CONFIG: badJson });
    assert.equal(moreJson.length, 0);
    assert.match(jsonProblem!, new RegExp(`^GATEHOUSE_CONFIG: ${badJson} is not valid JSON: `));
    assert.match(problems({ GATEHOUSE_CONFIG: file('twice.yaml', 'port: 1\nport: 2\n') })[0]!, /not valid YAML: Map keys must be unique/);
    assert.deepEqual(problems({ GATEHOUSE_CONFIG: file('list.yaml', '- port\n') }), [
      `GATEHOUSE_CONFIG: ${join(dir, `${n - 1}-list.yaml`)} must hold a mapping of configuration keys, got a list`,
    ]);
    assert.deepEqual(problems({ GATEHOUSE_CONFIG: file('empty.yaml', '') }), [], 'an empty file sets nothing');
  });

  test('secrets are never shown in a problem, nor a password in a URL', () => {
    const path = file('secrets.yaml', 'secrets: [too-short-secret]\nsmtpUrl: "http://mailer:hunter2@mail.example.com"\ncaptcha: { secret: 42 }\n');
    const found = problems({ GATEHOUSE_CONFIG: path, SECRETS: 'another-short-one' }).join('\n');
    assert.match(found, /GATEHOUSE_CONFIG secrets: got a value not shown here/);
    assert.match(found, /SECRETS: got a value not shown here/);
    assert.match(found, /GATEHOUSE_CONFIG smtpUrl: got "http:\/\/mailer:\*\*\*@mail.example.com"/);
    assert.match(found, /GATEHOUSE_CONFIG captcha.secret: got a value not shown here/);
    for (const secret of ['too-short-secret', 'another-short-one', 'hunter2', '42']) assert.ok(!found.includes(secret), `${secret} shown`);
  });

  test('npm start with a bad file exits non-zero with one line naming each problem', async () => {
    const path = file('start.yaml', 'rateLimits:\n  register: { max: x }\nrateLimitz: {}\n');
    const { code, lines } = await start({ GATEHOUSE_CONFIG: path, PORT: 'seventy' });
    assert.notEqual(code, 0);
    assert.deepEqual(lines.sort(), [
      'gatehouse: configuration: GATEHOUSE_CONFIG rateLimits.register.max: got "x", expected a positive integer',
      'gatehouse: configuration: GATEHOUSE_CONFIG rateLimitz: unknown key, did you mean rateLimits?',
      'gatehouse: configuration: PORT: got "seventy", expected an integer from 0 to 65535',
    ]);
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
