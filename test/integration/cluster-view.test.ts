/**
 * Two `npm start`-style processes (all-in-one: worker + gateway) against one nats-server split the
 * partitions through leases instead of both consuming everything, and GET /v1/cluster shows both
 * workers, every partition's owner and epoch with lag and checkpoint age, and the rebalances.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { getJson, eventually } from '../helpers/pipeline.ts';
import { loadConfig } from '../../src/config/load.ts';
import { startAllInOne } from '../../src/app/all-in-one.ts';
import type { AllInOne } from '../../src/app/all-in-one.ts';
import { DriftPublisher } from '../../src/client/index.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';
import type { ClusterSnapshot } from '../../src/gateway/cluster-view.ts';
import { TestClient } from '../gateway/ws-helpers.ts';
import { jetstream } from '@nats-io/jetstream';
import { PANES_STREAM, paneSubject } from '../../src/cluster/subjects.ts';
import { decodePaneMessage, encodePaneMessage } from '../../src/contract/pane-codec.ts';
import type { PaneMessage } from '../../src/contract/pane-wire.ts';

const TOKEN = 'cluster-view-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('two all-in-one processes against one NATS', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let dataDir: string;
  const apps: AllInOne[] = [];
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 600_000;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    dataDir = mkdtempSync(join(tmpdir(), 'driftwatch-cluster-view-'));
  });
  afterAll(async () => {
    for (const app of apps) await app.stop().catch(() => undefined);
    await nc?.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const start = async () => {
    const config = loadConfig({
      env: { NATS_URL: server.url, DRIFTWATCH_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', DRIFTWATCH_WORKER_THREADS: '0', DRIFTWATCH_TOKEN: TOKEN },
      // a long lease: renewals starved on a loaded machine must not let a lease lapse (the 8/8 split
      // and the owners below are checked); graceful hand-overs release leases at once anyway
      overrides: { partitions: { count: 16 }, panes: { flushIntervalMs: 100 }, checkpoint: { intervalMs: 200 }, reference: { autoCaptureMs: 0 }, worker: { leaseMs: 15_000 } },
    });
    config.partitionsExplicit = true;
    const app = await startAllInOne(config, pino({ level: 'warn' }));
    apps.push(app);
    return app;
  };
  const cluster = async (app: AllInOne) => {
    const { status, body } = await getJson<ClusterSnapshot>(`${app.gateway.url}/v1/cluster`, auth);
    expect(status).toBe(200);
    return body;
  };

  it('split the partitions, count every event once, and show the cluster through GET /v1/cluster', async () => {
    const first = await start();
    expect(first.worker.owned()).toHaveLength(16);
    const second = await start();
    const split = await eventually(() => {
      const owned = [first.worker.owned(), second.worker.owned()];
      return owned.every((o) => o.length === 8) ? owned : undefined;
    }, 60_000, 'an 8/8 split between the two processes');
    expect(new Set(split.flat()).size).toBe(16);

    const N = 1000;
    const publisher = await DriftPublisher.connect(nc, { maxInFlight: 256 });
    for (let i = 0; i < N; i++) {
      await publisher.publishPrediction({ id: `c${i}`, model: 'risk', ts: T0 + i * 20, output: (i % 10) / 10 });
      await publisher.publishLabel({ id: `c${i}`, model: 'risk', ts: T0 + i * 20 + 500, label: i % 2 });
    }
    await publisher.close();
    for (const app of [first, second]) {
      const totals = await eventually(async () => {
        const { status, body } = await getJson<ModelMetrics>(`${app.gateway.url}/v1/models/risk/metrics?window=1h`, auth);
        return status === 200 && body.count >= N && body.labels.joined >= N ? body : undefined;
      }, 60_000, `${N} events through each gateway`);
      expect(totals.count).toBe(N);
      expect(totals.labels.joined).toBe(N);
    }
    // consumed once: the two workers' predictions add up to what was published
    const consumed = await eventually(() => {
      const sum = [first, second].flatMap((a) => a.worker.stats()).reduce((s, r) => s + r.predictions, 0);
      return sum >= N ? sum : undefined;
    }, 30_000, 'the workers to report their consumed predictions');
    expect(consumed).toBe(N);
    expect(first.worker.stats().reduce((s, r) => s + r.predictions, 0)).toBeGreaterThan(0);
    expect(second.worker.stats().reduce((s, r) => s + r.predictions, 0)).toBeGreaterThan(0);

    // forged panes (issue 13): one naming no member under an epoch far ahead; two without worker and
    // epoch, as an older or forged producer sends them: one for partition 0 (held by a fencing worker),
    // one for partition 16 (no lease: the workers run 0..15). None is served, all are counted as refused
    const js = jetstream(nc);
    const jsm = await js.jetstreamManager();
    const subjects = Object.keys((await jsm.streams.info(PANES_STREAM, { subjects_filter: 'drift.pane.0.risk.>' })).state.subjects ?? {});
    const real = decodePaneMessage((await jsm.streams.getMessage(PANES_STREAM, { last_by_subj: subjects[0] }))!.data);
    const forged = { ...real, model: 'forged', worker: 'mallory', epoch: 1_000_000_000, state: { ...real.state, count: 999_999 } };
    await js.publish(paneSubject(0, 'forged', real.version, real.paneStart, real.part, forged.epoch), encodePaneMessage(forged as PaneMessage));
    const { worker: _w, epoch: _e, ...unfenced } = { ...real, model: 'unfenced', state: { ...real.state, count: 999_999 } };
    await js.publish(paneSubject(0, 'unfenced', real.version, real.paneStart, real.part), encodePaneMessage(unfenced as PaneMessage));
    const unleased = { ...unfenced, model: 'unleased', partition: 16 };
    await js.publish(paneSubject(16, 'unleased', real.version, real.paneStart, real.part), encodePaneMessage(unleased as PaneMessage));
    // a marker after them, from the legitimate pipeline: once its count shows, the gateway has judged the forged panes
    const marker = await DriftPublisher.connect(nc);
    await marker.publishPrediction({ id: 'marker', model: 'risk', ts: T0 + N * 20, output: 0.5 });
    await marker.close();
    for (const app of [first, second]) {
      await eventually(async () => {
        const { status, body } = await getJson<ModelMetrics>(`${app.gateway.url}/v1/models/risk/metrics?window=1h`, auth);
        return status === 200 && body.count === N + 1 ? body : undefined;
      }, 60_000, 'the marker event through each gateway');
      const { fencedPanes } = await cluster(app);
      expect(fencedPanes.byReason).toMatchObject({ unknown_owner: 2, unfenced: 1 });
      const { body: listed } = await getJson<{ models: Array<{ model: string }> }>(`${app.gateway.url}/v1/models`, auth);
      expect(listed.models.map((m) => m.model)).toEqual(['risk']);
      for (const model of ['forged', 'unfenced', 'unleased']) {
        expect((await getJson(`${app.gateway.url}/v1/models/${model}/metrics?window=1h`, auth)).status).toBe(404);
      }
      const exposition = await (await fetch(`${app.gateway.url}/metrics`, { headers: auth })).text();
      expect(exposition).toMatch(/^drift_pane_messages_dropped_total\{reason="fenced_unknown_owner"\} 2$/m);
      expect(exposition).toMatch(/^drift_pane_messages_dropped_total\{reason="fenced_unfenced"\} 1$/m);
    }

    // the token is honoured
    expect((await fetch(`${first.gateway.url}/v1/cluster`)).status).toBe(401);
    const ids = [first, second].map((a) => (a.worker.ownership.mode === 'leased' ? a.worker.ownership.identity.id : ''));
    // every partition reported by its owner: lag and checkpoint figures come with the membership refresh
    const view = await eventually(async () => {
      const snapshot = await cluster(first);
      return snapshot.partitions.every((p) => p.lag !== null && p.checkpointAgeMs !== null) ? snapshot : undefined;
    }, 30_000, 'lag and checkpoint age of every partition in /v1/cluster');
    expect(view.live).toBe(true);
    expect(view.workers.map((w) => w.id).sort()).toEqual([...ids].sort());
    for (const w of view.workers) {
      expect(w.owned).toHaveLength(8);
      expect(Date.parse(w.startedAt)).toBeGreaterThan(0);
      expect(Date.now() - w.lastSeenAt).toBeLessThan(30_000);
    }
    expect(view.partitions).toHaveLength(16);
    for (const p of view.partitions) {
      const owner = ids.indexOf(p.owner ?? '');
      expect(owner).toBeGreaterThanOrEqual(0);
      expect([first, second][owner].worker.owned()).toContain(p.partition);
      expect(p.epoch).toBeGreaterThan(0);
      expect(p.expired).toBe(false);
      expect(p.lag).toBeGreaterThanOrEqual(0);
      expect(p.checkpointAgeMs).toBeGreaterThanOrEqual(0);
    }
    // the WebSocket's cluster topic carries the same view
    const feed = await TestClient.connect(`${first.gateway.url.replace(/^http/, 'ws')}/v1/live`, auth);
    feed.send({ type: 'subscribe', topics: ['cluster'] });
    const [frame] = await feed.untilCount('cluster', 1, 15_000);
    const pushed = frame.cluster as ClusterSnapshot;
    expect(pushed.workers.map((w) => w.id).sort()).toEqual([...ids].sort());
    expect(pushed.partitions.map((p) => [p.owner, p.epoch])).toEqual(view.partitions.map((p) => [p.owner, p.epoch]));
    feed.ws.close();
    // the second gateway sees the same owners and epochs
    const other = await cluster(second);
    expect(other.partitions.map((p) => [p.owner, p.epoch])).toEqual(view.partitions.map((p) => [p.owner, p.epoch]));
    // the second process took 8 partitions over from the first: 8 hand-overs in the recent rebalances
    expect(view.rebalances.filter((r) => r.to === ids[1]).length).toBe(8);

    // a graceful stop hands the second process's partitions back, under higher epochs
    const before = new Map(view.partitions.map((p) => [p.partition, p.epoch ?? 0]));
    await second.stop();
    apps.splice(apps.indexOf(second), 1);
    const after = await eventually(async () => {
      const snapshot = await cluster(first);
      return snapshot.workers.length === 1 && snapshot.partitions.every((p) => p.owner === ids[0]) ? snapshot : undefined;
    }, 30_000, 'the first process to own all 16 partitions again');
    for (const p of after.partitions) {
      if (split[1].includes(p.partition)) expect(p.epoch).toBeGreaterThan(before.get(p.partition) ?? 0);
    }
    expect(after.rebalances.some((r) => r.from === ids[1] && r.to === null)).toBe(true);
  }, 180_000);
});
