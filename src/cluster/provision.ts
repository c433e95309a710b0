/**
 * Creates (idempotently) every JetStream resource driftwatch uses and agrees on the cluster
 * metadata. Safe to run from every process at every start, concurrently: streams with the same
 * config are created once, and the metadata is written with a compare-and-set create so one
 * writer wins and the others read its value.
 */
import { TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
  type StreamUpdateConfig,
} from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import { objectStores } from './object-store.ts';
import {
  encodeClusterMetadata,
  parseClusterMetadata,
  validatePartitionCount,
  type ClusterMetadata,
} from './metadata.ts';
import {
  ALERTS_STREAM,
  ALERT_STATE_BUCKET,
  AUDIT_STREAM,
  WEBHOOK_CLAIMS_BUCKET,
  BASELINES_BUCKET,
  CHECKPOINTS_BUCKET,
  DLQ_STREAM,
  EVENTS_STREAM,
  LEASES_BUCKET,
  META_BUCKET,
  MODELS_BUCKET,
  META_KEY,
  PANES_STREAM,
  RETIRED_EVENTS_SUBJECTS,
  SCHEMA_VERSION,
  eventsSubjects,
} from './subjects.ts';

export const DEFAULT_PARTITIONS = 16;
export const DEFAULT_EVENTS_MAX_AGE_MS = 7 * 24 * 3600_000;
export const DEFAULT_ALERTS_MAX_AGE_MS = 30 * 24 * 3600_000;
export const DEFAULT_DLQ_MAX_AGE_MS = 7 * 24 * 3600_000;
export const DEFAULT_PANES_MAX_AGE_MS = 2 * 3600_000;
export const DEFAULT_DUPLICATE_WINDOW_MS = 2 * 60_000;
/** Lease TTL: a lease not renewed within this time expires (renew well inside it). */
export const LEASE_TTL_MS = 15_000;

export const ALERTS_SUBJECTS = ['drift.alert.>'];
export const AUDIT_SUBJECTS = ['drift.audit.>'];
export const DEFAULT_AUDIT_MAX_AGE_MS = 90 * 24 * 3600_000;
/** How long a webhook delivery claim is kept: far beyond any replay or duplicate window. */
export const WEBHOOK_CLAIM_TTL_MS = 7 * 24 * 3600_000;
export const DLQ_SUBJECTS = ['drift.dlq.>'];
export const PANES_SUBJECTS = ['drift.pane.>'];

export interface ProvisionLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ProvisionOptions {
  /** Partition count; undefined accepts what is stored, or DEFAULT_PARTITIONS for a new cluster. */
  partitions?: number;
  /** 1 (single server) or 3 (cluster). Unset: 1 for new resources, existing ones left as they are. */
  replicas?: 1 | 3;
  eventsMaxAgeMs?: number;
  panesMaxAgeMs?: number;
  alertsMaxAgeMs?: number;
  dlqMaxAgeMs?: number;
  /** Nats-Msg-Id deduplication window of the alerts and events streams. */
  duplicateWindowMs?: number;
  /** Where configuration differences found on existing resources are reported. */
  logger?: ProvisionLogger;
  /** Env var named in the partition-mismatch message (default DRIFTWATCH_PARTITIONS). */
  partitionsSetting?: string;
  /**
   * How long to wait for the JetStream API to answer (default 30 s): a cluster that has just
   * started has no meta leader for a few seconds, and processes often start together with it.
   */
  waitForJetStreamMs?: number;
}

/** The stored partition count differs from the configured one. */
export class PartitionMismatchError extends Error {
  override readonly name = 'PartitionMismatchError';
  constructor(
    readonly stored: number,
    readonly requested: number,
    setting = 'DRIFTWATCH_PARTITIONS',
  ) {
    super(
      `${EVENTS_STREAM} was created with ${stored} partitions but this process was configured with ` +
        `${requested} (${setting}). The partition count is fixed when the stream is created: ` +
        `unset ${setting} or set it to ${stored}.`,
    );
  }
}

/** An existing resource has a setting that cannot be changed in place and breaks driftwatch. */
export class StreamConfigConflictError extends Error {
  override readonly name = 'StreamConfigConflictError';
}

const nanos = (ms: number): number => Math.round(ms * 1_000_000);
const millis = (ns: number): number => Math.round(ns / 1_000_000);

function checkPositiveMs(value: number | undefined, name: string, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`provision: ${name} must be a positive number of ms, got ${v}`);
  return v;
}

export interface DesiredStream {
  name: string;
  subjects: string[];
  maxAgeMs: number;
  duplicateWindowMs: number;
  maxMsgsPerSubject: number;
  replicas: number | undefined;
  /** Subjects driftwatch itself used to configure on this stream, replaced by `subjects` when found. */
  retiredSubjects?: readonly string[];
}

function streamConfig(d: DesiredStream): Partial<StreamConfig> & { name: string } {
  // Only fields nats-server 2.9 knows: newer servers accept them too, older ones reject unknowns.
  return {
    name: d.name,
    subjects: d.subjects,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(d.maxAgeMs),
    duplicate_window: nanos(Math.min(d.duplicateWindowMs, d.maxAgeMs)),
    max_msgs_per_subject: d.maxMsgsPerSubject,
    num_replicas: d.replicas ?? 1,
  };
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/** JetStream API error code when a stream name exists with another config. */
const STREAM_NAME_IN_USE = 10058;

async function streamInfoOrNull(jsm: JetStreamManager, name: string): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (isApiError(err, JetStreamApiCodes.StreamNotFound)) return null;
    throw err;
  }
}

/**
 * Creates a KV or object store bucket (`create`: Kvm.create or ObjM.create), whose stream is
 * `stream`, or finds it made by another process provisioning at the same time: the loser of that
 * race can be refused (nats-server 2.9 answers "subjects overlap with an existing stream" when both
 * requests were in flight, as it does for streams: see ensureStream) though the bucket it asked for
 * now exists. Then it is asked for once more, which the server answers with the bucket made.
 * Anything else is a real error (the bucket not there after a refusal included).
 */
export async function createBucket<T>(jsm: JetStreamManager, stream: string, create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (err) {
    if ((await streamInfoOrNull(jsm, stream)) === null) throw err;
    return await create();
  }
}

/**
 * Compares an existing stream with what driftwatch wants. Returns the safe changes (applied by
 * update) and the human-readable differences.
 */
export function diffStream(
  existing: StreamConfig,
  desired: DesiredStream,
): { update: Partial<StreamUpdateConfig>; differences: string[]; conflicts: string[] } {
  const update: Partial<StreamUpdateConfig> = {};
  const differences: string[] = [];
  const conflicts: string[] = [];
  const retired = (existing.subjects ?? []).filter((s) => desired.retiredSubjects?.includes(s));
  const kept = (existing.subjects ?? []).filter((s) => !retired.includes(s));
  const missing = desired.subjects.filter((s) => !kept.includes(s));
  if (missing.length > 0 || retired.length > 0) {
    // Keep the extra subjects someone added: removing them could strand their publishers.
    update.subjects = [...kept, ...missing];
    if (retired.length > 0) differences.push(`subjects ${JSON.stringify(retired)} of an earlier driftwatch: replaced by the ${missing.length} subjects of the partitions`);
    else differences.push(`subjects ${JSON.stringify(existing.subjects ?? [])} lack ${JSON.stringify(missing)}: added`);
  }
  if (existing.retention !== RetentionPolicy.Limits) {
    conflicts.push(
      `retention is "${existing.retention}" but driftwatch needs "limits" (events must stay for replay from checkpoints); ` +
        `it cannot be changed in place: back up and delete the stream, or point driftwatch at another account`,
    );
  }
  if (existing.storage !== StorageType.File) {
    differences.push(`storage is "${existing.storage}", not "file": acknowledged events do not survive a server restart (left as is, cannot change in place)`);
  }
  const wantAge = nanos(desired.maxAgeMs);
  if (existing.max_age !== wantAge) {
    update.max_age = wantAge;
    differences.push(`max_age ${millis(existing.max_age)} ms -> ${desired.maxAgeMs} ms`);
  }
  const wantDup = nanos(Math.min(desired.duplicateWindowMs, desired.maxAgeMs));
  if (existing.duplicate_window !== wantDup) {
    update.duplicate_window = wantDup;
    differences.push(`duplicate_window ${millis(existing.duplicate_window)} ms -> ${millis(wantDup)} ms`);
  }
  if (existing.max_msgs_per_subject !== desired.maxMsgsPerSubject) {
    update.max_msgs_per_subject = desired.maxMsgsPerSubject;
    differences.push(`max_msgs_per_subject ${existing.max_msgs_per_subject} -> ${desired.maxMsgsPerSubject}`);
  }
  if (desired.replicas !== undefined && existing.num_replicas !== desired.replicas) {
    if (desired.replicas > existing.num_replicas) {
      update.num_replicas = desired.replicas;
      differences.push(`replicas ${existing.num_replicas} -> ${desired.replicas}`);
    } else {
      // Scaling down loses redundancy someone chose: report, do not do it behind their back.
      differences.push(
        `replicas is ${existing.num_replicas} but ${desired.replicas} was requested: left at ${existing.num_replicas} ` +
          `(scale down with \`nats stream edit ${existing.name} --replicas ${desired.replicas}\` if intended)`,
      );
    }
  }
  return { update, differences, conflicts };
}

async function ensureStream(jsm: JetStreamManager, desired: DesiredStream, logger?: ProvisionLogger): Promise<StreamInfo> {
  let info = await streamInfoOrNull(jsm, desired.name);
  if (info === null) {
    try {
      info = await jsm.streams.add(streamConfig(desired));
      logger?.info({ stream: desired.name, subjects: desired.subjects, replicas: desired.replicas ?? 1 }, 'created stream');
      return info;
    } catch (err) {
      // Lost a creation race against another process (the server answers "name in use", or on
      // 2.9 sometimes "subjects overlap" when both requests were in flight): if the stream now
      // exists under our name, reconcile below; anything else is a real error.
      const now = isApiError(err, STREAM_NAME_IN_USE) ? await jsm.streams.info(desired.name) : await streamInfoOrNull(jsm, desired.name);
      if (now === null) throw err;
      info = now;
    }
  }
  const { update, differences, conflicts } = diffStream(info.config, desired);
  if (conflicts.length > 0) {
    throw new StreamConfigConflictError(`stream ${desired.name}: ${conflicts.join('; ')}`);
  }
  if (differences.length > 0) {
    logger?.warn({ stream: desired.name, differences }, `stream ${desired.name} differs from the driftwatch configuration`);
  }
  if (Object.keys(update).length > 0) {
    info = await jsm.streams.update(desired.name, update);
    logger?.info({ stream: desired.name, changed: Object.keys(update) }, 'updated stream');
  }
  return info;
}

async function ensureKvLimits(
  jsm: JetStreamManager,
  bucket: string,
  want: { ttlMs: number; history: number; replicas: number | undefined },
  logger?: ProvisionLogger,
): Promise<void> {
  const name = `KV_${bucket}`;
  const info = await jsm.streams.info(name);
  const update: Partial<StreamUpdateConfig> = {};
  const differences: string[] = [];
  if (info.config.max_age !== nanos(want.ttlMs)) {
    update.max_age = nanos(want.ttlMs);
    differences.push(`ttl ${millis(info.config.max_age)} ms -> ${want.ttlMs} ms`);
  }
  if (info.config.max_msgs_per_subject !== want.history) {
    update.max_msgs_per_subject = want.history;
    differences.push(`history ${info.config.max_msgs_per_subject} -> ${want.history}`);
  }
  if (want.replicas !== undefined && want.replicas > info.config.num_replicas) {
    update.num_replicas = want.replicas;
    differences.push(`replicas ${info.config.num_replicas} -> ${want.replicas}`);
  }
  if (differences.length > 0) {
    logger?.warn({ bucket, differences }, `KV bucket ${bucket} differs from the driftwatch configuration: updating`);
    await jsm.streams.update(name, update);
  }
}

async function ensureObjReplicas(jsm: JetStreamManager, bucket: string, replicas: number | undefined, logger?: ProvisionLogger): Promise<void> {
  if (replicas === undefined) return;
  const name = `OBJ_${bucket}`;
  const info = await jsm.streams.info(name);
  if (replicas > info.config.num_replicas) {
    logger?.warn({ bucket, from: info.config.num_replicas, to: replicas }, `object store ${bucket}: raising replicas`);
    await jsm.streams.update(name, { num_replicas: replicas });
  }
}

/**
 * Resolves once the JetStream API answers on this connection. Retries until timeoutMs because
 * "no meta leader yet" (cluster starting, or a majority of servers down) looks the same from a
 * client as "no JetStream here"; the final error names both causes.
 */
export async function waitForJetStream(nc: NatsConnection, timeoutMs = 30_000): Promise<JetStreamManager> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  for (;;) {
    try {
      const jsm = await jetstreamManager(nc, { timeout: Math.max(500, Math.min(5_000, deadline - Date.now())) });
      await jsm.getAccountInfo();
      return jsm;
    } catch (err) {
      if (Date.now() + delay >= deadline) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new Error(
          `JetStream did not answer within ${timeoutMs} ms (last error: ${reason}). Is JetStream enabled on the ` +
            `server (nats-server -js, or a jetstream {} block in its config) and for this account? In a cluster, ` +
            `a majority of the servers must be up to elect a JetStream meta leader.`,
          { cause: err },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 1_000);
    }
  }
}

/** Tries of a read of the metadata that time out before provisioning gives up (see metadataEntry). */
const METADATA_READ_TRIES = 3;

/**
 * The metadata's entry, read again when the request times out: every worker and gateway provisions
 * at its start, and on a loaded machine (a CI run of the whole suite) the read of a bucket just
 * created by two processes at once timed out once (the client's 5 s), which stopped that start.
 * The read has no effect, so trying it again is safe.
 */
export async function metadataEntry(kv: KV): Promise<KvEntry | null> {
  for (let tried = 1; ; tried++) {
    try {
      return await kv.get(META_KEY);
    } catch (err) {
      if (!(err instanceof TimeoutError) || tried >= METADATA_READ_TRIES) throw err;
    }
  }
}

/** Creates the metadata once (compare-and-set) or reads the existing one, and checks it. */
async function agreeOnMetadata(
  nc: NatsConnection,
  jsm: JetStreamManager,
  requested: number | undefined,
  replicas: number | undefined,
  setting: string,
  logger?: ProvisionLogger,
): Promise<ClusterMetadata> {
  const kvm = new Kvm(nc);
  const kv = await createBucket(jsm, `KV_${META_BUCKET}`, () => kvm.create(META_BUCKET, { history: 1, replicas: replicas ?? 1 }));
  let entry = await metadataEntry(kv);
  if (entry === null || entry.operation !== 'PUT') {
    const candidate: ClusterMetadata = {
      partitions: requested ?? DEFAULT_PARTITIONS,
      schemaVersion: SCHEMA_VERSION,
      createdAt: new Date().toISOString(),
    };
    try {
      await kv.create(META_KEY, encodeClusterMetadata(candidate));
      logger?.info({ ...candidate }, 'created cluster metadata');
      return candidate;
    } catch (err) {
      // Another process created it between our get and create: its value is the truth.
      if (
        !isApiError(err, JetStreamApiCodes.StreamWrongLastSequence) &&
        !isApiError(err, JetStreamApiCodes.StreamWrongLastSequenceUnknown)
      ) {
        throw err;
      }
      entry = await metadataEntry(kv);
      if (entry === null || entry.operation !== 'PUT') throw new Error(`KV ${META_BUCKET}/${META_KEY} vanished while provisioning`, { cause: err });
    }
  }
  const stored = parseClusterMetadata(entry.value);
  if (stored.schemaVersion > SCHEMA_VERSION) {
    throw new Error(
      `the cluster metadata has schema version ${stored.schemaVersion}, newer than this driftwatch (${SCHEMA_VERSION}): upgrade driftwatch`,
    );
  }
  if (requested !== undefined && stored.partitions !== requested) {
    throw new PartitionMismatchError(stored.partitions, requested, setting);
  }
  return stored;
}

export async function provision(nc: NatsConnection, opts: ProvisionOptions = {}): Promise<ClusterMetadata> {
  if (opts.partitions !== undefined) validatePartitionCount(opts.partitions, 'provision');
  if (opts.replicas !== undefined && opts.replicas !== 1 && opts.replicas !== 3) {
    throw new RangeError(`provision: replicas must be 1 or 3, got ${String(opts.replicas)}`);
  }
  const eventsMaxAgeMs = checkPositiveMs(opts.eventsMaxAgeMs, 'eventsMaxAgeMs', DEFAULT_EVENTS_MAX_AGE_MS);
  const alertsMaxAgeMs = checkPositiveMs(opts.alertsMaxAgeMs, 'alertsMaxAgeMs', DEFAULT_ALERTS_MAX_AGE_MS);
  const panesMaxAgeMs = checkPositiveMs(opts.panesMaxAgeMs, 'panesMaxAgeMs', DEFAULT_PANES_MAX_AGE_MS);
  const dlqMaxAgeMs = checkPositiveMs(opts.dlqMaxAgeMs, 'dlqMaxAgeMs', DEFAULT_DLQ_MAX_AGE_MS);
  const duplicateWindowMs = checkPositiveMs(opts.duplicateWindowMs, 'duplicateWindowMs', DEFAULT_DUPLICATE_WINDOW_MS);
  const { replicas, logger } = opts;
  const jsm = await waitForJetStream(nc, opts.waitForJetStreamMs ?? 30_000);

  // Metadata first: a partition mismatch must stop the process before it touches anything else.
  const metadata = await agreeOnMetadata(nc, jsm, opts.partitions, replicas, opts.partitionsSetting ?? 'DRIFTWATCH_PARTITIONS', logger);
  await ensureKvLimits(jsm, META_BUCKET, { ttlMs: 0, history: 1, replicas }, logger);

  const streams: DesiredStream[] = [
    {
      name: EVENTS_STREAM,
      subjects: eventsSubjects(metadata.partitions),
      retiredSubjects: RETIRED_EVENTS_SUBJECTS,
      maxAgeMs: eventsMaxAgeMs,
      duplicateWindowMs,
      maxMsgsPerSubject: -1,
      replicas,
    },
    { name: ALERTS_STREAM, subjects: ALERTS_SUBJECTS, maxAgeMs: alertsMaxAgeMs, duplicateWindowMs, maxMsgsPerSubject: -1, replicas },
    { name: AUDIT_STREAM, subjects: AUDIT_SUBJECTS, maxAgeMs: DEFAULT_AUDIT_MAX_AGE_MS, duplicateWindowMs, maxMsgsPerSubject: -1, replicas },
    { name: DLQ_STREAM, subjects: DLQ_SUBJECTS, maxAgeMs: dlqMaxAgeMs, duplicateWindowMs, maxMsgsPerSubject: -1, replicas },
    // The changelog of pane states: only the latest state of each pane matters.
    { name: PANES_STREAM, subjects: PANES_SUBJECTS, maxAgeMs: panesMaxAgeMs, duplicateWindowMs, maxMsgsPerSubject: 1, replicas },
  ];
  for (const desired of streams) await ensureStream(jsm, desired, logger);

  const kvm = new Kvm(nc);
  await createBucket(jsm, `KV_${LEASES_BUCKET}`, () => kvm.create(LEASES_BUCKET, { history: 1, ttl: LEASE_TTL_MS, replicas: replicas ?? 1 }));
  await ensureKvLimits(jsm, LEASES_BUCKET, { ttlMs: LEASE_TTL_MS, history: 1, replicas }, logger);
  await createBucket(jsm, `KV_${ALERT_STATE_BUCKET}`, () => kvm.create(ALERT_STATE_BUCKET, { history: 1, replicas: replicas ?? 1 }));
  await createBucket(jsm, `KV_${WEBHOOK_CLAIMS_BUCKET}`, () => kvm.create(WEBHOOK_CLAIMS_BUCKET, { history: 1, ttl: WEBHOOK_CLAIM_TTL_MS, replicas: replicas ?? 1 }));
  // model admission records: no TTL (an idle record is released by the registry's sweep, with a
  // compare-and-set delete that loses to any partition touching it)
  await createBucket(jsm, `KV_${MODELS_BUCKET}`, () => kvm.create(MODELS_BUCKET, { history: 1, replicas: replicas ?? 1 }));
  await ensureKvLimits(jsm, MODELS_BUCKET, { ttlMs: 0, history: 1, replicas }, logger);

  const objm = objectStores(nc);
  for (const bucket of [CHECKPOINTS_BUCKET, BASELINES_BUCKET]) {
    await createBucket(jsm, `OBJ_${bucket}`, () => objm.create(bucket, { storage: StorageType.File, replicas: replicas ?? 1 }));
    await ensureObjReplicas(jsm, bucket, replicas, logger);
  }
  return metadata;
}
