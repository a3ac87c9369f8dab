/**
 * `npm run bench`: Gatehouse against bare oidc-provider, side by side, in one run (issue 9).
 *
 *   npm run bench                      2 rounds of 3 s per scenario, target and connection count
 *   npm run bench -- --quick           1 round of 2 s (a quick look)
 *   npm run bench -- --only cc-opaque,jwks --rounds 2 --seconds 5
 *   npm run bench -- --profile --only cc-opaque   a CPU profile of Gatehouse, summarised (bench/profile.ts)
 *
 * DATABASE_URL and REDIS_URL default to the local servers. Writes bench/RESULTS.md and
 * bench/results.png (with --no-write, prints only). Only 127.0.0.1 is contacted.
 */
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { argon2Rate, loginLoad } from './login.ts';
import { summariseProfile } from './profile.ts';
import { proxyHeaders } from './http.ts';
import { writeReport, type Measurement, type RunInfo } from './report.ts';
import { SCENARIOS, type Scenario, type TargetState } from './scenarios.ts';
import { backendCpu, cpuSeconds, memory, redisCpu } from './servers.ts';
import { signInToAll } from './setup.ts';
import { startTargets, USER, USERS, type Targets } from './targets.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    only: { type: 'string' },
    connections: { type: 'string', default: '1,16,64' },
    profile: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(args.rounds ?? (args.quick ? 1 : 2));
const SECONDS = Number(args.seconds ?? (args.quick ? 2 : 3));
// A login takes seconds at 64 connections: its rounds are longer.
const LOGIN_SECONDS = Math.max(SECONDS, 4);
const LEVELS = args.connections!.split(',').map(Number);
const ONLY = args.only?.split(',');
const wanted = (id: string) => !ONLY || ONLY.includes(id);

const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres:postgres@127.0.0.1:5432/test';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

const started = Date.now();
const log = (line: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

// A profiled Gatehouse runs slower: its numbers are not written to RESULTS.md.
const profileDir = args.profile ? mkdtempSync(join(tmpdir(), 'gatehouse-profile-')) : undefined;
const targets: Targets = await startTargets({ databaseUrl, redisUrl, cpuProfileDir: profileDir });
const redis = new Redis(targets.redisUrl);
// Ctrl-C: the servers stop with the terminal's SIGINT; their database and keys go too.
process.once('SIGINT', () => {
  log('interrupted: cleaning up');
  void targets.close().finally(() => process.exit(130));
});
const measurements: Measurement[] = [];
/** When Gatehouse was under measured load (µs, monotonic clock): the profile counts only these. */
const loadWindows: [number, number][] = [];
let failed = false;

try {
  const states: Record<'gatehouse' | 'bare', TargetState> = {
    gatehouse: { target: targets.gatehouse, clients: targets.clients.gatehouse, jar: await signInToAll(targets.gatehouse, targets.clients.gatehouse, USER), users: USERS, firstPartyClientId: targets.firstParty.client_id, pools: {} },
    bare: { target: targets.bare, clients: targets.clients.bare, jar: await signInToAll(targets.bare, targets.clients.bare, USER), users: [USER], pools: {} },
  };
  log(`Gatehouse pid ${targets.gatehouse.pid}, bare oidc-provider pid ${targets.bare.pid}; ${ROUNDS} round(s) of ${SECONDS} s at ${LEVELS.join('/')} connections`);

  const rpsOf = (scenario: string, target: string, connections: number) => {
    const m = measurements.filter((x) => x.scenario === scenario && x.target === target && x.connections === connections);
    return m.length ? m.reduce((a, x) => a + x.ok, 0) / m.reduce((a, x) => a + x.seconds, 0) : undefined;
  };

  /** One round of `scenario` on one target; `record: false` for the warm-up. */
  async function measure(scenario: Scenario, state: TargetState, connections: number, seconds: number, record = true) {
    const { target } = state;
    const expected = rpsOf(scenario.id, target.name, connections) ?? 0.6 * (rpsOf('cc-opaque', target.name, connections) ?? 300);
    const round = await scenario.round(state, connections, seconds, expected);
    const headers = proxyHeaders(target);
    delete headers['x-forwarded-for'];
    const [cpu0, pg0, redis0] = [cpuSeconds(target.pid), await targets.database.backends(), await redisCpu(redis)];
    const from = Number(process.hrtime.bigint() / 1000n);
    const result = await autocannon({
      url: `http://127.0.0.1:${target.port}`,
      connections,
      ...(round.amount ? { amount: round.amount } : { duration: seconds }),
      timeout: 10,
      headers,
      requests: round.requests,
    });
    const [cpu1, pg1, redis1] = [cpuSeconds(target.pid), await targets.database.backends(), await redisCpu(redis)];
    if (!record) return;
    if (target.name === 'gatehouse') loadWindows.push([from, Number(process.hrtime.bigint() / 1000n)]);
    let deepCheck = 'ok';
    await Promise.resolve()
      .then(() => round.deepCheck())
      .catch((err: Error) => (deepCheck = err.message));
    const statuses = Object.fromEntries(Object.entries(result.statusCodeStats).map(([k, v]) => [k, v.count]));
    const httpErrors = result['4xx'] + result['5xx'];
    const ok = result['2xx'] + result['3xx'] - round.counters.invalid;
    const m: Measurement = {
      scenario: scenario.id,
      target: target.name,
      connections,
      ok,
      errors: httpErrors + result.errors + round.counters.invalid,
      invalid: round.counters.invalid,
      rateLimited: statuses['429'] ?? 0,
      statuses,
      seconds: result.duration,
      p50: result.latency.p50,
      p99: result.latency.p99,
      cpu: cpu1 - cpu0,
      postgresCpu: target.name === 'gatehouse' ? backendCpu(pg0, pg1) : 0,
      redisCpu: redis1 - redis0,
      deepCheck,
      rssMiB: memory(target.pid).rssMiB,
    };
    measurements.push(m);
    const perReq = ok ? ((m.cpu / ok) * 1000).toFixed(3) : '-';
    log(`${scenario.id.padEnd(16)} c=${String(connections).padEnd(3)} ${target.name.padEnd(9)} ${(ok / m.seconds).toFixed(0).padStart(6)} req/s  p50 ${m.p50} ms  p99 ${m.p99} ms  cpu ${perReq} ms/req  errors ${m.errors}${m.errors ? ` ${JSON.stringify(statuses)}` : ''}${deepCheck === 'ok' ? '' : `  DEEP CHECK FAILED: ${deepCheck}`}`);
  }

  for (const scenario of SCENARIOS.filter((s) => wanted(s.id))) {
    const order = [states.gatehouse, ...(scenario.gatehouseOnly ? [] : [states.bare])];
    for (const state of order) {
      await scenario.init?.(state);
      await measure(scenario, state, 16, 1, false); // warm-up: JIT, pools, connections
    }
    for (const connections of LEVELS) {
      for (let r = 0; r < ROUNDS; r++) {
        // A B, then B A: drift on a shared machine hits both targets alike.
        for (const state of r % 2 ? [...order].reverse() : order) await measure(scenario, state, connections, SECONDS);
      }
    }
  }

  if (wanted('login')) {
    const { gatehouse } = targets;
    await loginLoad(gatehouse, targets.firstParty, USERS, 4, 1); // warm-up
    for (const connections of LEVELS) {
      for (let r = 0; r < ROUNDS; r++) {
        // Gatehouse's logins and argon2id alone, in turn (B A on odd rounds, as above).
        const pair = [() => measureLogins(gatehouse, connections), () => measureArgon2(connections)];
        for (const run of r % 2 ? pair.reverse() : pair) await run();
      }
    }
  }

  async function measureLogins(gatehouse: Targets['gatehouse'], connections: number) {
    const [cpu0, pg0] = [cpuSeconds(gatehouse.pid), await targets.database.backends()];
    const login = await loginLoad(gatehouse, targets.firstParty, USERS, connections, LOGIN_SECONDS);
    const [cpu1, pg1] = [cpuSeconds(gatehouse.pid), await targets.database.backends()];
    measurements.push({
      scenario: 'login',
      target: 'gatehouse',
      connections,
      ok: login.ok,
      errors: login.errors,
      invalid: 0,
      rateLimited: login.rateLimited,
      statuses: {},
      seconds: login.seconds,
      p50: Math.round(login.p50),
      p99: Math.round(login.p99),
      cpu: cpu1 - cpu0,
      postgresCpu: backendCpu(pg0, pg1),
      redisCpu: 0,
      deepCheck: login.firstError ?? 'ok',
      rssMiB: memory(gatehouse.pid).rssMiB,
    });
    log(`login            c=${String(connections).padEnd(3)} gatehouse ${login.perSecond.toFixed(1).padStart(6)} logins/s  p50 ${login.p50.toFixed(0)} ms  p99 ${login.p99.toFixed(0)} ms  errors ${login.errors}${login.firstError ? `: ${login.firstError}` : ''}`);
  }

  async function measureArgon2(connections: number) {
    const argon2 = await argon2Rate(connections, LOGIN_SECONDS);
    const hashes = argon2.perSecond * LOGIN_SECONDS;
    measurements.push({
      scenario: 'login',
      target: 'argon2',
      connections,
      ok: Math.round(hashes),
      errors: 0,
      invalid: 0,
      rateLimited: 0,
      statuses: {},
      seconds: LOGIN_SECONDS,
      p50: 0,
      p99: 0,
      cpu: (argon2.cpuMsPerHash / 1000) * hashes,
      postgresCpu: 0,
      redisCpu: 0,
      deepCheck: 'ok',
      rssMiB: 0,
    });
    log(`login            c=${String(connections).padEnd(3)} argon2id ${argon2.perSecond.toFixed(1).padStart(6)} verifications/s alone`);
  }
} catch (err) {
  failed = true;
  log(`bench failed: ${(err as Error).stack}`);
} finally {
  const memoryOf = { gatehouse: memory(targets.gatehouse.pid), bare: memory(targets.bare.pid) };
  const info: RunInfo = { rounds: ROUNDS, seconds: SECONDS, levels: LEVELS, memory: memoryOf, redisVersion: targets.redisVersion, postgresVersion: await targets.database.version(), minutes: (Date.now() - started) / 60_000, date: new Date().toISOString().slice(0, 10), loadAverage: loadavg() };
  redis.disconnect();
  await targets.close({ keepLogs: failed });
  if (!failed && measurements.length) await writeReport(measurements, info, { write: !args['no-write'] && !profileDir });
  if (profileDir) await summariseProfile(profileDir, loadWindows);
  log(failed ? `failed; server logs kept in ${targets.logDir}` : 'done');
  process.exitCode = failed ? 1 : 0;
}
