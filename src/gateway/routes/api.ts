/** REST API over the metrics source: models, per-model window metrics, alerts. */
import type { FastifyPluginAsync } from 'fastify';
import type { MetricsSource } from '../../contract/metrics-source.ts';
import { httpError, unknownVersionError } from '../errors.ts';
import type { ActiveAlert } from '../../contract/alerting.ts';
import type { AlertEvent } from '../../contract/metrics.ts';
import { parseDuration } from '../../contract/duration.ts';
import { alertRuleStatusSchema, errorResponses, errorSchema, nameSchema, versionSchema } from '../schemas.ts';

export interface ApiRoutesOptions {
  source: MetricsSource;
  /** Valid values of ?window=, from source.windows() at start. */
  windows: readonly string[];
  defaultWindow: string;
}

/** The 404 of the per-model routes, documented with its two causes. */
const unknownModelOrVersion = { ...errorSchema, description: "unknown model, or a ?version= never seen of it (the message lists the model's known versions)" } as const;

/**
 * Answers 404 for a model the source does not know, or a version of it never seen: empty metrics
 * for a misspelt version looked like a version without traffic. A version seen whose panes left
 * the window is known (empty metrics). Not checked when the source cannot tell (no knownVersions).
 */
function checkModelVersion(source: MetricsSource, model: string, version: string | undefined): void {
  if (source.knownVersions === undefined) return;
  const known = source.knownVersions(model);
  if (known === undefined) throw httpError(404, `unknown model '${model}'`);
  if (version !== undefined && !known.includes(version)) throw unknownVersionError(model, version, known);
}

/** `token` is accepted in every query string (auth runs before validation); listed for documentation. */
const tokenQuery = { type: 'string', description: 'API token, alternative to "Authorization: Bearer"' } as const;

export const apiRoutes: FastifyPluginAsync<ApiRoutesOptions> = async (app, { source, windows, defaultWindow }) => {
  app.get<{ Reply: unknown }>('/v1/models', {
    schema: {
      // Models seen in the retained windows.
      querystring: { type: 'object', properties: { token: tokenQuery } },
      response: {
        200: {
          type: 'object',
          required: ['models', 'windows'],
          properties: {
            models: { type: 'array', items: { $ref: 'driftwatch.ModelSummary#' } },
            windows: { type: 'array', items: { type: 'string' }, description: 'the sliding windows served (?window= of the metrics, the feed)' },
            defaultWindow: { type: 'string' },
          },
        },
        ...errorResponses,
      },
    },
    handler: async () => ({ models: source.listModels(), windows: [...windows], defaultWindow }),
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
      response: { 200: { $ref: 'driftwatch.ModelMetrics#' }, 404: unknownModelOrVersion, ...errorResponses },
    },
    handler: async (request) => {
      const { model } = request.params;
      const { window, version, reference } = request.query;
      checkModelVersion(source, model, version);
      const metrics = source.getMetrics(model, window, version, { reference });
      if (metrics === undefined) throw httpError(404, `unknown model '${model}'`);
      return metrics;
    },
  });

  app.get<{ Params: { model: string }; Querystring: { window: string; version?: string } }>('/v1/models/:model/segments', {
    schema: {
      // Per segment key, the segment values ranked by accuracy drop against the model's overall
      // accuracy in the window, with a significance test (README "Worst segments").
      params: { type: 'object', required: ['model'], properties: { model: nameSchema } },
      querystring: {
        type: 'object',
        properties: {
          window: { type: 'string', enum: [...windows], default: defaultWindow },
          version: versionSchema,
          token: tokenQuery,
        },
      },
      response: { 200: { $ref: 'driftwatch.ModelSegments#' }, 404: unknownModelOrVersion, ...errorResponses },
    },
    handler: async (request) => {
      const { model } = request.params;
      const { window, version } = request.query;
      if (source.getSegments === undefined) throw httpError(404, 'this metrics source does not rank segments');
      checkModelVersion(source, model, version);
      const segments = source.getSegments(model, window, version);
      if (segments === undefined) throw httpError(404, `unknown model '${model}'`);
      return segments;
    },
  });

  app.get<{ Querystring: { model?: string; rule?: string; state?: 'pending' | 'firing' | 'resolved'; since?: string; limit: number } }>('/v1/alerts', {
    schema: {
      // `active`: alerts pending or firing now (silenced, acknowledged); `history`: past transitions, newest first.
      querystring: {
        type: 'object',
        properties: {
          model: nameSchema,
          rule: { type: 'string', minLength: 1, maxLength: 64 },
          state: { type: 'string', enum: ['pending', 'firing', 'resolved'], description: 'pending/firing filter active; firing/resolved filter history' },
          since: { type: 'string', description: 'history: transitions at or after this time (epoch ms, ISO 8601, or a duration back from now like 1h)' },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50, description: 'history: at most this many' },
          token: tokenQuery,
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['active', 'history'],
          properties: {
            active: { type: 'array', items: { $ref: 'driftwatch.ActiveAlert#' } },
            history: { type: 'array', items: { $ref: 'driftwatch.AlertEvent#' } },
            rules: { type: 'array', items: alertRuleStatusSchema },
          },
        },
        ...errorResponses,
      },
    },
    // `rules`: rules that cannot judge their baseline (state 'insufficient_reference'), when the source reports them
    handler: async (request) => {
      const { model, rule, state, limit } = request.query;
      const since = request.query.since === undefined ? undefined : parseSince(request.query.since, 'since');
      const active = (source.activeAlerts ? source.activeAlerts(model) : activeFromRecent(source.recentAlerts(model))).filter(
        (a) => (rule === undefined || a.rule === rule) && (state === undefined || a.state === state),
      );
      const historyState = state === 'firing' || state === 'resolved' ? state : undefined;
      const history =
        state === 'pending'
          ? []
          : source.alertHistory
            ? source.alertHistory({ model, rule, state: historyState, since, limit })
            : source
                .recentAlerts(model)
                .filter((a) => (rule === undefined || a.rule === rule) && (historyState === undefined || a.state === historyState) && (since === undefined || a.at >= since))
                .sort((a, b) => b.at - a.at)
                .slice(0, limit);
      return { active, history, ...(source.ruleStatuses ? { rules: source.ruleStatuses(model) } : {}) };
    },
  });
};

/** A time in a query: epoch ms, an ISO 8601 time, or a duration back from now ('1h'). */
export function parseSince(text: string, field: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  const back = parseDuration(text);
  if (back !== null) return Date.now() - back;
  const at = Date.parse(text);
  if (Number.isFinite(at)) return at;
  throw httpError(400, `querystring/${field} must be epoch ms, an ISO 8601 time or a duration like '1h', got '${text}'`);
}

/** For a source that reports transitions only: its latest firing transitions stand for the active alerts. */
function activeFromRecent(recent: AlertEvent[]): ActiveAlert[] {
  const latest = new Map<string, AlertEvent>();
  for (const a of recent) {
    const key = `${a.model}|${a.rule}|${a.scope}`;
    const prev = latest.get(key);
    if (!prev || a.at > prev.at || (a.at === prev.at && a.state === 'resolved')) latest.set(key, a);
  }
  return [...latest.values()]
    .filter((a) => a.state === 'firing')
    .map((a) => ({ ...a, state: 'firing' as const, firedAt: a.at, silenced: a.silenced ?? false, silencedBy: a.silencedBy ?? [], acknowledged: null }));
}
