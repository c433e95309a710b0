/**
 * The operator dashboard: static files from src/gateway/static served at `/` and `/static/<file>`.
 *
 * The page itself is public (it holds no data): it asks for the bearer token when the API answers
 * 401 and then talks only to the public REST API and the /v1/live feed. The files are read once at
 * registration and served from memory, so a request path never reaches the file system (no
 * directory traversal by construction); names are matched against a strict pattern.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { httpError } from '../errors.ts';

export interface DashboardRoutesOptions {
  /** Folder holding index.html and its assets. Default: src/gateway/static of this package. */
  root?: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};
/** Flat file names only: no '/', no '..', no leading dot. */
const ASSET_NAME = /^[a-z0-9][a-z0-9_-]*\.(html|js|css|svg|ico)$/u;

interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** The static folder next to this module in the sources, or the sources' copy when running from dist/. */
function defaultRoot(): string {
  const candidates = [new URL('../static/', import.meta.url), new URL('../../../../src/gateway/static/', import.meta.url)];
  for (const candidate of candidates) {
    const path = fileURLToPath(candidate);
    if (existsSync(`${path}index.html`)) return path;
  }
  throw new Error(`dashboard: no index.html in ${candidates.map((c) => fileURLToPath(c)).join(' or ')}`);
}

/** Pure: the servable assets of a folder listing, keyed by name. */
export function loadAssets(root: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(root)) {
    if (!ASSET_NAME.test(name)) continue;
    const body = readFileSync(`${root.endsWith('/') ? root : `${root}/`}${name}`);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    assets.set(name, { body, contentType: CONTENT_TYPES[extname(name)], etag });
  }
  if (!assets.has('index.html')) throw new Error(`dashboard: ${root} has no index.html`);
  return assets;
}

export const dashboardRoutes: FastifyPluginAsync<DashboardRoutesOptions> = async (app, opts) => {
  const assets = loadAssets(opts.root ?? defaultRoot());

  function send(request: FastifyRequest, reply: FastifyReply, asset: Asset, cacheControl: string): FastifyReply | Buffer {
    reply.header('cache-control', cacheControl).header('etag', asset.etag).header('x-content-type-options', 'nosniff');
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    reply.type(asset.contentType);
    return asset.body;
  }

  // The page is revalidated on every load (ETag), so a new release shows at once.
  app.get('/', async (request, reply) => send(request, reply, assets.get('index.html') as Asset, 'no-cache'));

  app.get<{ Params: { file: string } }>('/static/:file', async (request, reply) => {
    const { file } = request.params;
    const asset = ASSET_NAME.test(file) ? assets.get(file) : undefined;
    if (asset === undefined) throw httpError(404, `no dashboard file '${file.slice(0, 100)}'`);
    // Short max-age plus ETag: assets have no content hash in their name, so keep them briefly.
    return send(request, reply, asset, 'public, max-age=300');
  });
};
