/**
 * `gatehouse user import` of 100,000 lines: wall time and peak memory (maximum RSS) of the
 * CLI process, for the import, a second run of the same file (every line a duplicate, so
 * 100,000 errors in the summary) and a dry run of a fresh file.
 *   node bench/import.bench.ts              (embedded database, owned by the CLI process)
 *   DATABASE_URL=... node bench/import.bench.ts
 *   LINES=1000000 node bench/import.bench.ts
 * Prints one JSON object.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { createStorage, STORAGE } from '../test/helpers/server.ts';

const LINES = Number(process.env.LINES ?? 100_000);
const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
// The child reports its own peak RSS (getrusage ru_maxrss, KiB) as it exits.
const REPORT_RSS = `data:text/javascript,process.on('exit',()=>process.stderr.write('max-rss-kib '+process.resourceUsage().maxRSS+'\\n'))`;

async function writeFile(path: string, prefix: string) {
  const out = createWriteStream(path);
  for (let i = 0; i < LINES; i++) {
    const line = JSON.stringify({
      email: `${prefix}-${i}@example.com`,
      name: `User ${i}`,
      username: `${prefix}${i}`,
      email_verified: i % 2 === 0,
      // A Django pbkdf2_sha256 string: the format is checked at import, the key only at sign-in.
      password_hash: `pbkdf2_sha256$870000$${randomBytes(9).toString('hex')}$${randomBytes(32).toString('base64')}`,
    });
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function run(env: Record<string, string | undefined>, args: string[]) {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', REPORT_RSS, CLI, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const [code] = (await once(child, 'close')) as [number];
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`gatehouse ${args.join(' ')} exited ${code}: ${stderr}`);
  if (args[0] === 'migrate') return undefined;
  const summary = JSON.parse(stdout) as { imported: number; skipped: number; errors: unknown[] };
  const kib = Number(/max-rss-kib (\d+)/.exec(stderr)?.[1]);
  return {
    imported: summary.imported,
    skipped: summary.skipped,
    errorsListed: summary.errors.length,
    seconds: Number(seconds.toFixed(1)),
    linesPerSecond: Math.round(LINES / seconds),
    peakRssMiB: Math.round(kib / 1024),
    progressLines: stderr.split('\n').filter((l) => l.startsWith('gatehouse: user import:')).length,
  };
}

const storage = await createStorage({ redis: false });
const dir = tmpdir();
const tag = randomBytes(4).toString('hex');
const file = join(dir, `gatehouse-bench-import-${tag}.jsonl`);
const fresh = join(dir, `gatehouse-bench-import-${tag}-dry.jsonl`);
try {
  await writeFile(file, `bench${tag}`);
  await writeFile(fresh, `dry${tag}`);
  // Migrations first, so that the runs below measure the import alone.
  await run(storage.env, ['migrate']);
  const results = {
    import: await run(storage.env, ['user', 'import', '--file', file]),
    again: await run(storage.env, ['user', 'import', '--file', file]),
    dryRun: await run(storage.env, ['user', 'import', '--file', fresh, '--dry-run']),
  };
  // For scale: the same CLI doing next to nothing (opening the database, listing clients).
  const idle = await (async () => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', REPORT_RSS, CLI, 'client', 'list'], { env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...storage.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    await once(child, 'close');
    return { seconds: Number(((performance.now() - started) / 1000).toFixed(1)), peakRssMiB: Math.round(Number(/max-rss-kib (\d+)/.exec(stderr)?.[1]) / 1024) };
  })();
  console.log(
    JSON.stringify({ storage: STORAGE.replace('+redis', ''), node: process.version, lines: LINES, fileMiB: Number(((await stat(file)).size / 2 ** 20).toFixed(1)), results, cliDoingNothing: idle }, null, 2),
  );
} finally {
  await rm(file, { force: true });
  await rm(fresh, { force: true });
  await storage.drop();
}
