import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { renderChart } from './chart.ts';

/**
 * The markdown table (printed, and in bench/RESULTS.md) and the chart (bench/results.png).
 * Everything under the NOTES marker of an existing RESULTS.md is kept: the findings and the
 * before/after figures of each optimisation are written by people, the tables by the bench.
 */
export interface Measurement {
  scenario: string;
  target: 'gatehouse' | 'bare' | 'argon2';
  connections: number;
  /** Answers that were 2xx/3xx with a valid body (whole logins for `login`). */
  ok: number;
  /** 4xx, 5xx, socket errors, timeouts, and 2xx answers with an invalid body. */
  errors: number;
  invalid: number;
  rateLimited: number;
  statuses: Record<string, number>;
  seconds: number;
  p50: number;
  p99: number;
  /** CPU seconds of the server process during the round. */
  cpu: number;
  /** CPU seconds of the Postgres backends of Gatehouse's database during the round. */
  postgresCpu: number;
  /** CPU seconds of the whole Redis server during the round (shared: other clients count too). */
  redisCpu: number;
  deepCheck: string;
  /** The server's RSS right after the round, in MiB. */
  rssMiB: number;
}

export interface RunInfo {
  rounds: number;
  seconds: number;
  levels: number[];
  memory: Record<'gatehouse' | 'bare', { peakMiB: number; rssMiB: number }>;
  redisVersion: string;
  postgresVersion: string;
  minutes: number;
  date: string;
  /** 1, 5 and 15 minute load averages at the end of the run (others share the machine). */
  loadAverage: number[];
}

export interface Row {
  scenario: string;
  label: string;
  connections: number;
  g?: Summary;
  b?: Summary;
}

export interface Summary {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  rateLimited: number;
  cpuMs: number;
  storesMs: number;
  deepCheck: string;
}

const NOTES = '<!-- notes: everything below is kept when the bench rewrites this file -->';
const RESULTS = new URL('RESULTS.md', import.meta.url).pathname;
/** Every round's figures, for comparisons between runs and to redraw without running again. */
const RAW = new URL('results.json', import.meta.url).pathname;
const LABELS: Record<string, string> = {
  'cc-opaque': 'client credentials, opaque',
  'cc-jwt': 'client credentials, JWT',
  code: 'authorization code exchange',
  refresh: 'refresh (rotated)',
  userinfo: 'userinfo',
  introspection: 'introspection',
  jwks: 'JWKS',
  discovery: 'discovery',
  'session-refresh': '/session/refresh',
  login: 'hosted password login',
};

function summarise(ms: Measurement[]): Summary | undefined {
  if (!ms.length) return undefined;
  const sum = (f: (m: Measurement) => number) => ms.reduce((a, m) => a + f(m), 0);
  const ok = sum((m) => m.ok);
  const checks = [...new Set(ms.map((m) => m.deepCheck).filter((c) => c !== 'ok'))];
  return {
    rps: ok / sum((m) => m.seconds),
    p50: sum((m) => m.p50) / ms.length,
    p99: sum((m) => m.p99) / ms.length,
    errors: sum((m) => m.errors),
    rateLimited: sum((m) => m.rateLimited),
    cpuMs: ok ? (sum((m) => m.cpu) / ok) * 1000 : NaN,
    storesMs: ok ? (sum((m) => m.postgresCpu + m.redisCpu) / ok) * 1000 : NaN,
    deepCheck: checks.length ? checks.join('; ') : 'ok',
  };
}

export function rowsOf(measurements: Measurement[]): Row[] {
  const rows: Row[] = [];
  for (const scenario of [...new Set(measurements.map((m) => m.scenario))]) {
    for (const connections of [...new Set(measurements.map((m) => m.connections))]) {
      const of = (t: string) => measurements.filter((m) => m.scenario === scenario && m.connections === connections && m.target === t);
      const g = summarise(of('gatehouse'));
      if (g) rows.push({ scenario, label: LABELS[scenario] ?? scenario, connections, g, b: summarise(of(scenario === 'login' ? 'argon2' : 'bare')) });
    }
  }
  return rows;
}

const n = (v: number, digits = 0) => (Number.isFinite(v) ? v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-');
const ratio = (a: number, b: number, digits = 2) => (b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(digits)}` : '-');

export function table(rows: Row[]): string {
  const head = [
    '| scenario | conn. | Gatehouse req/s | bare req/s | **throughput G/B** | CPU ms/req G | CPU ms/req B | **CPU/req G/B** | +stores ms/req G / B | p50 ms G / B | p99 ms G / B | errors G / B |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const lines = rows.map(({ label, connections: c, g, b }) => {
    if (!g) return '';
    if (!b) return `| ${label} | ${c} | ${n(g.rps)} | (Gatehouse only) | | ${n(g.cpuMs, 3)} | | | ${n(g.storesMs, 3)} | ${n(g.p50, 1)} | ${n(g.p99, 1)} | ${g.errors} |`;
    return `| ${label} | ${c} | ${n(g.rps)} | ${n(b.rps)} | **${ratio(g.rps, b.rps)}** | ${n(g.cpuMs, 3)} | ${n(b.cpuMs, 3)} | **${ratio(g.cpuMs, b.cpuMs)}** | ${n(g.storesMs, 3)} / ${n(b.storesMs, 3)} | ${n(g.p50, 1)} / ${n(b.p50, 1)} | ${n(g.p99, 1)} / ${n(b.p99, 1)} | ${g.errors} / ${b.errors} |`;
  });
  return [...head, ...lines.filter((l) => l && !l.startsWith('| hosted'))].join('\n');
}

export function loginTable(rows: Row[]): string {
  const login = rows.filter((r) => r.scenario === 'login');
  if (!login.length) return '';
  return [
    '| conn. | Gatehouse logins/s | argon2id verifications/s (alone) | **logins / argon2id** | CPU ms/login G | CPU ms/hash (argon2 alone) | login p50 ms | login p99 ms | errors |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...login.map(({ connections: c, g, b }) => `| ${c} | ${n(g!.rps, 1)} | ${n(b?.rps ?? NaN, 1)} | **${ratio(g!.rps, b?.rps ?? NaN)}** | ${n(g!.cpuMs, 1)} | ${n(b?.cpuMs ?? NaN, 1)} | ${n(g!.p50)} | ${n(g!.p99)} | ${g!.errors} |`),
  ].join('\n');
}

function machine(info: RunInfo): string {
  const cpu = cpus();
  return [
    `- ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), ${n(totalmem() / 2 ** 30, 1)} GiB RAM, Linux ${release()}, load average ${info.loadAverage.map((l) => l.toFixed(1)).join(' / ')} (1/5/15 min) at the end of the run (the machine is shared: other work ran during the bench)`,
    `- Node.js ${process.version} (the servers and the load generator, which runs on the same cores), oidc-provider ${pkgVersion('oidc-provider')}, autocannon ${pkgVersion('autocannon')}`,
    `- Redis ${info.redisVersion} and PostgreSQL ${info.postgresVersion} on the same machine, shared by both servers (and by other engineers' tests)`,
    `- ${info.rounds} round(s) of ${info.seconds} s per scenario, target and connection count (${info.levels.join(', ')} connections), targets alternated A B / B A; the run took ${info.minutes.toFixed(1)} min`,
  ].join('\n');
}

function pkgVersion(name: string): string {
  return (JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
}

/** The largest RSS seen right after a round, per scenario and server. */
function rssTable(measurements: Measurement[]): string {
  const scenarios = [...new Set(measurements.map((m) => m.scenario))];
  const max = (scenario: string, target: string) => Math.max(0, ...measurements.filter((m) => m.scenario === scenario && m.target === target).map((m) => m.rssMiB));
  const line = (t: 'gatehouse' | 'bare') => `| ${t === 'gatehouse' ? 'Gatehouse' : 'bare'} | ${scenarios.map((s) => (max(s, t) ? String(max(s, t)) : '')).join(' | ')} |`;
  return [
    '\nRSS in MiB right after the rounds of each scenario (the largest):\n',
    `| | ${scenarios.map((s) => LABELS[s] ?? s).join(' | ')} |`,
    `| --- | ${scenarios.map(() => '---:').join(' | ')} |`,
    line('gatehouse'),
    line('bare'),
  ].join('\n');
}

function checks(rows: Row[]): string {
  const failed = rows.flatMap((r) => [r.g, r.b].filter((s) => s && s.deepCheck !== 'ok').map((s) => `${r.label} (${r.connections}): ${s!.deepCheck}`));
  const limited = rows.flatMap((r) => (r.g?.rateLimited ? [`${r.label} at ${r.connections} connections: ${r.g.rateLimited} answers 429`] : []));
  return [
    failed.length ? `- In-depth checks FAILED: ${failed.join('; ')}` : '- In-depth checks passed: after every round one answer was verified (JWT signatures against the JWKS, opaque tokens introspected as active).',
    limited.length ? `- Rate limits hit: ${limited.join('; ')}.` : '- No rate limit was hit: requests came from 65,536 client addresses in turn.',
    "- Gatehouse's production rate limits were on (src/security/rate-limits.ts, Redis store, one counter per address and route). " +
      'The token endpoint allows 1,200 requests a minute per address today, so one app server calling from one address would be refused above 20 tokens/s; ' +
      'the limit is to become per client, and then a client measured here would be limited.',
  ].join('\n');
}

export async function writeReport(measurements: Measurement[], info: RunInfo, { write }: { write: boolean }) {
  const rows = rowsOf(measurements);
  const main = table(rows);
  const login = loginTable(rows);
  process.stdout.write(`\n${main}\n\n${login}\n\nPeak RSS: Gatehouse ${info.memory.gatehouse.peakMiB} MiB, bare oidc-provider ${info.memory.bare.peakMiB} MiB\n`);
  if (!write) return;
  const kept = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8').split(NOTES)[1] : undefined;
  const md = `# Gatehouse against bare oidc-provider

Written by \`npm run bench\` (bench/run.ts) on ${info.date}. G = Gatehouse, B = bare oidc-provider
with a minimal Redis adapter, both behind the same kind of proxy, loaded in turn by autocannon from a
third process. **G/B** is Gatehouse divided by bare: throughput wants ≥ 0.90, CPU per request ≤ 1.15
(issue 9's targets).

![Gatehouse / bare oidc-provider](results.png)

${main}

**CPU ms/req**: CPU time of the server process (user + system, from /proc) per successful answer.
**+stores**: CPU of the Postgres backends serving Gatehouse's database plus the whole Redis server, per
answer (Redis is shared with other work, so this column is noisy). **p50/p99**: autocannon's latencies,
averaged over rounds. **errors**: 4xx, 5xx, socket errors, timeouts, and 2xx answers whose body was not
a valid answer; none of them counts as a request.

## Hosted password login

${login || '(not measured in this run)'}

A login is the whole chain a browser and its app run: GET /auth → login page → POST of the login form →
/auth → redirect with a code → the app's code exchange (5 requests, one argon2id verification with
Gatehouse's parameters). The argon2id column is @node-rs/argon2 verifying alone in its own process on
the same cores, at the same concurrency, right after; target: logins ≥ 0.80 of it.

## Memory

Peak RSS (VmHWM) over the whole run: Gatehouse **${info.memory.gatehouse.peakMiB} MiB** (${info.memory.gatehouse.rssMiB} MiB at the end),
bare oidc-provider **${info.memory.bare.peakMiB} MiB** (${info.memory.bare.rssMiB} MiB at the end). Target: the web process under 200 MB under load.
${rssTable(measurements)}

## Checks

${checks(rows)}

## Machine

${machine(info)}

## How it is measured

- Gatehouse runs as production runs it: \`node src/main.ts\` with NODE_ENV=production, real SECRETS,
  an https ISSUER and TRUST_PROXY=true, its rate limits (Redis store), security headers, metrics, info
  logs (to a file) and the inline e-mail worker, on a fresh Postgres database (created and dropped)
  and Redis. Every request carries \`Host\`, \`X-Forwarded-Proto: https\` and an \`X-Forwarded-For\`
  taken in turn from 65,536 addresses, as from a TLS-terminating load balancer.
- Bare oidc-provider (bench/bare/server.ts): the same version and the same token work (PKCE,
  rotated refresh tokens, opaque access tokens, ES256 JWT access tokens for the resource
  \`ISSUER/clients/<id>\`, RS256 ID tokens, the same lifetimes), storage in the same Redis under its
  own prefix (bench/bare/redis-adapter.ts); its client and account are in memory, so the CPU Gatehouse
  spends reading them from Postgres is part of what the ratios show.
- Codes are minted right before each code-exchange round by a browser already signed in (and
  consented): Gatehouse's through its hosted login form, the bare provider's through its interaction
  API; each code is then a single GET /auth. Refresh tokens and first-party refresh cookies are
  rotated in chains (each answer's new token goes back into the pool).
${NOTES}${kept ?? `

## Notes

(Findings, profiles and the before/after figures of each optimisation go here; the bench keeps this part.)
`}`;
  writeFileSync(RESULTS, md);
  writeFileSync(RAW, `${JSON.stringify({ info, measurements }, null, 1)}\n`);
  const cpu = cpus();
  const subtitle = `npm run bench, ${info.date}: ${cpu.length} cores (${cpu[0]?.model.trim()}), Node.js ${process.version}, oidc-provider ${pkgVersion('oidc-provider')}; ${info.rounds} round(s) of ${info.seconds} s per bar`;
  await renderChart(rows, subtitle, new URL('results.png', import.meta.url).pathname);
  process.stderr.write(`wrote ${RESULTS}, bench/results.json and bench/results.png\n`);
}

// `node bench/report.ts`: rewrite RESULTS.md and the chart from bench/results.json (the last run).
if (import.meta.url === `file://${process.argv[1]}`) {
  const { info, measurements } = JSON.parse(readFileSync(RAW, 'utf8')) as { info: RunInfo; measurements: Measurement[] };
  await writeReport(measurements, info, { write: true });
}
