import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { join } from 'node:path';
import { connectNats } from '../cluster/connect.ts';
import type { NatsConnectOptions } from '../cluster/connect.ts';
import { startEmbeddedNats } from '../cluster/embedded.ts';
import type { EmbeddedNats } from '../cluster/embedded.ts';
import type { DriftwatchConfig } from '../config/types.ts';

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

/** Connects to NATS_URL, or starts an embedded nats-server under dataDir when none is configured. */
export async function openNats(config: DriftwatchConfig, logger: Logger, env: NodeJS.ProcessEnv = process.env, allowEmbedded = true): Promise<NatsHandle> {
  let embedded: EmbeddedNats | null = null;
  let url = config.nats.url;
  if (url === null) {
    if (!allowEmbedded) throw new Error('NATS_URL is not set: this process needs an existing NATS server (only `npm start` embeds one)');
    embedded = await startEmbeddedNats({ storeDir: join(config.dataDir, 'nats'), logger: logger.child({ component: 'nats-server' }) });
    url = embedded.url;
    logger.info({ url }, 'started embedded nats-server (set NATS_URL to use your own)');
  }
  const connect: NatsConnectOptions = { url, name: config.nats.name, ...natsAuthFromEnv(env) };
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
