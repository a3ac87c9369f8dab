import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Told of every answered request: its status and how long it took (the metrics). */
export type RequestObserver = (request: FastifyRequest, statusCode: number, seconds: number) => void;

/**
 * One log line per request, when its answer has gone out (or the client hung up first): the
 * request, its status and how long it took; and the same moment told to `observe` (metrics).
 * Replaces Fastify's own request logging, which writes a line when a request comes in and
 * another when Fastify answers it, and so gives the provider's answers (written by
 * oidc-provider itself, reply.hijack) only the first line, with no status. One hook and one
 * listener for both, and one line instead of two, is also cheaper on every request (issue 9).
 * Requests are seen when the socket is done: Fastify's onResponse hook never sees the
 * provider's answers.
 */
export function registerAccessLog(app: FastifyInstance, { observe }: { observe?: RequestObserver } = {}) {
  app.addHook('onRequest', (request, reply, done) => {
    const started = process.hrtime.bigint();
    reply.raw.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const finished = reply.raw.writableFinished;
      if (finished) observe?.(request, reply.raw.statusCode, seconds);
      request.log.info({ req: request, res: reply, responseTime: seconds * 1000 }, finished ? 'request completed' : 'request aborted');
    });
    done();
  });
}
