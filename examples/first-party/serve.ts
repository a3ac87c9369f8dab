import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Serves the demo first-party app (static files, plus config.json naming Gatehouse and the
 * client). Run it beside Gatehouse:
 *
 *   npx gatehouse client create --name Notes --redirect-uri http://localhost:5173/ --first-party --public
 *   GATEHOUSE_URL=http://localhost:3000 CLIENT_ID=<client_id> node examples/first-party/serve.ts
 *
 * then open http://localhost:5173/.
 */

const DIR = fileURLToPath(new URL('.', import.meta.url));
const FILES: Record<string, string> = { '/': 'index.html', '/app.js': 'app.js', '/app.css': 'app.css' };
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

export interface DemoOptions {
  port: number;
  host?: string;
  gatehouseUrl: string;
  clientId: string;
}

export async function startDemo({ port, host = '127.0.0.1', gatehouseUrl, clientId }: DemoOptions): Promise<{ url: string; server: Server }> {
  const url = `http://${host === '127.0.0.1' || host === 'localhost' ? host : '127.0.0.1'}:${port}`;
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', url).pathname;
    // The same policy Gatehouse's pages get: scripts and styles from files only.
    res.setHeader('content-security-policy', `default-src 'self'; connect-src 'self' ${gatehouseUrl}; frame-ancestors 'none'`);
    if (path === '/config.json') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ gatehouse: gatehouseUrl, clientId, returnTo: `${url}/` }));
      return;
    }
    const file = FILES[path];
    if (!file) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('content-type', TYPES[extname(file)]!);
    res.end(await readFile(join(DIR, file)));
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { url, server };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const clientId = process.env.CLIENT_ID;
  if (!clientId) {
    process.stderr.write('serve.ts: set CLIENT_ID to a first-party client whose redirect URI is this page (see the comment at the top)\n');
    process.exit(64);
  }
  const { url } = await startDemo({
    port: Number(process.env.PORT ?? 5173),
    host: 'localhost',
    gatehouseUrl: process.env.GATEHOUSE_URL ?? 'http://localhost:3000',
    clientId,
  });
  process.stdout.write(`demo first-party app on ${url}/\n`);
}
