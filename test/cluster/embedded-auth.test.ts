import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startEmbeddedNats, type EmbeddedNats } from '../../src/cluster/embedded.ts';
import { provision } from '../../src/cluster/provision.ts';
import { DriftPublisher } from '../../src/client/index.ts';
import { EVENTS_STREAM, PANES_STREAM } from '../../src/cluster/subjects.ts';
import { PUBLISHER_PUBLISH_ALLOW, PUBLISHER_SUBSCRIBE_ALLOW } from '../../src/cluster/embedded-auth.ts';
import { findNatsServerBinary } from '../../src/cluster/nats-process.ts';
import { spawnSync } from 'node:child_process';

const natsServerBinary = (): string => findNatsServerBinary();

const quiet = { debug: () => {}, info: () => {}, warn: () => {} };

/** The embedded server of `npm start` is closed by default: only the generated users get in. */
describe('embedded nats-server credentials', () => {
  let dir: string;
  let server: EmbeddedNats;
  let admin: NatsConnection;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'driftwatch-embedded-auth-'));
    server = await startEmbeddedNats({ storeDir: dir, logger: quiet });
    admin = await connect({ servers: server.url, user: 'driftwatch', pass: server.credentials!.driftwatch.password });
    await provision(admin, { partitions: 4 });
  }, 60_000);

  afterAll(async () => {
    await admin?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the generated credentials in the data directory, readable by its owner only', () => {
    expect(server.credentialsFile).toBe(path.join(dir, 'credentials.json'));
    expect(statSync(server.credentialsFile!).mode & 0o077).toBe(0);
    const stored = JSON.parse(readFileSync(server.credentialsFile!, 'utf8')) as Record<string, { user: string; password: string }>;
    expect(stored.publisher.user).toBe('publisher');
    expect(stored.publisher.password.length).toBeGreaterThanOrEqual(24);
  });

  it('refuses a local process without credentials or with a wrong password', async () => {
    await expect(connect({ servers: server.url, reconnect: false, timeout: 2_000 })).rejects.toThrow(/Authorization/i);
    await expect(connect({ servers: server.url, user: 'publisher', pass: 'guess', reconnect: false, timeout: 2_000 })).rejects.toThrow(/Authorization/i);
  });

  it('lets the publisher user publish events with the SDK, and nothing else: no forged pane, no reading the streams', async () => {
    const publisher = await connect({ servers: server.url, user: 'publisher', pass: server.credentials!.publisher.password });
    try {
      const sdk = await DriftPublisher.connect(publisher);
      expect(sdk.partitions).toBe(4);
      await sdk.publishPrediction({ id: 'p-1', model: 'fraud', ts: Date.now(), output: 0.3, features: { amount: 12 } });
      await sdk.flush();
      const jsm = await jetstreamManager(admin);
      expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(1);

      // a forged pane state: refused by the server (permissions), never stored
      await expect(jetstream(publisher).publish('drift.pane.0.fraud.31.1700000000000.in', 'forged', { timeout: 2_000 })).rejects.toThrow();
      expect((await jsm.streams.info(PANES_STREAM)).state.messages).toBe(0);

      // reading the events back (a consumer) is not allowed either
      await expect((await jetstreamManager(publisher, { timeout: 2_000 })).consumers.add(EVENTS_STREAM, { name: 'peek' })).rejects.toThrow();
    } finally {
      await publisher.close();
    }
  }, 60_000);
});

describe('config/nats/permissions.conf (the example for your own NATS)', () => {
  const example = readFileSync(path.join(import.meta.dirname, '..', '..', 'config', 'nats', 'permissions.conf'), 'utf8');

  it('gives publishers exactly what the embedded server gives them', () => {
    const publisherBlock = example.slice(example.indexOf('user: "publisher"'), example.indexOf('user: "alerts"'));
    for (const subject of PUBLISHER_PUBLISH_ALLOW) expect(publisherBlock).toContain(`"${subject}"`);
    for (const subject of PUBLISHER_SUBSCRIBE_ALLOW) expect(publisherBlock).toContain(`"${subject}"`);
  });

  it('is a configuration nats-server accepts', () => {
    const env = { ...process.env, DRIFTWATCH_NATS_PASSWORD: 'a-long-password-1', PUBLISHER_NATS_PASSWORD: 'a-long-password-2', ALERTS_NATS_PASSWORD: 'a-long-password-3' };
    const checked = spawnSync(natsServerBinary(), ['-c', path.join(import.meta.dirname, '..', '..', 'config', 'nats', 'permissions.conf'), '-t'], { env, encoding: 'utf8' });
    expect(checked.status, checked.stderr + checked.stdout).toBe(0);
  });
});
