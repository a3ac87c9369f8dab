/**
 * `node bench/pages.ts`: what each hosted page costs a visitor (issue 12). For each page: the
 * bytes transferred on a first visit (the HTML, its stylesheets and scripts; nothing else is
 * loaded) against a budget of 50 KB, and the time to first byte of the HTML (median of runs).
 *
 *   node bench/pages.ts                 embedded database in a temporary folder
 *   node bench/pages.ts --runs 50       more runs per page
 *   DATABASE_URL=... REDIS_URL=... node bench/pages.ts
 *
 * Exits 1 when a page is over budget. Only 127.0.0.1 is contacted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { openRuntime } from '../src/runtime.ts';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const RUNS = Number(args.runs);
const BUDGET = 50 * 1024;

/** A free port: the issuer names it, and redirects go to the issuer. */
const port = await new Promise<number>((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port: free } = probe.address() as { port: number };
    probe.close(() => resolve(free));
  });
});
const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-pages-'));
const config = loadConfig({
  ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : { DATA_DIR: dataDir }),
  ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
  LOG_LEVEL: 'error',
  PORT: String(port),
  HOST: '127.0.0.1',
  ISSUER: `http://127.0.0.1:${port}`,
});
const runtime = await openRuntime(config, { attach: 'refuse' });
const { app } = await buildApp(runtime);
await app.listen({ port, host: '127.0.0.1' });
const base = config.issuer;

/** A page reached the way a browser does: redirects followed, cookies kept. */
async function open(path: string) {
  let url = `${base}${path}`;
  const cookies = new Map<string, string>();
  for (let hops = 0; hops < 10; hops++) {
    const started = performance.now();
    const res = await fetch(url, { redirect: 'manual', headers: { accept: 'text/html', cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    const ttfb = performance.now() - started;
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const i = pair!.indexOf('=');
      cookies.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      url = new URL(location, url).toString();
      continue;
    }
    const body = Buffer.from(await res.arrayBuffer());
    const headerBytes = [...res.headers].reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
    return { url, status: res.status, ttfb, bytes: body.length + headerBytes, html: body.toString() };
  }
  throw new Error(`${path}: too many redirects`);
}

const assetBytes = new Map<string, number>();
async function assetsOf(html: string) {
  let total = 0;
  for (const [, href] of html.matchAll(/<(?:link rel="stylesheet" href|script src)="(\/[^"]+)"/g)) {
    if (!assetBytes.has(href!)) {
      const res = await fetch(`${base}${href}`);
      const body = Buffer.from(await res.arrayBuffer());
      assetBytes.set(href!, body.length + [...res.headers].reduce((n, [k, v]) => n + k.length + v.length + 4, 0));
    }
    total += assetBytes.get(href!)!;
  }
  return total;
}

const PAGES = ['/login', '/register', '/forgot-password', '/verify-email/resend', '/verify-email?token=nope', '/account/signed-out', '/no-such-page', '/dev/mailbox'];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: string[] = [];
let over = 0;
for (const path of PAGES) {
  const first = await open(path);
  const assets = await assetsOf(first.html);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push((await open(path)).ttfb);
  const total = first.bytes + assets;
  if (total > BUDGET) over++;
  rows.push(
    `| ${path} | ${first.status} | ${(first.bytes / 1024).toFixed(1)} KB | ${(assets / 1024).toFixed(1)} KB | ${(total / 1024).toFixed(1)} KB ${total > BUDGET ? 'over' : 'ok'} | ${median(times).toFixed(1)} ms |`,
  );
}
process.stdout.write(`Hosted pages, first visit (budget ${BUDGET / 1024} KB with CSS and scripts), TTFB median of ${RUNS} (the last hop, redirects not counted):\n\n`);
process.stdout.write('| page | status | HTML | CSS + JS | total | TTFB |\n| --- | --- | --- | --- | --- | --- |\n');
process.stdout.write(`${rows.join('\n')}\n`);
await app.close();
await runtime.close();
rmSync(dataDir, { recursive: true, force: true });
process.exit(over ? 1 : 0);
