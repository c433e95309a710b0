/**
 * Reference profiles over REST: list, capture from a live window, upload training rows or a
 * profile the CLI summarised from a file, delete. The newest profile of a model (and version) is
 * the one drift is computed against; deleting it falls back to the newest remaining. An upload
 * that describes too few rows or other features than the model's live traffic is refused unless
 * forced, and can be checked without storing (dryRun).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ReferenceStore } from '../../reference/store.ts';
import { ProfileIdGenerator } from '../../reference/store.ts';
import { describeProfile, profileFromRows, profileFromWindow } from '../../reference/profile.ts';
import type { ReferenceProfile, TrainingRow } from '../../reference/profile.ts';
import { activationProblems, profileFromUpload } from '../../reference/profile-check.ts';
import type { FeatureKind } from '../../reference/profile-check.ts';
import { httpError, unknownVersionError } from '../errors.ts';
import { nameSchema, errorResponses, errorSchema, versionSchema } from '../schemas.ts';
import type { WindowStore } from '../window-store.ts';
import type { ReferenceRegistry } from '../reference-registry.ts';

export interface BaselineRoutesOptions {
  /** Live windows a profile is captured from. */
  windows: WindowStore;
  /** Where a new profile becomes active at once (other replicas follow the object store). */
  references: ReferenceRegistry;
  /** The persisted profiles (the NATS object store). */
  profiles: Pick<ReferenceStore, 'put' | 'list' | 'delete'>;
  /** Fewest rows an uploaded profile must describe unless forced (setting reference.minRows; default DEFAULT_MIN_ROWS). */
  minRows?: number;
}

export const DEFAULT_MIN_ROWS = 500;

/** The kinds of the features a model sent in its summary window (of the version when it has traffic of its own); null without traffic. */
function liveFeaturesOf(windows: WindowStore, model: string, version: string | null): Map<string, FeatureKind> | null {
  const bounds = windows.bounds(model, windows.summaryWindow());
  if (bounds === undefined) return null;
  let aggregate = version === null ? undefined : windows.aggregateRange(model, bounds.from, bounds.to, version);
  if (aggregate === undefined || aggregate.input.count === 0) aggregate = windows.aggregateRange(model, bounds.from, bounds.to);
  if (aggregate === undefined || aggregate.input.count === 0) return null;
  const kinds = new Map<string, FeatureKind>();
  for (const [name, summary] of aggregate.input.features) {
    if (summary.numeric !== null && summary.numeric.count > 0) kinds.set(name, 'numeric');
    else if (summary.categories !== null && summary.categories.total > 0) kinds.set(name, 'categorical');
  }
  return kinds;
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

interface UploadBody {
  model: string;
  version?: string;
  rows?: TrainingRow[];
  profile?: string;
  force?: boolean;
  dryRun?: boolean;
}

const uploadResponseSchema = {
  ...profileSchema,
  properties: {
    ...profileSchema.properties,
    dryRun: { type: 'boolean' },
    problems: { type: 'array', items: { type: 'string' } },
    inForce: {
      anyOf: [
        { type: 'null' },
        { type: 'object', required: ['id', 'model', 'version'], properties: { id: { type: 'string' }, model: { type: 'string' }, version: { anyOf: [{ type: 'string' }, { type: 'null' }] } } },
      ],
    },
  },
} as const;

/** An event time for a message; a body's from/to may be any number. */
function isoTime(ms: number): string {
  const at = new Date(ms);
  return Number.isNaN(at.getTime()) ? 'not a valid time' : at.toISOString();
}

/** The profile drift of this model (and version) is now computed against. */
function inForceOf(references: ReferenceRegistry, model: string, version: string | null): { id: string; model: string; version: string | null } | null {
  const profile = references.referenceFor(model, version ?? undefined);
  return profile === null ? null : { id: profile.id, model, version: profile.version };
}

export const baselineRoutes: FastifyPluginAsync<BaselineRoutesOptions> = async (app, { windows, references, profiles, minRows = DEFAULT_MIN_ROWS }) => {
  // unique and sortable ids: two uploads in one millisecond must not overwrite each other
  const profileIds = new ProfileIdGenerator();
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
        response: {
          201: profileSchema,
          404: { ...errorSchema, description: "unknown model, or a version never seen of it (the message lists the model's known versions)" },
          409: { ...errorSchema, description: 'no prediction of the model (version) in the range to capture' },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { model } = request.params;
      const body = request.body ?? {};
      const window = body.window ?? windows.summaryWindow();
      if (windows.lengthOf(window) === undefined) throw httpError(400, `body/window must be one of ${windows.windowNames().join(', ')}, got '${window}'`);
      const bounds = windows.bounds(model, window);
      if (bounds === undefined) throw httpError(404, `unknown model '${model}'`);
      const known = windows.knownVersions(model) ?? [];
      if (body.version !== undefined && !known.includes(body.version)) throw unknownVersionError(model, body.version, known);
      const from = body.from ?? bounds.from;
      const to = body.to ?? bounds.to;
      if (!(to > from)) throw httpError(400, `body/to (${to}) must be after body/from (${from})`);
      const aggregate = windows.aggregateRange(model, from, to, body.version);
      if (aggregate === undefined || aggregate.input.count === 0) throw httpError(409, `model '${model}'${body.version === undefined ? '' : ` version '${body.version}'`} has no predictions between ${from} (${isoTime(from)}) and ${to} (${isoTime(to)}) to capture`);
      const { id, at } = profileIds.next(model, body.version ?? null, 'window');
      // older history is held in coarse panes: the profile records the range it really summarizes
      const covered = windows.coveredRange(model, from, to, body.version) ?? { from, to };
      const profile = profileFromWindow(id, model, body.version ?? null, 'window', aggregate.input, aggregate.outcome, covered.from, covered.to);
      profile.createdAt = at;
      await profiles.put(profile);
      references.setReference(profile);
      return reply.code(201).send(describeProfile(profile));
    },
  );

  app.post<{ Body: UploadBody }>(
    '/v1/baselines',
    {
      bodyLimit: 64 * 1024 * 1024,
      schema: {
        body: {
          type: 'object',
          required: ['model'],
          additionalProperties: false,
          properties: {
            model: nameSchema,
            version: versionSchema,
            rows: { type: 'array', minItems: 1, items: rowSchema },
            profile: { type: 'string', minLength: 1, contentEncoding: 'base64' },
            force: { type: 'boolean' },
            dryRun: { type: 'boolean' },
          },
        },
        response: { 200: uploadResponseSchema, 201: uploadResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { model, rows, profile: encoded, force = false, dryRun = false } = request.body;
      const version = request.body.version ?? null;
      if ((rows === undefined) === (encoded === undefined)) throw httpError(400, 'body must have either rows (training rows) or profile (a profile summarised from a file, base64 of its MessagePack bytes)');
      const { id, at: now } = profileIds.next(model, version, 'file');
      let profile: ReferenceProfile;
      if (rows !== undefined) profile = profileFromRows(id, model, version, rows);
      else {
        try {
          profile = profileFromUpload(Buffer.from(encoded as string, 'base64'));
        } catch (error) {
          throw httpError(400, `body/profile: ${(error as Error).message}`);
        }
        // What the gateway decides, whatever the file said: the name, the time, the source.
        profile = { ...profile, id, model, version, source: 'file', createdAt: now, from: null, to: null };
      }
      const problems = activationProblems(profile, { minRows, liveFeatures: liveFeaturesOf(windows, model, version) });
      if (dryRun) return reply.code(200).send({ ...describeProfile(profile), dryRun: true, problems, inForce: null });
      if (problems.length > 0 && !force) {
        throw httpError(409, `refused (pass force to upload anyway): ${problems.join('; ')}`);
      }
      await profiles.put(profile);
      references.setReference(profile);
      return reply.code(201).send({ ...describeProfile(profile), dryRun: false, problems, inForce: inForceOf(references, model, version) });
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/baselines/:id',
    {
      schema: {
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 256 } } },
        response: { 200: { type: 'object', properties: { deleted: { type: 'string' }, inForce: uploadResponseSchema.properties.inForce } }, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      // Looked up first: the object store's watcher may forget the profile before the delete resolves.
      const deleted = references.profileById(id);
      if (!(await profiles.delete(id))) throw httpError(404, `no baseline '${id}'`);
      references.removeReference(id);
      // What drift of that model (and version) is computed against now: the newest remaining profile, or none.
      return deleted === null ? { deleted: id } : { deleted: id, inForce: inForceOf(references, deleted.model, deleted.version) };
    },
  );
};
