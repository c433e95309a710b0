/** `GET /metrics`: the prom-client registry in the text exposition format. */
import type { FastifyPluginAsync } from 'fastify';
import type { Registry, RegistryContentType } from 'prom-client';
import { errorResponses } from '../schemas.ts';

export interface PrometheusRouteOptions {
  registry: Registry<RegistryContentType>;
  /** Called (and awaited) before each scrape, e.g. to refresh model-level gauges from the source. */
  beforeScrape?: () => void | Promise<void>;
}

export const prometheusRoute: FastifyPluginAsync<PrometheusRouteOptions> = async (app, { registry, beforeScrape }) => {
  app.get('/metrics', {
    schema: {
      // Prometheus metrics (text exposition format; the body is text, not JSON).
      querystring: { type: 'object', properties: { token: { type: 'string' } } },
      response: { 200: { type: 'string' }, ...errorResponses },
    },
    handler: async (_request, reply) => {
      await beforeScrape?.();
      const body = await registry.metrics();
      return reply.header('content-type', registry.contentType).send(body);
    },
  });
};
