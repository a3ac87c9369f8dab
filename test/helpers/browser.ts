/**
 * A minimal browser for protocol tests: a cookie jar, manual redirects, and HTML forms read
 * from the page the way a person's browser would submit them (every input, hidden ones too).
 * Pages look and JavaScript are checked in the Chromium tests; this one speaks plain HTTP.
 */
export interface Page {
  status: number;
  url: string;
  headers: Headers;
  body: string;
}

export interface Form {
  action: string;
  method: string;
  fields: Record<string, string>;
}

function decode(s: string) {
  return s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#x3D;/g, '=');
}

function attr(tag: string, name: string): string | undefined {
  const m = tag.match(new RegExp(`\\s${name}="([^"]*)"`, 'i'));
  return m ? decode(m[1]!) : undefined;
}

/** The forms of a page, with the names and values of their inputs. */
export function forms(html: string, base: string): Form[] {
  const out: Form[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const open = m[1]!;
    const fields: Record<string, string> = {};
    for (const input of m[2]!.matchAll(/<input\b[^>]*>/gi)) {
      const name = attr(input[0], 'name');
      if (name) fields[name] = attr(input[0], 'value') ?? '';
    }
    out.push({ action: new URL(attr(open, 'action') ?? base, base).toString(), method: (attr(open, 'method') ?? 'get').toUpperCase(), fields });
  }
  return out;
}

export class Browser {
  /** host → (name + path) → cookie. Paths matter: oidc-provider scopes cookies to one flow's URL. */
  readonly jar = new Map<string, Map<string, { name: string; value: string; path: string }>>();

  /** The cookies of a host by name (the last stored of each name), for assertions. */
  get cookies(): Map<string, Map<string, string>> {
    const out = new Map<string, Map<string, string>>();
    for (const [host, entries] of this.jar) out.set(host, new Map([...entries.values()].map((c) => [c.name, c.value])));
    return out;
  }

  private cookieHeader(url: URL) {
    const entries = [...(this.jar.get(url.host)?.values() ?? [])].filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/');
    return entries.map((c) => `${c.name}=${c.value}`).join('; ') || undefined;
  }

  private store(url: URL, headers: Headers) {
    for (const line of headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      const pathAttr = attrs.map((a) => a.trim()).find((a) => /^path=/i.test(a));
      const path = pathAttr ? pathAttr.slice(5) : '/';
      const jar = this.jar.get(url.host) ?? new Map();
      const key = `${name}|${path}`;
      const expired = /max-age=0|expires=thu, 01 jan 1970/i.test(line);
      if (expired || value === '') jar.delete(key);
      else jar.set(key, { name, value, path });
      this.jar.set(url.host, jar);
    }
  }

  /** One request, no redirect following. */
  /** `form` as pairs sends a field more than once (`email=a&email=b`). */
  async request(url: string, init: { method?: string; form?: Record<string, string> | [string, string][]; headers?: Record<string, string> } = {}): Promise<Page> {
    const u = new URL(url);
    const headers: Record<string, string> = { accept: 'text/html', ...init.headers };
    const cookie = this.cookieHeader(u);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(u, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    this.store(u, res.headers);
    return { status: res.status, url, headers: res.headers, body: await res.text() };
  }

  /** Follows redirects until a page is reached, or until `stopAt` says the URL is the end. */
  async follow(url: string, init: Parameters<Browser['request']>[1] = {}, stopAt: (url: string) => boolean = () => false): Promise<Page> {
    let page = await this.request(url, init);
    for (let hops = 0; hops < 15 && page.status >= 300 && page.status < 400; hops++) {
      const next = new URL(page.headers.get('location')!, page.url).toString();
      if (stopAt(next)) return { ...page, url: next };
      page = await this.request(next);
    }
    return page;
  }

  /** Submits the page's form that has a field named `field` (default: the first form). */
  async submit(page: Page, values: Record<string, string>, { field, stopAt }: { field?: string; stopAt?: (url: string) => boolean } = {}) {
    const all = forms(page.body, page.url);
    const form = field ? all.find((f) => field in f.fields) : all[0];
    if (!form) throw new Error(`no form${field ? ` with field ${field}` : ''} on ${page.url}:\n${page.body.slice(0, 500)}`);
    return this.follow(form.action, { method: form.method, form: { ...form.fields, ...values } }, stopAt);
  }
}
