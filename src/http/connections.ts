import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';

type Limits = Config['http'];

/**
 * Fastify's server options for the connection limits (issue 15 finding 5; each is documented
 * in config/defaults.ts). Without them a client that declares a body and sends part of it holds
 * its connection open for as long as it likes.
 */
export function connectionOptions(limits: Limits) {
  return {
    connectionTimeout: limits.connectionTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Handed to http.createServer: Node reads the deadline checking interval only there.
    http: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
    },
    // Fastify's defaults, stated because the close relies on them: idle keep-alive connections
    // close at once, and a request that arrives during the close gets 503 and `Connection: close`.
    forceCloseConnections: 'idle' as const,
    return503OnClosing: true,
  };
}

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
 * - `closeGraceMs` after the close began, every connection still open is closed, whatever it
 *   is doing (a client still sending its body, a handler that hangs).
 */
export function boundConnections(app: FastifyInstance, limits: Limits) {
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

  let grace: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    closing = true;
    for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
    grace = setTimeout(() => app.server.closeAllConnections(), limits.closeGraceMs);
    grace.unref();
  });
  // onClose hooks run once the server has closed: nothing is left for the grace to end.
  app.addHook('onClose', async () => clearTimeout(grace));
}
