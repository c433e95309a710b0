import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { startNatsServer } from './nats-server.ts';
import type { NatsServerHandle } from './nats-server.ts';
import { loadConfig } from '../../src/config/load.ts';
import { startAllInOne } from '../../src/app/all-in-one.ts';
import type { AllInOne } from '../../src/app/all-in-one.ts';
import { DriftPublisher } from '../../src/client/index.ts';

export interface Pipeline {
  server: NatsServerHandle;
  app: AllInOne;
  nc: NatsConnection;
  publisher: DriftPublisher;
  baseUrl: string;
  stop(): Promise<void>;
}

/** A real nats-server on a free port, the all-in-one process wired in-process, and a client. */
/**
 * `deduplicate`: the publisher's Nats-Msg-Id (default off, see below). A test that compares counts
 * with what it published turns it on: without an id, a publish retried after an ack lost on a
 * loaded server is stored twice (CI saw 25,072 events counted of 25,000 published).
 */
export async function startPipeline(overrides: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}, options: { deduplicate?: boolean } = {}): Promise<Pipeline> {
  const server = await startNatsServer();
  const dataDir = mkdtempSync(join(tmpdir(), 'driftwatch-test-'));
  const config = loadConfig({
    env: { NATS_URL: server.url, DRIFTWATCH_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', ...env },
    overrides: { panes: { flushIntervalMs: 200 }, checkpoint: { intervalMs: 500 }, ...overrides },
  });
  config.partitionsExplicit = true;
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' });
  const app = await startAllInOne(config, logger);
  const nc = await connect({ servers: server.url });
  // tests re-send predictions on purpose to exercise the worker's duplicate handling, so the
  // stream must not drop them by Nats-Msg-Id (tested in test/integration/idempotent-publish.test.ts)
  const publisher = await DriftPublisher.connect(nc, { maxInFlight: 128, deduplicate: options.deduplicate ?? false });
  return {
    server,
    app,
    nc,
    publisher,
    baseUrl: app.gateway.url,
    async stop() {
      await publisher.close().catch(() => undefined);
      await nc.close().catch(() => undefined);
      await app.stop().catch(() => undefined);
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function getJson<T = unknown>(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { headers });
  return { status: response.status, body: (await response.json()) as T };
}

/** Polls until `check` returns a value (not undefined) or the timeout passes. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The samples of a Prometheus metric on `${baseUrl}/metrics`: their labels and values. */
export async function metricSamples(baseUrl: string, name: string): Promise<Array<{ labels: Record<string, string>; value: number }>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const samples: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of line.matchAll(/(\w+)="([^"]*)"/g)) labels[k] = v;
    samples.push({ labels, value: Number(line.slice(line.lastIndexOf(' ') + 1)) });
  }
  return samples;
}

/** Sum of a Prometheus metric's samples whose labels include `labels`. */
export async function metricSum(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const samples = await metricSamples(baseUrl, name);
  return samples.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}
