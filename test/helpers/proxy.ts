import { createServer, connect, type Socket } from 'node:net';

/**
 * A TCP proxy to a real service, so a test can make the service "go down" for one server
 * (close the proxy) without stopping the shared Postgres or Redis.
 */
export async function tcpProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let open = true;
  const counts = { connections: 0 };
  const server = createServer((client) => {
    counts.connections++;
    if (!open) return client.destroy();
    const upstream = connect(target);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    /** Connections made to the proxy so far, refused ones included (reconnect attempts, say). */
    get connections() {
      return counts.connections;
    },
    /** Cuts every connection and refuses new ones until `resume`. */
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    resume() {
      open = true;
    },
    close: () => new Promise<void>((resolve) => {
      open = false;
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
