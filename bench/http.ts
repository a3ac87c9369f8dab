import { Agent, request as httpRequest } from 'node:http';

/**
 * How the bench speaks to a server: on 127.0.0.1:port, as a TLS-terminating load balancer
 * would forward a request for the https issuer (Host, X-Forwarded-Proto, X-Forwarded-For).
 * Used for setup (sign-ins, minting codes and tokens) and the hosted-login driver; the load
 * itself is autocannon's (scenarios.ts), with the same headers.
 */
export interface Target {
  name: 'gatehouse' | 'bare';
  issuer: string;
  port: number;
  pid: number;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** Client addresses as a load balancer sees them: 65,536 of them, in turn. */
let nextAddress = 0;
export function clientAddress(): string {
  const n = nextAddress++ & 0xffff;
  return `10.77.${n >> 8}.${n & 0xff}`;
}

/** The headers every request carries: those of the proxy in front of the server. */
export function proxyHeaders(target: Target, address = clientAddress()): Record<string, string> {
  return { host: new URL(target.issuer).host, 'x-forwarded-proto': 'https', 'x-forwarded-for': address };
}

/** A cookie jar of one browser for one server (names only: each flow uses its own jar). */
export class Jar {
  readonly cookies = new Map<string, string>();

  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  store(setCookie: string | string[] | undefined) {
    for (const line of [setCookie ?? []].flat()) {
      const pair = line.split(';', 1)[0]!;
      const i = pair.indexOf('=');
      const [name, value] = [pair.slice(0, i).trim(), pair.slice(i + 1).trim()];
      if (!value || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  jar?: Jar;
  address?: string;
}

/** One request; `url` is an issuer URL or a path. Redirects are not followed. */
export function send(target: Target, url: string, { method = 'GET', headers = {}, body, jar, address }: RequestOptions = {}): Promise<Reply> {
  const u = new URL(url, target.issuer);
  const all: Record<string, string> = { ...proxyHeaders(target, address), ...headers };
  if (jar?.cookies.size) all.cookie = jar.header();
  if (body !== undefined) all['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = httpRequest({ agent, host: '127.0.0.1', port: target.port, method, path: u.pathname + u.search, headers: all }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        jar?.store(res.headers['set-cookie']);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() });
      });
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${target.name} ${method} ${u.pathname}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Follows redirects on the target's own origin until `stop(location)` or a non-redirect. */
export async function follow(target: Target, url: string, jar: Jar, stop: (location: string) => boolean, address?: string): Promise<{ reply: Reply; url: string }> {
  let current = url;
  for (let hops = 0; hops < 10; hops++) {
    const reply = await send(target, current, { jar, address, headers: { accept: 'text/html' } });
    const location = reply.headers.location as string | undefined;
    if (reply.status < 300 || reply.status >= 400 || !location) return { reply, url: current };
    const next = new URL(location, new URL(current, target.issuer)).toString();
    if (stop(next)) return { reply, url: next };
    current = next;
  }
  throw new Error(`${target.name}: too many redirects from ${url}`);
}

export function formBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export function basicAuth(id: string, secret: string): string {
  // RFC 6749 §2.3.1: form-urlencode each part before Base64.
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

export function expectStatus(reply: Reply, status: number, what: string): Reply {
  if (reply.status !== status) throw new Error(`${what}: expected ${status}, got ${reply.status}: ${reply.body.slice(0, 300)}`);
  return reply;
}
