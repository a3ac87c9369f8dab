/**
 * The raw argon2id rate on this machine: `verify` (what a sign-in runs) of a hash made with
 * Gatehouse's parameters (config/defaults.ts), `concurrency` at once for `seconds`, through
 * @node-rs/argon2 as Gatehouse calls it. Prints one JSON line.
 *   node bench/argon2-rate.ts <concurrency> <seconds>
 */
import { hash, verify } from '@node-rs/argon2';
import { defaults } from '../config/defaults.ts';

const [concurrency = 1, seconds = 3] = process.argv.slice(2).map(Number);
const password = 'a password of ordinary length 123';
const stored = await hash(password, { algorithm: 2, ...defaults.argon2 });
const started = performance.now();
const cpu = process.cpuUsage();
const end = started + seconds * 1000;
let done = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      if (!(await verify(stored, password))) throw new Error('argon2 verify failed');
      done++;
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
process.stdout.write(`${JSON.stringify({ perSecond: done / elapsed, cpuMsPerHash: (used.user + used.system) / 1000 / done })}\n`);
