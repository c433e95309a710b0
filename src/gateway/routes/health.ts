/** Liveness and readiness probes: never behind auth (orchestrators call them without a token). */
import type { FastifyPluginAsync } from 'fastify';
import type { MetricsSource } from '../../contract/metrics-source.ts';
import { errorBody } from '../errors.ts';

export interface HealthRoutesOptions {
  source: MetricsSource;
}

export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { source }) => {
  app.get('/healthz', {
    schema: {
      // The process is alive.
      response: { 200: { type: 'object', required: ['status'], properties: { status: { type: 'string', const: 'ok' } } } },
    },
    handler: async () => ({ status: 'ok' }),
  });

  app.get('/readyz', {
    schema: {
      // The metrics source can answer queries (200) or not yet (503 with the reason).
      response: {
        200: { type: 'object', required: ['status'], properties: { status: { type: 'string', const: 'ready' } } },
        503: {
          type: 'object',
          required: ['status', 'error', 'message', 'statusCode'],
          properties: { status: { type: 'string' }, error: { type: 'string' }, message: { type: 'string' }, statusCode: { type: 'integer' } },
        },
      },
    },
    handler: async (_request, reply) => {
      if (source.ready()) return { status: 'ready' };
      const reason = source.notReadyReason?.() ?? 'metrics source is not ready';
      return reply.code(503).send({ status: 'not_ready', ...errorBody(503, reason) });
    },
  });
};
