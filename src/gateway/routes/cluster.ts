/**
 * `GET /v1/cluster`: workers, partition owners with their lease epochs, lag and checkpoint age,
 * recent ownership changes, and the panes this gateway refused by fencing (src/gateway/cluster-view.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../schemas.ts';
import type { ClusterSnapshot } from '../cluster-view.ts';

export interface ClusterRoutesOptions {
  view: { snapshot(): ClusterSnapshot };
}

const tokenQuery = { type: 'string', description: 'API token, alternative to "Authorization: Bearer"' } as const;
const nullableNumber = { type: ['number', 'null'] } as const;
const nullableString = { type: ['string', 'null'] } as const;

const workerSchema = {
  type: 'object',
  required: ['id', 'host', 'startedAt', 'owned', 'lastSeenAt'],
  properties: {
    id: { type: 'string' },
    host: { type: 'string' },
    startedAt: { type: 'string', description: 'when the worker process started (ISO 8601, its clock)' },
    owned: { type: 'array', items: { type: 'integer' } },
    lastSeenAt: { type: 'number', description: 'server time of its last membership refresh (epoch ms)' },
  },
} as const;

const partitionSchema = {
  type: 'object',
  required: ['partition', 'owner', 'epoch', 'acquiredAt', 'expired', 'lag', 'seq', 'checkpointAgeMs', 'checkpointBytes'],
  properties: {
    partition: { type: 'integer' },
    owner: nullableString,
    epoch: nullableNumber,
    acquiredAt: nullableNumber,
    expired: { type: 'boolean' },
    lag: nullableNumber,
    seq: nullableNumber,
    checkpointAgeMs: nullableNumber,
    checkpointBytes: nullableNumber,
  },
} as const;

const rebalanceSchema = {
  type: 'object',
  required: ['partition', 'at', 'from', 'to', 'epoch'],
  properties: { partition: { type: 'integer' }, at: { type: 'number' }, from: nullableString, to: nullableString, epoch: nullableNumber },
} as const;

export const clusterSnapshotSchema = {
  type: 'object',
  required: ['at', 'live', 'workers', 'partitions', 'rebalances', 'fencedPanes'],
  properties: {
    at: { type: 'number' },
    live: { type: 'boolean' },
    workers: { type: 'array', items: workerSchema },
    partitions: { type: 'array', items: partitionSchema },
    rebalances: { type: 'array', items: rebalanceSchema },
    fencedPanes: {
      type: 'object',
      required: ['total', 'byReason'],
      properties: { total: { type: 'integer' }, byReason: { type: 'object', additionalProperties: { type: 'integer' } } },
    },
  },
} as const;

export const clusterRoutes: FastifyPluginAsync<ClusterRoutesOptions> = async (app, { view }) => {
  app.get('/v1/cluster', {
    schema: {
      // Workers, partition owners and epochs, lag, checkpoint age, recent rebalances.
      querystring: { type: 'object', properties: { token: tokenQuery } },
      response: { 200: clusterSnapshotSchema, ...errorResponses },
    },
    handler: async () => view.snapshot(),
  });
};
