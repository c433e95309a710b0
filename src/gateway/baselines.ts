import type { FastifyInstance } from 'fastify';
import type { WindowSource } from './window-source.ts';
import type { ReferenceStore } from '../reference/store.ts';
import { newProfileId } from '../reference/store.ts';
import { describeProfile, profileFromRows, profileFromWindow } from '../reference/profile.ts';
import type { TrainingRow } from '../reference/profile.ts';
import { nameSchema, errorResponses, versionSchema } from './schemas.ts';
import { defaultWindowOf } from '../contract/limits.ts';

/**
 * Reference profiles over REST: list, capture from a live window, upload training rows, delete.
 * The newest profile of a model (and version) is the one drift is computed against.
 */

const profileSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['id', 'model', 'version', 'source', 'createdAt', 'count'],
  properties: {
    id: { type: 'string' },
    model: { type: 'string' },
    version: { anyOf: [{ type: 'string' }, { type: 'null' }] },
    source: { type: 'string', enum: ['file', 'window', 'auto'] },
    createdAt: { type: 'number' },
    count: { type: 'number' },
  },
} as const;

const rowSchema = {
  type: 'object',
  required: ['features'],
  additionalProperties: false,
  properties: {
    features: { type: 'object', additionalProperties: { anyOf: [{ type: 'number' }, { type: 'string' }, { type: 'null' }] } },
    output: { anyOf: [{ type: 'number' }, { type: 'string' }, { type: 'null' }] },
    label: { anyOf: [{ type: 'number' }, { type: 'string' }, { type: 'null' }] },
  },
} as const;

export async function baselineRoutes(app: FastifyInstance, deps: { source: WindowSource; references: ReferenceStore }): Promise<void> {
  const { source, references } = deps;

  app.get(
    '/v1/baselines',
    {
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { model: nameSchema } },
        response: { 200: { type: 'object', required: ['baselines'], properties: { baselines: { type: 'array', items: profileSchema } } }, ...errorResponses },
      },
    },
    async (request) => {
      const { model } = request.query as { model?: string };
      const all = await references.list();
      return { baselines: all.filter((p) => model === undefined || p.model === model).map(describeProfile) };
    },
  );

  app.post(
    '/v1/models/:model/baseline',
    {
      schema: {
        params: { type: 'object', required: ['model'], properties: { model: nameSchema } },
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            window: { type: 'string', minLength: 1 },
            version: versionSchema,
            from: { type: 'number' },
            to: { type: 'number' },
          },
        },
        response: { 201: profileSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { model } = request.params as { model: string };
      const body = (request.body ?? {}) as { window?: string; version?: string; from?: number; to?: number };
      const window = body.window ?? defaultWindowOf(source.windows());
      if (!source.windows().includes(window)) {
        return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `body/window must be one of ${source.windows().join(', ')}, got '${window}'` });
      }
      const bounds = source.windowBounds(model, window);
      if (bounds === undefined) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `unknown model '${model}'` });
      const from = body.from ?? bounds.from;
      const to = body.to ?? bounds.to;
      if (!(to > from)) return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `body/to (${to}) must be after body/from (${from})` });
      const aggregate = source.aggregateRange(model, from, to, body.version);
      if (aggregate === undefined || aggregate.input.count === 0) {
        return reply.code(409).send({ statusCode: 409, error: 'Conflict', message: `model '${model}' has no predictions between ${from} and ${to} to capture` });
      }
      const now = Date.now();
      const profile = profileFromWindow(newProfileId(model, body.version ?? null, 'window', now), model, body.version ?? null, 'window', aggregate.input, aggregate.outcome, from, to);
      await references.put(profile);
      source.setReference(profile);
      return reply.code(201).send(describeProfile(profile));
    },
  );

  app.post(
    '/v1/baselines',
    {
      bodyLimit: 64 * 1024 * 1024,
      schema: {
        body: {
          type: 'object',
          required: ['model', 'rows'],
          additionalProperties: false,
          properties: {
            model: nameSchema,
            version: versionSchema,
            rows: { type: 'array', minItems: 1, items: rowSchema },
          },
        },
        response: { 201: profileSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { model, version, rows } = request.body as { model: string; version?: string; rows: TrainingRow[] };
      const profile = profileFromRows(newProfileId(model, version ?? null, 'file', Date.now()), model, version ?? null, rows);
      await references.put(profile);
      source.setReference(profile);
      return reply.code(201).send(describeProfile(profile));
    },
  );

  app.delete(
    '/v1/baselines/:id',
    {
      schema: {
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 256 } } },
        response: { 200: { type: 'object', properties: { deleted: { type: 'string' } } }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!(await references.delete(id))) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no baseline '${id}'` });
      source.removeReference(id);
      return { deleted: id };
    },
  );
}
