/**
 * Issue 11's fencing test: a worker paused (SIGSTOP) past its lease expiry loses its partitions to
 * another worker; when it resumes (SIGCONT) nothing it writes under its old leases counts. Real
 * nats-server and real worker processes; the gateway runs in the test process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { getJson, eventually } from '../helpers/pipeline.ts';
import { spawnEntry, exitWithin } from '../helpers/processes.ts';
import type { EntryProcess } from '../helpers/processes.ts';
import { loadConfig } from '../../src/config/load.ts';
import { provision } from '../../src/cluster/provision.ts';
import { CHECKPOINTS_BUCKET, PANES_STREAM, paneSubject } from '../../src/cluster/subjects.ts';
import { startGateway } from '../../src/app/gateway.ts';
import type { Gateway } from '../../src/app/gateway.ts';
import { DriftPublisher } from '../../src/client/index.ts';
import { decodePaneMessage, encodePaneMessage } from '../../src/contract/pane-codec.ts';
import type { PaneInputWire } from '../../src/contract/pane-wire.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';
import { checkpointName, checkpointOwnerOf } from '../../src/partition/runner.ts';
import type { ClusterSnapshot } from '../../src/gateway/cluster-view.ts';

const PARTITIONS = 8;

describe('a worker paused past its lease expiry (SIGSTOP, then SIGCONT)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let gateway: Gateway;
  let late: Gateway | undefined;
  let dir: string;
  let configFile: string;
  const procs: EntryProcess[] = [];
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 600_000;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await provision(nc, { partitions: PARTITIONS });
    dir = mkdtempSync(join(tmpdir(), 'driftwatch-fencing-'));
    configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ panes: { flushIntervalMs: 100, allowedLatenessMs: '10m' }, checkpoint: { intervalMs: 200 }, reference: { autoCaptureMs: 0 }, worker: { leaseMs: 5000 } }));
    gateway = await startGateway(nc, gatewayConfig(), pino({ level: 'warn' }));
  });

  afterAll(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null) {
        p.child.kill('SIGCONT');
        p.child.kill('SIGKILL');
      }
    }
    await late?.stop();
    await gateway?.stop();
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function gatewayConfig() {
    return loadConfig({ env: { NATS_URL: server.url, PORT: '0', LOG_LEVEL: 'warn', DRIFTWATCH_CONFIG: configFile } });
  }

  async function startWorker(id: string): Promise<EntryProcess> {
    const proc = spawnEntry('worker', { ...process.env, NATS_URL: server.url, LOG_LEVEL: 'info', DRIFTWATCH_CONFIG: configFile, DRIFTWATCH_WORKER_THREADS: '0', DRIFTWATCH_WORKER_ID: id, DRIFTWATCH_WORKER_PORT: '0' });
    procs.push(proc);
    await eventually(() => proc.lines.find((l) => l.msg === 'worker health and metrics endpoint'), 60_000, `worker ${id} to start (${proc.output()})`);
    return proc;
  }

  const cluster = async (g: Gateway = gateway) => {
    const { status, body } = await getJson<ClusterSnapshot>(`${g.url}/v1/cluster`);
    expect(status).toBe(200);
    return body;
  };
  const ownersOf = (snapshot: ClusterSnapshot, worker: string) => new Map(snapshot.partitions.filter((p) => p.owner === worker && !p.expired).map((p) => [p.partition, p.epoch as number]));

  it('none of its stale checkpoint or pane writes is used; totals exact; /v1/cluster shows the new owners with higher epochs', async () => {
    const publisher = await DriftPublisher.connect(nc, { maxInFlight: 256 });
    const publish = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        await publisher.publishPrediction({ id: `f${i}`, model: 'risk', ts: T0 + i * 20, output: (i % 10) / 10, latencyMs: i % 100 });
        await publisher.publishLabel({ id: `f${i}`, model: 'risk', ts: T0 + i * 20 + 500, label: i % 3 === 0 ? 1 : 0 });
      }
      await publisher.flush();
    };
    const totals = (n: number, g: Gateway = gateway) =>
      eventually(async () => {
        const { status, body } = await getJson<ModelMetrics>(`${g.url}/v1/models/risk/metrics?window=1h`);
        return status === 200 && body.count >= n && body.labels.joined >= n ? body : undefined;
      }, 90_000, `${n} predictions and joined labels through the gateway`);
    let correct = 0;
    const accuracyOf = (n: number) => {
      correct = 0;
      for (let i = 0; i < n; i++) if (((i % 10) / 10 >= 0.5 ? 1 : 0) === (i % 3 === 0 ? 1 : 0)) correct++;
      return correct / n;
    };

    const a = await startWorker('a');
    const b = await startWorker('b');
    const split = await eventually(async () => {
      const snapshot = await cluster();
      return ownersOf(snapshot, 'a').size === PARTITIONS / 2 && ownersOf(snapshot, 'b').size === PARTITIONS / 2 ? snapshot : undefined;
    }, 60_000, 'a 4/4 split in /v1/cluster');
    expect(split.workers.map((w) => w.id)).toEqual(['a', 'b']);

    const N1 = 800;
    await publish(0, N1);
    await totals(N1);
    // what a holds now (on a loaded machine a lease may have moved since the split)
    const aEpochs = ownersOf(await cluster(), 'a');
    expect(aEpochs.size).toBeGreaterThan(0);

    // a pauses mid-stream and stays paused well past its 5 s lease
    const N2 = 1600;
    const publishing = publish(N1, N2);
    await new Promise((r) => setTimeout(r, 150));
    a.child.kill('SIGSTOP');
    const takenOver = await eventually(async () => {
      const snapshot = await cluster();
      return ownersOf(snapshot, 'b').size === PARTITIONS ? snapshot : undefined;
    }, 30_000, "b to take over a's partitions");
    for (const [partition, epoch] of aEpochs) {
      const now = takenOver.partitions[partition];
      expect(now.owner).toBe('b');
      expect(now.epoch).toBeGreaterThan(epoch);
    }
    expect(takenOver.rebalances.some((r) => r.to === 'b' && aEpochs.has(r.partition) && (r.epoch ?? 0) > (aEpochs.get(r.partition) ?? 0))).toBe(true);
    await publishing;
    await totals(N2);

    // what a stale owner's flush looks like: a pane of one of a's partitions under a's old epoch, on
    // the subject a worker computes for it, with more events in it than happened, published after b
    // took the partition over (b's state of the same pane is the latest message of the partition)
    const js = jetstream(nc);
    const jsm = await js.jetstreamManager();
    const [stalePartition, staleEpoch] = [...aEpochs][0];
    const info = await jsm.streams.info(PANES_STREAM, { subjects_filter: `drift.pane.${stalePartition}.>` });
    const current = await Promise.all(Object.keys(info.state.subjects ?? {}).map(async (subject) => decodePaneMessage((await jsm.streams.getMessage(PANES_STREAM, { last_by_subj: subject }))!.data)));
    const ofB = current.find((m) => m.worker === 'b' && m.part === 'in' && (m.state as PaneInputWire).count > 0);
    expect(ofB).toBeDefined();
    const stale = { ...ofB!, worker: 'a', epoch: staleEpoch, state: { ...(ofB!.state as PaneInputWire), count: (ofB!.state as PaneInputWire).count + 1000 } };
    await js.publish(paneSubject(stalePartition, stale.model, stale.version, stale.paneStart, 'in', staleEpoch), encodePaneMessage(stale));
    await new Promise((r) => setTimeout(r, 1500));
    const whilePaused = (await getJson<ModelMetrics>(`${gateway.url}/v1/models/risk/metrics?window=1h`)).body;
    expect(whilePaused.count).toBe(N2);
    expect((await cluster()).fencedPanes.total).toBeGreaterThanOrEqual(1);
    // a gateway that starts now replays DRIFT_PANES, stale message included, to the same totals
    late = await startGateway(nc, gatewayConfig(), pino({ level: 'warn' }));
    const replayed = await totals(N2, late);
    expect(replayed.count).toBe(N2);
    expect(replayed.labels.joined).toBe(N2);
    expect((await cluster(late)).fencedPanes.total).toBeGreaterThanOrEqual(1);

    // a resumes: it finds its leases expired, abandons its partitions, rejoins, and gets 4 back under new epochs
    const resumedAt = a.lines.length;
    a.child.kill('SIGCONT');
    await eventually(() => (a.lines.slice(resumedAt).some((l) => String(l.msg).endsWith('abandoning the partition without further writes')) ? true : undefined), 30_000, `a to abandon its partitions (${a.output()})`);
    const rejoined = await eventually(async () => {
      const snapshot = await cluster();
      return ownersOf(snapshot, 'a').size === PARTITIONS / 2 && ownersOf(snapshot, 'b').size === PARTITIONS / 2 ? snapshot : undefined;
    }, 60_000, 'a 4/4 split again after a rejoins');
    const earliest = Math.max(...takenOver.partitions.map((p) => p.epoch ?? 0));
    for (const [, epoch] of ownersOf(rejoined, 'a')) expect(epoch).toBeGreaterThan(earliest);

    const N3 = 2000;
    await publish(N2, N3);
    const final = await totals(N3);
    await new Promise((r) => setTimeout(r, 1500));
    const { body: settled } = await getJson<ModelMetrics>(`${gateway.url}/v1/models/risk/metrics?window=1h`);
    for (const m of [final, settled]) {
      expect(m.count).toBe(N3);
      expect(m.labels.joined).toBe(N3);
      expect(m.accuracy).toBeCloseTo(accuracyOf(N3), 12);
    }

    // no checkpoint carries a's pre-pause epochs: b's (or a's new) checkpoints were never overwritten
    const store = await new Objm(nc).open(CHECKPOINTS_BUCKET);
    for (const [partition, epoch] of aEpochs) {
      const writer = checkpointOwnerOf(await store.info(checkpointName(partition)));
      expect(writer).not.toBeNull();
      expect(writer!.epoch).toBeGreaterThan(epoch);
    }

    // the gateway started while a was paused followed everything since, to the same totals
    const followed = await totals(N3, late);
    expect(followed.count).toBe(N3);
    expect(followed.labels.joined).toBe(N3);
    expect(followed.accuracy).toBeCloseTo(accuracyOf(N3), 12);

    await publisher.close();
    for (const w of [a, b]) w.child.kill('SIGTERM');
    for (const w of [a, b]) expect(await exitWithin(w, 30_000)).toBe(0);
  }, 300_000);
});
