/**
 * The worker's own HTTP endpoint: /healthz (open, for liveness probes), /readyz and /metrics,
 * which require the token when one is configured, as every endpoint of the gateway does.
 */
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { BEARER_CHALLENGE, createTokenAuthenticator, queryTokenOf } from '../gateway/auth.ts';

export interface WorkerHttpOptions {
  token: string | null;
  registry: Registry;
  /** null while the worker is still starting. */
  ready: () => boolean | null;
  /** Called before each scrape of /metrics, e.g. to bring checkpoint ages up to the second. */
  beforeScrape?: () => void;
}

export function buildWorkerHttp(options: WorkerHttpOptions): FastifyInstance {
  const http = Fastify({ forceCloseConnections: 'idle' });
  const auth = options.token === null ? null : createTokenAuthenticator(options.token);
  http.addHook('onRequest', async (request, reply) => {
    if (auth === null || request.url === '/healthz') return;
    const result = auth.check(request.headers.authorization, queryTokenOf(request.raw.url));
    if (!result.ok) return reply.code(401).header('www-authenticate', BEARER_CHALLENGE).send({ statusCode: 401, error: 'Unauthorized', message: result.message });
  });
  http.get('/healthz', async () => ({ status: 'ok' }));
  http.get('/readyz', async (_request, reply) => {
    const ready = options.ready();
    if (ready === true) return { status: 'ready' };
    const message = ready === null ? 'the worker is starting' : 'a partition consumer is not live (NATS unreachable or the consumer is being recreated)';
    return reply.code(503).send({ status: 'not_ready', message });
  });
  http.get('/metrics', async (_request, reply) => {
    options.beforeScrape?.();
    return reply.type(options.registry.contentType).send(await options.registry.metrics());
  });
  return http;
}
