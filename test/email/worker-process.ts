/**
 * A worker process for tests: src/worker.ts's `startWorker`, configured from the environment
 * like `npm run worker`, plus tunables (argv[2], JSON) that are not environment variables.
 * Prints "ready" once it works; SIGTERM shuts it down, SIGKILL is a crash.
 */
import { loadConfig, type Config } from '../../src/config.ts';
import { createLog } from '../../src/email/log.ts';
import { openRuntime } from '../../src/runtime.ts';
import { startWorker } from '../../src/worker.ts';

const overrides = JSON.parse(process.argv[2] ?? '{}') as Partial<Config>;
const config = loadConfig(process.env, overrides);
const runtime = await openRuntime({ ...config, redisUrl: undefined }, { attach: 'allow' });
const worker = await startWorker({ config, database: runtime.database, log: createLog(config.logLevel, `test-worker-${process.pid}`) });
process.stdout.write('ready\n');
process.on('SIGTERM', async () => {
  await worker.close();
  await runtime.close();
  process.exit(0);
});
