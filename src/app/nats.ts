import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { join } from 'node:path';
import { connectNats } from '../cluster/connect.ts';
import type { NatsConnectOptions } from '../cluster/connect.ts';
import { startEmbeddedNats } from '../cluster/embedded.ts';
import type { EmbeddedNats } from '../cluster/embedded.ts';
import type { DriftwatchConfig } from '../config/types.ts';
import { provisionOptionsOf } from '../config/options.ts';
import type { ClusterProvisioning } from '../config/options.ts';
import { provision } from '../cluster/provision.ts';
import { EVENTS_STREAM } from '../cluster/subjects.ts';
import { EventsRetentionError, checkEventsRetention } from '../cluster/retention.ts';
import type { EventsStreamLimits, RetentionNeeds } from '../cluster/retention.ts';
import { jetstreamManager } from '@nats-io/jetstream';

export interface NatsHandle {
  nc: NatsConnection;
  url: string;
  /** How to open another connection to the same server (partition threads). */
  connect: NatsConnectOptions;
  embedded: EmbeddedNats | null;
  close(): Promise<void>;
}

/** NATS credentials, TLS and nkeys from the environment (never from the config file). */
export function natsAuthFromEnv(env: NodeJS.ProcessEnv): Omit<NatsConnectOptions, 'url'> {
  const tls = env.NATS_TLS_CA || env.NATS_TLS_CERT || env.NATS_TLS_KEY ? { caFile: env.NATS_TLS_CA, certFile: env.NATS_TLS_CERT, keyFile: env.NATS_TLS_KEY } : undefined;
  return {
    token: env.NATS_TOKEN || undefined,
    user: env.NATS_USER || undefined,
    pass: env.NATS_PASSWORD || undefined,
    credsFile: env.NATS_CREDS || undefined,
    nkeySeedFile: env.NATS_NKEY_SEED || undefined,
    tls,
  };
}

/**
 * Connects to NATS_URL, or starts an embedded nats-server under dataDir when none is configured and
 * that is allowed. Not exported: entry points go through openProvisionedNats, so none skips provisioning.
 */
async function openNats(config: DriftwatchConfig, logger: Logger, env: NodeJS.ProcessEnv, allowEmbedded: boolean): Promise<NatsHandle> {
  let embedded: EmbeddedNats | null = null;
  let url = config.nats.url;
  if (url === null) {
    if (!allowEmbedded) throw new Error('NATS_URL is not set: this process needs an existing NATS server (only `npm start` embeds one)');
    embedded = await startEmbeddedNats({ storeDir: join(config.dataDir, 'nats'), logger: logger.child({ component: 'nats-server' }) });
    url = embedded.url;
    logger.info({ url, credentials: embedded.credentialsFile }, 'started embedded nats-server (set NATS_URL to use your own; publishers connect as the publisher user in the credentials file)');
  }
  const own = embedded?.credentials?.driftwatch;
  const connect: NatsConnectOptions = { url, name: config.nats.name, ...(own ? { user: own.user, pass: own.password } : natsAuthFromEnv(env)) };
  const nc = await connectNats(connect);
  return {
    nc,
    url,
    connect,
    embedded,
    async close() {
      await nc.drain().catch(() => undefined);
      await embedded?.stop();
    },
  };
}

/** The processes driftwatch runs as: `npm start`, `npm run worker`, `npm run gateway`. */
export type EntryPoint = 'all-in-one' | 'worker' | 'gateway';

export interface StartupPlan {
  /** Only `npm start` may start its own nats-server; a worker or gateway joins an existing cluster. */
  allowEmbeddedNats: boolean;
  provision: ClusterProvisioning;
}

/**
 * How an entry point connects and provisions. The provisioning options do not depend on the entry
 * point: each start updates stream limits in place, so differing options would undo each other.
 */
export function startupPlanOf(entry: EntryPoint, config: DriftwatchConfig): StartupPlan {
  return { allowEmbeddedNats: entry === 'all-in-one', provision: provisionOptionsOf(config) };
}

export interface ProvisionedNats {
  nats: NatsHandle;
  /** The cluster's partition count (DRIFT_EVENTS), as stored or just created. */
  partitions: number;
}

/** Every entry point's first step: connect (or embed) NATS, then create or reconcile the resources. */
export async function openProvisionedNats(entry: EntryPoint, config: DriftwatchConfig, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<ProvisionedNats> {
  const plan = startupPlanOf(entry, config);
  const needs: RetentionNeeds = { checkpointIntervalMs: config.checkpoint.intervalMs, leaseMs: config.worker.leaseMs };
  // before connecting: provisioning would apply a too-short max age, and delete events at once
  const configured = checkEventsRetention({ maxAgeMs: config.nats.eventsRetentionMs, maxBytes: -1, maxMsgs: -1 }, needs, 'nats.eventsRetentionMs / DRIFTWATCH_EVENTS_RETENTION');
  if (configured.refusal !== null) throw new EventsRetentionError(configured.refusal);
  const nats = await openNats(config, logger, env, plan.allowEmbeddedNats);
  try {
    const meta = await provision(nats.nc, { ...plan.provision, logger: logger.child({ component: 'provision' }) });
    // and the stream as it is (its limits may be managed outside driftwatch, or the update refused)
    const stream = await eventsStreamLimits(nats.nc);
    const found = checkEventsRetention(stream, needs, 'the stream as found after provisioning');
    if (found.refusal !== null) throw new EventsRetentionError(found.refusal);
    for (const warning of found.warnings) logger.warn({ stream: EVENTS_STREAM, maxAgeMs: stream.maxAgeMs }, warning);
    return { nats, partitions: meta.partitions };
  } catch (error) {
    await nats.close();
    throw error;
  }
}

async function eventsStreamLimits(nc: NatsConnection): Promise<EventsStreamLimits> {
  const { config } = await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM);
  return { maxAgeMs: config.max_age / 1e6, maxBytes: config.max_bytes, maxMsgs: config.max_msgs };
}
