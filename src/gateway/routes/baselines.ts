/**
 * Reference profiles over REST: list, capture from a live window, upload training rows, delete.
 * The newest profile of a model (and version) is the one drift is computed against.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ReferenceStore } from '../../reference/store.ts';
import { newProfileId } from '../../reference/store.ts';
import { describeProfile, profileFromRows, profileFromWindow } from '../../reference/profile.ts';
import type { TrainingRow } from '../../reference/profile.ts';
import { httpError } from '../errors.ts';
import { nameSchema, errorResponses, versionSchema } from '../schemas.ts';
import type { WindowStore } from '../window-store.ts';
import type { ReferenceRegistry } from '../reference-registry.ts';

export interface BaselineRoutesOptions {
  /** Live windows a profile is captured from. */
  windows: WindowStore;
  /** Where a new profile becomes active at once (other replicas follow the object store). */
  references: ReferenceRegistry;
  /** The persisted profiles (the NATS object store). */
  profiles: Pick<ReferenceStore, 'put' | 'list' | 'delete'>;
}

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

/** Capture from a live window: the default window and its current bounds unless given. */
interface CaptureBody {
  window?: string;
  version?: string;
  from?: number;
  to?: number;
}

export const baselineRoutes: FastifyPluginAsync<BaselineRoutesOptions> = async (app, { windows, references, profiles }) => {
  app.get<{ Querystring: { model?: string } }>(
    '/v1/baselines',
    {
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { model: nameSchema } },
        response: { 200: { type: 'object', required: ['baselines'], properties: { baselines: { type: 'array', items: profileSchema } } }, ...errorResponses },
      },
    },
    async (request) => {
      const { model } = request.query;
      const all = await profiles.list();
      return { baselines: all.filter((p) => model === undefined || p.model === model).map(describeProfile) };
    },
  );

  app.post<{ Params: { model: string }; Body: CaptureBody | undefined }>(
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
      const { model } = request.params;
      const body = request.body ?? {};
      const window = body.window ?? windows.summaryWindow();
      if (windows.lengthOf(window) === undefined) throw httpError(400, `body/window must be one of ${windows.windowNames().join(', ')}, got '${window}'`);
      const bounds = windows.bounds(model, window);
      if (bounds === undefined) throw httpError(404, `unknown model '${model}'`);
      const from = body.from ?? bounds.from;
      const to = body.to ?? bounds.to;
      if (!(to > from)) throw httpError(400, `body/to (${to}) must be after body/from (${from})`);
      const aggregate = windows.aggregateRange(model, from, to, body.version);
      if (aggregate === undefined || aggregate.input.count === 0) throw httpError(409, `model '${model}' has no predictions between ${from} and ${to} to capture`);
      const now = Date.now();
      const profile = profileFromWindow(newProfileId(model, body.version ?? null, 'window', now), model, body.version ?? null, 'window', aggregate.input, aggregate.outcome, from, to);
      await profiles.put(profile);
      references.setReference(profile);
      return reply.code(201).send(describeProfile(profile));
    },
  );

  app.post<{ Body: { model: string; version?: string; rows: TrainingRow[] } }>(
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
      const { model, version, rows } = request.body;
      const profile = profileFromRows(newProfileId(model, version ?? null, 'file', Date.now()), model, version ?? null, rows);
      await profiles.put(profile);
      references.setReference(profile);
      return reply.code(201).send(describeProfile(profile));
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/baselines/:id',
    {
      schema: {
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 256 } } },
        response: { 200: { type: 'object', properties: { deleted: { type: 'string' } } }, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (!(await profiles.delete(id))) throw httpError(404, `no baseline '${id}'`);
      references.removeReference(id);
      return { deleted: id };
    },
  );
};
