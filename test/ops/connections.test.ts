import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createStorage, startServer, type TestServer, type TestStorage } from '../helpers/server.ts';

// Issue 8: a request body that keeps a connection open must not hold a shutdown. oidc-provider
// stops reading a body over its 56 KiB limit and answers 400; the rest of the body stayed on the
// connection, which was then neither idle nor finished, and close() waited out the 72 s
// keep-alive timeout (test/oidc/negative.test.ts spent 74 of its 76 s there). A connection busy
// when the close began was likewise kept alive after its answer.

/** Rejects when `promise` takes longer than `ms`: a hang fails the test instead of stalling it. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A client on a raw socket: everything it received, and when the server closed the connection. */
function rawClient(port: number) {
  const socket = connect(port, '127.0.0.1');
  const started = Date.now();
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (received += d));
  socket.on('error', () => {});
  const closed = new Promise<{ received: string; afterMs: number }>((resolve) => socket.on('close', () => resolve({ received, afterMs: Date.now() - started })));
  return { socket, closed, received: () => received };
}

/** A `/token` request that declares 1,000 bytes of body and sends the first 11. */
function slowTokenRequest(port: number) {
  const client = rawClient(port);
  client.socket.write(
    ['POST /token HTTP/1.1', `Host: 127.0.0.1:${port}`, 'Content-Type: application/x-www-form-urlencoded', 'Content-Length: 1000', '', 'grant_type='].join('\r\n'),
  );
  return client;
}

/** A 200 kB chunked body, more than oidc-provider reads before it answers. */
function oversizedChunkedBody() {
  const chunk = new TextEncoder().encode('x'.repeat(10_000));
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < 20) controller.enqueue(chunk);
      else controller.close();
    },
  });
}

describe('closing the server while requests hold connections', () => {
  let storage: TestStorage;
  let server: TestServer | undefined;
  before(async () => {
    storage = await createStorage();
  });
  after(async () => {
    await server?.stop();
    await storage?.drop();
  });

  test('a body the provider stopped reading does not hold the close', async () => {
    server = await startServer(storage);
    const res = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: oversizedChunkedBody(),
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 400);
    await res.text();
    await within(3000, server.stop(), 'close() after a refused body');
  });

  test('a request in flight when the close begins finishes, and its connection then closes', async () => {
    server = await startServer(storage);
    const client = slowTokenRequest(server.port);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const closing = server.stop();
    client.socket.write('x'.repeat(1000 - 'grant_type='.length));
    const { received } = await within(3000, client.closed, 'the connection of the request in flight');
    assert.match(received, /^HTTP\/1\.1 400 /, 'the request was answered');
    assert.match(received, /\r\nconnection: close\r\n/i, 'and told the client the connection ends');
    await within(3000, closing, 'close() after the request in flight');
  });
});
