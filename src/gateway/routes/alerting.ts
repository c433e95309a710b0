/** What operators do with alerts: silences, acknowledgements, the audit trail. */
import type { FastifyPluginAsync } from 'fastify';
import type { AuditKind } from '../../contract/alerting.ts';
import { httpError } from '../errors.ts';
import { errorResponses, nameSchema, silenceRequestSchema } from '../schemas.ts';
import { AlertActionError, silenceStateOf, type AlertActions } from '../alert-actions.ts';
import type { AlertLog } from '../alert-log.ts';
import { SilenceRequestError } from '../../alerts/silences.ts';
import { parseSince } from './api.ts';

export interface AlertingRoutesOptions {
  actions: AlertActions;
  alerts: AlertLog;
}

const tokenQuery = { type: 'string', description: 'API token, alternative to "Authorization: Bearer"' } as const;
const DAY_MS = 24 * 3600_000;

function asHttpError(error: unknown): unknown {
  if (error instanceof SilenceRequestError) return httpError(400, `body/${error.message}`);
  if (error instanceof AlertActionError) return httpError(error.statusCode, error.message);
  return error;
}

export const alertingRoutes: FastifyPluginAsync<AlertingRoutesOptions> = async (app, { actions, alerts }) => {
  const withState = <S extends { startsAt: number; endsAt: number; expiredAt: number | null }>(s: S) => ({ ...s, state: silenceStateOf(s as never, Date.now()) });

  app.post<{ Body: Record<string, unknown> }>('/v1/silences', {
    schema: {
      // A silence: matching transitions are recorded and shown (marked silenced) but not sent to webhooks.
      querystring: { type: 'object', properties: { token: tokenQuery } },
      body: silenceRequestSchema,
      response: { 201: { $ref: 'driftwatch.Silence#' }, ...errorResponses },
    },
    handler: async (request, reply) => {
      try {
        const silence = await actions.createSilence(request.body);
        return reply.code(201).send(withState(silence));
      } catch (error) {
        throw asHttpError(error);
      }
    },
  });

  app.get<{ Querystring: { state?: 'active' | 'pending' | 'expired'; model?: string } }>('/v1/silences', {
    schema: {
      querystring: {
        type: 'object',
        properties: { state: { type: 'string', enum: ['active', 'pending', 'expired'] }, model: nameSchema, token: tokenQuery },
      },
      response: { 200: { type: 'object', required: ['silences'], properties: { silences: { type: 'array', items: { $ref: 'driftwatch.Silence#' } } } }, ...errorResponses },
    },
    handler: async (request) => ({ silences: actions.listSilences(request.query).map(withState) }),
  });

  app.delete<{ Params: { id: string }; Querystring: { by?: string } }>('/v1/silences/:id', {
    schema: {
      // Expires a silence now; it stays listed (state 'expired').
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' } } },
      querystring: { type: 'object', properties: { by: { type: 'string', minLength: 1, maxLength: 200 }, token: tokenQuery } },
      response: { 200: { $ref: 'driftwatch.Silence#' }, ...errorResponses },
    },
    handler: async (request) => {
      try {
        return withState(await actions.expireSilence(request.params.id, request.query.by ?? 'api'));
      } catch (error) {
        throw asHttpError(error);
      }
    },
  });

  app.post<{ Params: { id: string }; Body: { by: string; comment?: string } }>('/v1/alerts/:id/ack', {
    schema: {
      // Acknowledges a firing alert (`id` as in GET /v1/alerts `active`); cleared when it resolves.
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 1024 } } },
      querystring: { type: 'object', properties: { token: tokenQuery } },
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['by'],
        properties: { by: { type: 'string', minLength: 1, maxLength: 200 }, comment: { type: 'string', maxLength: 1000 } },
      },
      response: { 200: { $ref: 'driftwatch.ActiveAlert#' }, ...errorResponses },
    },
    handler: async (request) => {
      const { id } = request.params;
      const alert = alerts.activeAlerts().find((a) => a.id === id);
      if (alert === undefined) throw httpError(404, `no active alert '${id}' (it may have resolved): see GET /v1/alerts`);
      try {
        const acknowledged = await actions.acknowledge(alert, request.body.by, request.body.comment ?? '');
        return { ...alert, acknowledged };
      } catch (error) {
        throw asHttpError(error);
      }
    },
  });

  app.get<{ Querystring: { kind?: AuditKind; model?: string; rule?: string; since?: string; limit: number } }>('/v1/audit', {
    schema: {
      // The audit trail (stream DRIFT_AUDIT): transitions, silences, acknowledgements, oldest first.
      querystring: {
        type: 'object',
        properties: {
          kind: { type: 'string', enum: ['transition', 'silence', 'ack'] },
          model: nameSchema,
          rule: { type: 'string', minLength: 1, maxLength: 64 },
          since: { type: 'string', description: 'epoch ms, ISO 8601, or a duration back from now (default 24h)' },
          limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 200, description: 'the latest this many' },
          token: tokenQuery,
        },
      },
      response: { 200: { type: 'object', required: ['entries'], properties: { entries: { type: 'array', items: { $ref: 'driftwatch.AuditEntry#' } } } }, ...errorResponses },
    },
    handler: async (request) => {
      const { kind, model, rule, limit } = request.query;
      const since = request.query.since === undefined ? Date.now() - DAY_MS : parseSince(request.query.since, 'since');
      return { entries: await actions.readAudit({ kind, model, rule, since, limit }) };
    },
  });
};
