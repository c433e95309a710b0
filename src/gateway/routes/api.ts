/** REST API over the metrics source: models, per-model window metrics, alerts. */
import type { FastifyPluginAsync } from 'fastify';
import type { MetricsSource } from '../../contract/metrics-source.ts';
import { httpError } from '../errors.ts';
import { alertRuleStatusSchema, errorResponses, nameSchema, versionSchema } from '../schemas.ts';

export interface ApiRoutesOptions {
  source: MetricsSource;
  /** Valid values of ?window=, from source.windows() at start. */
  windows: readonly string[];
  defaultWindow: string;
}

/** `token` is accepted in every query string (auth runs before validation); listed for documentation. */
const tokenQuery = { type: 'string', description: 'API token, alternative to "Authorization: Bearer"' } as const;

export const apiRoutes: FastifyPluginAsync<ApiRoutesOptions> = async (app, { source, windows, defaultWindow }) => {
  app.get<{ Reply: unknown }>('/v1/models', {
    schema: {
      // Models seen in the retained windows.
      querystring: { type: 'object', properties: { token: tokenQuery } },
      response: {
        200: { type: 'object', required: ['models'], properties: { models: { type: 'array', items: { $ref: 'driftwatch.ModelSummary#' } } } },
        ...errorResponses,
      },
    },
    handler: async () => ({ models: source.listModels() }),
  });

  app.get<{ Params: { model: string }; Querystring: { window: string; version?: string; reference?: 'profile' | 'rolling' } }>('/v1/models/:model/metrics', {
    schema: {
      // Metrics of one model over one sliding window, all versions merged unless ?version= is given.
      params: { type: 'object', required: ['model'], properties: { model: nameSchema } },
      querystring: {
        type: 'object',
        properties: {
          window: { type: 'string', enum: [...windows], default: defaultWindow },
          version: versionSchema,
          reference: { type: 'string', enum: ['profile', 'rolling'], default: 'profile' },
          token: tokenQuery,
        },
      },
      response: { 200: { $ref: 'driftwatch.ModelMetrics#' }, ...errorResponses },
    },
    handler: async (request) => {
      const { model } = request.params;
      const { window, version, reference } = request.query;
      const metrics = source.getMetrics(model, window, version, { reference });
      if (metrics === undefined) throw httpError(404, `unknown model '${model}'`);
      return metrics;
    },
  });

  app.get<{ Querystring: { model?: string } }>('/v1/alerts', {
    schema: {
      // Alerts currently firing and recent transitions, optionally for one model.
      querystring: { type: 'object', properties: { model: nameSchema, token: tokenQuery } },
      response: {
        200: { type: 'object', required: ['alerts'], properties: { alerts: { type: 'array', items: { $ref: 'driftwatch.AlertEvent#' } }, rules: { type: 'array', items: alertRuleStatusSchema } } },
        ...errorResponses,
      },
    },
    // `rules`: rules that cannot judge their baseline (state 'insufficient_reference'), when the source reports them
    handler: async (request) => ({ alerts: source.recentAlerts(request.query.model), ...(source.ruleStatuses ? { rules: source.ruleStatuses(request.query.model) } : {}) }),
  });
};
