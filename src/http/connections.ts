import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';

/**
 * Keeps connections from outliving what they are for, so that a shutdown is prompt. Node's
 * `server.close()` closes the connections idle at that moment and waits for the others; a
 * connection that was busy then is kept alive after its response, until its keep-alive timeout
 * (72 s) or its client ends it, and the close waits all that time:
 *
 * - A response sent before its request body was read leaves the rest of the body on the
 *   connection. Node drains it only if nothing read from the request stream; oidc-provider reads
 *   a body up to its 56 KiB limit, then answers 400 and stops. The rest is now read and dropped,
 *   as Node does for a body nobody touched, and the connection becomes idle.
 * - On close, a response still to be written says `Connection: close`, and a connection whose
 *   request and response are both done is closed instead of kept alive.
 */
export function boundConnections(app: FastifyInstance) {
  const inFlight = new Set<ServerResponse>();
  let closing = false;
  const closeIdle = () => setImmediate(() => app.server.closeIdleConnections());

  app.server.on('request', (req, res: ServerResponse) => {
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    res.once('finish', () => {
      // Once the request is complete too, the connection is idle: close it if shutting down.
      const done = () => closing && closeIdle();
      if (req.complete) return done();
      req.once('end', done);
      req.resume();
    });
  });

  app.addHook('preClose', async () => {
    closing = true;
    for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
  });
}
