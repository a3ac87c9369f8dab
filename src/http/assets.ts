import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { NO_INPUT } from './schemas.ts';

/**
 * The pages' stylesheets and scripts (views/assets, plus the brand's generated stylesheet),
 * each served under a name carrying a hash of its content (`gatehouse.3fa2c91b.css`) with
 * `Cache-Control: public, max-age=31536000, immutable`: a browser fetches each once, and a
 * changed file is a new name. Read and hashed once at start; templates name them through the
 * `asset` helper (src/http/views.ts). Nothing comes from another origin (no fonts, no CDN).
 */

export const IMMUTABLE = 'public, max-age=31536000, immutable';

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

export interface Asset {
  /** `/assets/<name>.<hash><ext>` */
  url: string;
  body: Buffer;
  type: string;
}

export type Assets = ReadonlyMap<string, Asset>;

/**
 * Scripts of npm packages the pages load, served like our own: @simplewebauthn/browser for
 * passkeys (views/assets/passkeys.js). The package exports only its modules; its browser bundle
 * sits beside them (its `unpkg` file).
 */
export function vendorScripts(): Record<string, Buffer> {
  const webauthn = join(dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js');
  return { 'simplewebauthn-browser.js': readFileSync(webauthn) };
}

function hashedName(name: string, body: Buffer) {
  const ext = extname(name);
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return `${name.slice(0, name.length - ext.length)}.${hash}${ext}`;
}

/** Every file of `dir` (not its folders) and the `generated` ones, by their plain names. */
export function loadAssets(dir: string, generated: Record<string, string | Buffer> = {}): Assets {
  const files: [string, Buffer][] = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && TYPES[extname(entry.name)])
    .map((entry) => [entry.name, readFileSync(`${dir}/${entry.name}`)]);
  for (const [name, content] of Object.entries(generated)) files.push([name, Buffer.from(content)]);
  return new Map(files.map(([name, body]) => [name, { url: `/assets/${hashedName(name, body)}`, body, type: TYPES[extname(name)]! }]));
}

/** The URL of an asset by its plain name; an unknown name is a mistake in a template, found at render. */
export function assetUrl(assets: Assets, name: string): string {
  const asset = assets.get(name);
  if (!asset) throw new Error(`unknown asset ${JSON.stringify(name)} (views/assets)`);
  return asset.url;
}

/** One route per hashed name (exact routes win over the `/assets/*` of the plain files). */
export function serveAssets(app: FastifyInstance, assets: Assets) {
  for (const asset of assets.values()) {
    app.get(asset.url, { schema: NO_INPUT }, async (_request, reply) => reply.header('cache-control', IMMUTABLE).type(asset.type).send(asset.body));
  }
}
