import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { authorize, createClient, createUser, rpConfig } from '../helpers/fixtures.ts';
import { freePort, useServer } from '../helpers/server.ts';
import { eventually } from '../email/support.ts';

/** The value of one sample in Prometheus text (`name{labels} value`), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const scrape = async (url: string) => {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/plain/);
  return res.text();
};

describe('GET /metrics', () => {
  const ctx = useServer();

  test('Prometheus text with requests by route pattern, provider routes included, no raw ids', async () => {
    await fetch(`${ctx.server.url}/.well-known/openid-configuration`);
    await fetch(`${ctx.server.url}/.well-known/openid-configuration`);
    await fetch(`${ctx.server.url}/interaction/secret-looking-uid-123`);
    const text = await scrape(`${ctx.server.url}/metrics`);
    assert.equal(sample(text, 'http_request_duration_seconds_count{method="GET",route="/.well-known/openid-configuration",status_code="200"}'), 2);
    assert.equal(sample(text, 'http_request_duration_seconds_count{method="GET",route="/interaction/:uid",status_code="400"}'), 1);
    assert.match(text, /^http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/\.well-known\/openid-configuration",status_code="200"\} \d+$/m);
    assert.doesNotMatch(text, /secret-looking-uid-123/);
    assert.match(text, /gatehouse_process_resident_memory_bytes \d+/);
  });

  test('sign-ins by outcome, tokens by grant type, registrations, e-mails by status and the outbox backlog', async () => {
    const { server } = ctx;
    const user = await createUser(server);
    const client = await createClient(server, { grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'] });
    const rp = await rpConfig(server, client);

    // One wrong password, then a sign-in that completes the code flow.
    const browser = new Browser();
    const wrong = await authorize(server, rp, { ...user, password: 'not the password' }, { browser }).catch((err: Error) => err);
    assert.ok(wrong instanceof Error, 'a wrong password does not reach the client');
    const { callbackUrl, verifier, state } = await authorize(server, rp, user);
    await oidc.authorizationCodeGrant(rp, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    await oidc.clientCredentialsGrant(rp, {});
    await oidc.clientCredentialsGrant(rp, {});

    // A registration: recorded, its confirmation sent by the inline worker to the dev mailbox.
    const email = `metrics-${randomBytes(4).toString('hex')}@example.com`;
    const visitor = new Browser();
    const registerPage = await visitor.request(`${server.url}/register`);
    const sent = await visitor.submit(registerPage, { name: 'Ada', email, password: 'a long and unguessable passphrase' }, { field: 'email' });
    assert.equal(sent.status, 200);

    const text = await eventually(async () => {
      const t = await scrape(`${server.url}/metrics`);
      return sample(t, 'gatehouse_emails_total{status="sent"}') === 1 && sample(t, 'gatehouse_outbox_backlog') === 0 ? t : undefined;
    });
    assert.equal(sample(text, 'gatehouse_logins_total{outcome="failure"}'), 1);
    assert.equal(sample(text, 'gatehouse_logins_total{outcome="success"}'), 1);
    assert.equal(sample(text, 'gatehouse_tokens_issued_total{grant_type="authorization_code"}'), 1);
    assert.equal(sample(text, 'gatehouse_tokens_issued_total{grant_type="client_credentials"}'), 2);
    assert.equal(sample(text, 'gatehouse_registrations_total'), 1);
  });

  test("the Grafana dashboard in deploy/ charts only series this endpoint serves", async () => {
    const dashboard = JSON.parse(await readFile(new URL('../../deploy/grafana/gatehouse-dashboard.json', import.meta.url), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const text = await scrape(`${ctx.server.url}/metrics`);
    const served = new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => /^[a-zA-Z_:][\w:]*/.exec(l)![0]));
    const charted = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/\b(?:http_request_duration_seconds|gatehouse)_\w+/g) ?? []));
    assert.ok(charted.length >= 12, 'the dashboard charts the contract metrics');
    for (const name of new Set(charted)) assert.ok(served.has(name), `${name} is charted but not served`);
  });
});

describe('METRICS_PORT', () => {
  let port = 0;
  // Registered before useServer's own before(), so the port is known when the server starts.
  before(async () => {
    port = await freePort();
  });
  const ctx = useServer({ env: () => ({ METRICS_PORT: String(port) }) });

  test('serves /metrics on its own port and not on the public one', async () => {
    await fetch(`${ctx.server.url}/.well-known/openid-configuration`);
    const text = await scrape(`http://127.0.0.1:${port}/metrics`);
    assert.equal(sample(text, 'http_request_duration_seconds_count{method="GET",route="/.well-known/openid-configuration",status_code="200"}'), 1);
    const pub = await fetch(`${ctx.server.url}/metrics`);
    assert.equal(pub.status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 404);
  });
});
