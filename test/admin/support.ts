import assert from 'node:assert/strict';
import { createClient } from '../helpers/fixtures.ts';
import type { TestServer } from '../helpers/server.ts';

/** A client-credentials access token of `clientId`. */
export async function clientToken(server: TestServer, clientId: string, secret: string, scope = 'admin') {
  const res = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  return { status: res.status, body: (await res.json()) as { access_token?: string; error?: string; scope?: string } };
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** An admin API caller with a fresh admin client's token; `bearer` overrides it per call ('' for none). */
export async function adminApi(server: TestServer) {
  const admin = await createClient(server, { name: 'Automation', grantTypes: ['client_credentials'], redirectUris: [], scope: 'admin' });
  const issued = await clientToken(server, admin.client_id, admin.client_secret!);
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
  const token = issued.body.access_token!;
  const api = async (method: string, path: string, body?: unknown, bearer: string = token): Promise<ApiAnswer> => {
    const res = await fetch(`${server.url}/admin/api${path}`, {
      method,
      headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
  };
  return { api, token, clientId: admin.client_id };
}
