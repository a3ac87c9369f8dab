import { buildApp } from './app.ts';
import { closeOnSignals } from './ops/shutdown.ts';
import { loadConfigOrExit, openRuntime } from './runtime.ts';

/** `npm start`: the identity provider on PORT, with the job worker inline unless WORKER=off. */
async function main() {
  const config = loadConfigOrExit();
  const runtime = await openRuntime(config, { attach: 'refuse' });
  const { app } = await buildApp(runtime);

  closeOnSignals({
    log: app.log,
    what: 'server',
    timeoutMs: config.shutdownTimeoutSeconds * 1000,
    close: async () => {
      await app.close();
      await runtime.close();
    },
  });

  await app.listen({ port: config.port, host: config.host });
  app.log.info({ issuer: config.issuer, database: runtime.database.embedded ? `embedded (${config.dataDir})` : 'postgres', oidcStorage: runtime.redis ? 'redis' : 'postgres' }, 'Gatehouse is ready');
}

main().catch((err: Error) => {
  process.stderr.write(`gatehouse: ${err.message}\n`);
  process.exit(1);
});
