/**
 * Cluster metadata: the facts every process must agree on (partition count, schema version),
 * stored once in KV so that no process can silently hash events into a different partitioning.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { META_BUCKET, META_KEY } from './subjects.ts';

export interface ClusterMetadata {
  partitions: number;
  schemaVersion: number;
  /** ISO-8601 time of creation. */
  createdAt: string;
}

/** Largest partition count accepted: each partition is a subject token and an ordered consumer. */
export const MAX_PARTITIONS = 4096;

export function validatePartitionCount(partitions: number, where: string): void {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new RangeError(`${where}: partition count must be an integer from 1 to ${MAX_PARTITIONS}, got ${partitions}`);
  }
}

/** Decodes and validates the stored JSON; the error names the bucket/key and the bad field. */
export function parseClusterMetadata(bytes: Uint8Array): ClusterMetadata {
  const where = `KV ${META_BUCKET}/${META_KEY}`;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new Error(`${where} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null) throw new Error(`${where} is not a JSON object`);
  const { partitions, schemaVersion, createdAt } = value as Record<string, unknown>;
  if (typeof partitions !== 'number') throw new Error(`${where}: "partitions" must be a number`);
  validatePartitionCount(partitions, where);
  if (typeof schemaVersion !== 'number' || !Number.isInteger(schemaVersion) || schemaVersion < 1) {
    throw new Error(`${where}: "schemaVersion" must be a positive integer`);
  }
  if (typeof createdAt !== 'string') throw new Error(`${where}: "createdAt" must be a string`);
  return { partitions, schemaVersion, createdAt };
}

export function encodeClusterMetadata(meta: ClusterMetadata): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(meta));
}

/** The stored metadata, or null when the cluster has not been provisioned yet. */
export async function readClusterMetadata(nc: NatsConnection): Promise<ClusterMetadata | null> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(`KV_${META_BUCKET}`);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return null;
    throw err;
  }
  const kv = await new Kvm(nc).open(META_BUCKET);
  const entry = await kv.get(META_KEY);
  if (entry === null || entry.operation !== 'PUT') return null;
  return parseClusterMetadata(entry.value);
}
