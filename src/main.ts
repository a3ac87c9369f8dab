import { buildApp } from './app.ts';
import { loadConfigOrExit, openRuntime } from './runtime.ts';

/** `npm start`: the identity provider on PORT, with the job worker inline unless WORKER=off. */
async function main() {
  const config = loadConfigOrExit();
  const runtime = await openRuntime(config, { attach: 'refuse' });
  const app = await buildApp(runtime);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await app.close();
    await runtime.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  await app.listen({ port: config.port, host: config.host });
  app.log.info({ issuer: config.issuer, database: runtime.database.embedded ? `embedded (${config.dataDir})` : 'postgres', oidcStorage: runtime.redis ? 'redis' : 'postgres' }, 'Gatehouse is ready');
}

main().catch((err: Error) => {
  process.stderr.write(`gatehouse: ${err.message}\n`);
  process.exit(1);
});
