import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { getJson, eventually } from '../helpers/pipeline.ts';
import { exitWithin, loggedLine, spawnEntry } from '../helpers/processes.ts';
import type { Proc } from '../helpers/processes.ts';
import { loadConfig } from '../../src/config/load.ts';
import { provision } from '../../src/cluster/provision.ts';
import { pickFreePort } from '../../src/cluster/nats-process.ts';
import { startGateway } from '../../src/app/gateway.ts';
import type { Gateway } from '../../src/app/gateway.ts';
import { DriftPublisher } from '../../src/client/index.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';

const logged = (proc: Proc, msg: string) => loggedLine(proc, msg, 60_000);

async function metricsOf(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`);
  return response.text();
}

/** Partitions a worker runs, from its drift_partition_sequence gauges. */
const partitionsIn = (text: string) => [...text.matchAll(/^drift_partition_sequence\{partition="(\d+)"\}/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
const consumedIn = (text: string) => [...text.matchAll(/^drift_events_consumed_total\{kind="(?:pred|label)"\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);

describe('separate worker and gateway processes', () => {
  let server: NatsServerHandle;
  const procs: Proc[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await server?.stop();
  });

  it('all serve at once: a worker whose port is taken serves on a free one and says so', async () => {
    const gatewayPort = await pickFreePort();
    const base: NodeJS.ProcessEnv = { ...process.env, NATS_URL: server.url, LOG_LEVEL: 'info' };
    delete base.PORT;
    delete base.DRIFTWATCH_WORKER_PORT;
    delete base.DRIFTWATCH_WORKER_ID;
    const gateway = spawnEntry('gateway', { ...base, PORT: String(gatewayPort) });
    procs.push(gateway);
    await eventually(async () => ((await fetch(`http://127.0.0.1:${gatewayPort}/readyz`).catch(() => null))?.status === 200 ? true : undefined), 60_000, `gateway /readyz (${gateway.output()})`);
    // the gateway's port is this worker's default: it must not die with EADDRINUSE
    const clashing = spawnEntry('worker', { ...base, DRIFTWATCH_WORKER_PORT: String(gatewayPort), DRIFTWATCH_WORKER_THREADS: '0' });
    // no port setting at all
    const plain = spawnEntry('worker', { ...base, DRIFTWATCH_WORKER_THREADS: '0' });
    procs.push(clashing, plain);
    const urls: string[] = [];
    const ids: string[] = [];
    for (const worker of [clashing, plain]) {
      const line = await logged(worker, 'worker health and metrics endpoint');
      urls.push(String(line.url));
      ids.push(String(line.workerId));
      expect(line.generated).toBe(true);
      const health = await getJson(`${String(line.url)}/healthz`);
      expect(health).toEqual({ status: 200, body: { status: 'ok' } });
      expect(await metricsOf(String(line.url))).toContain('drift_events_consumed_total');
    }
    expect(urls[0]).not.toBe(`http://127.0.0.1:${gatewayPort}`);
    expect(clashing.lines.some((l) => typeof l.msg === 'string' && l.msg.includes(`port ${gatewayPort} is in use`))).toBe(true);
    expect(new Set(ids).size).toBe(2);
    expect((await fetch(`http://127.0.0.1:${gatewayPort}/readyz`)).status).toBe(200);
    // the two workers share the partitions through leases
    const split = await eventually(async () => {
      const owned = await Promise.all(urls.map(async (u) => partitionsIn(await metricsOf(u))));
      return owned[0].length + owned[1].length === 16 && owned.every((o) => o.length === 8) ? owned : undefined;
    }, 60_000, 'the two workers to split the 16 partitions');
    expect(new Set([...split[0], ...split[1]]).size).toBe(16);
  }, 120_000);

  it('reports a manual partition list as such', async () => {
    const manual = spawnEntry('worker', { ...process.env, NATS_URL: server.url, LOG_LEVEL: 'info', DRIFTWATCH_OWNED_PARTITIONS: '3,4', DRIFTWATCH_WORKER_THREADS: '0' });
    procs.push(manual);
    const line = await eventually(() => manual.lines.find((l) => typeof l.msg === 'string' && l.msg.includes('manual partition list')), 60_000, `manual-list log line (${manual.output()})`);
    expect(line.partitions).toEqual([3, 4]);
  });
});

describe('two workers sharing 16 partitions through leases', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let gateway: Gateway;
  let dir: string;
  let configFile: string;
  const procs: Proc[] = [];
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 600_000;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await provision(nc, { partitions: 16 });
    dir = mkdtempSync(join(tmpdir(), 'driftwatch-scale-'));
    configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ panes: { flushIntervalMs: 100, allowedLatenessMs: '10m' }, checkpoint: { intervalMs: 200 }, reference: { autoCaptureMs: 0 } }));
    const config = loadConfig({ env: { NATS_URL: server.url, PORT: '0', LOG_LEVEL: 'warn', DRIFTWATCH_CONFIG: configFile } });
    gateway = await startGateway(nc, config, pino({ level: 'warn' }));
  });

  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await gateway?.stop();
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startWorker(id: string, threads: string): Promise<{ proc: Proc; url: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, NATS_URL: server.url, LOG_LEVEL: 'info', DRIFTWATCH_CONFIG: configFile, DRIFTWATCH_WORKER_THREADS: threads, DRIFTWATCH_WORKER_ID: id, DRIFTWATCH_WORKER_PORT: '0' };
    const proc = spawnEntry('worker', env);
    procs.push(proc);
    const line = await logged(proc, 'worker health and metrics endpoint');
    return { proc, url: String(line.url) };
  }

  it('splits the work, fails over after kill -9, hands over on a graceful stop, and counts everything exactly once', async () => {
    const publisher = await DriftPublisher.connect(nc, { maxInFlight: 256 });
    let published = 0;
    const publish = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        await publisher.publishPrediction({ id: `s${i}`, model: 'risk', ts: T0 + i * 20, output: (i % 10) / 10, latencyMs: i % 100 });
        await publisher.publishLabel({ id: `s${i}`, model: 'risk', ts: T0 + i * 20 + 500, label: i % 3 === 0 ? 1 : 0 });
      }
      await publisher.flush();
      published = to;
    };
    const totals = async (n: number) =>
      eventually(async () => {
        const { status, body } = await getJson<ModelMetrics>(`${gateway.url}/v1/models/risk/metrics?window=1h`);
        return status === 200 && body.count >= n && body.labels.joined >= n ? body : undefined;
      }, 60_000, `${n} predictions and joined labels through the gateway`);
    const accuracyOf = (n: number) => {
      let correct = 0;
      for (let i = 0; i < n; i++) if (((i % 10) / 10 >= 0.5 ? 1 : 0) === (i % 3 === 0 ? 1 : 0)) correct++;
      return correct / n;
    };

    const a = await startWorker('worker-a', '2');
    const b = await startWorker('worker-b', '0');
    const split = await eventually(async () => {
      const owned = await Promise.all([a, b].map(async (w) => partitionsIn(await metricsOf(w.url))));
      return owned.every((o) => o.length === 8) ? owned : undefined;
    }, 60_000, 'an 8/8 split');
    expect(new Set([...split[0], ...split[1]]).size).toBe(16);

    // phase 1: both consume, no partition twice
    const N1 = 1000;
    await publish(0, N1);
    const first = await totals(N1);
    expect(first.count).toBe(N1);
    const consumed = await eventually(async () => {
      const [ca, cb] = await Promise.all([a, b].map(async (w) => consumedIn(await metricsOf(w.url))));
      return ca + cb >= 2 * N1 ? { ca, cb } : undefined;
    }, 30_000, 'both workers to report their consumed events');
    expect(consumed.ca + consumed.cb).toBe(2 * N1);
    expect(consumed.ca).toBeGreaterThan(0);
    expect(consumed.cb).toBeGreaterThan(0);

    // phase 2: kill -9 worker b mid-stream; its partitions resume on a within the lease expiry
    const N2 = 2000;
    const publishing = publish(N1, N2);
    b.proc.child.kill('SIGKILL');
    await b.proc.exited;
    await eventually(async () => ((partitionsIn(await metricsOf(a.url))).length === 16 ? true : undefined), 15_000, "worker a to take over b's partitions within 15 s");
    await publishing;
    const second = await totals(N2);
    expect(second.count).toBe(N2);
    expect(second.labels.joined).toBe(N2);

    // phase 3: c joins and takes half, then stops gracefully: a takes its partitions back from
    // c's final checkpoints, replaying nothing
    const c = await startWorker('worker-c', '0');
    await eventually(async () => {
      const owned = await Promise.all([a, c].map(async (w) => partitionsIn(await metricsOf(w.url))));
      return owned.every((o) => o.length === 8) ? true : undefined;
    }, 60_000, 'a and c to split 8/8');
    const N3 = 2500;
    await publish(N2, N3);
    await totals(N3);
    const before = await eventually(async () => {
      const [ca, cc] = await Promise.all([a, c].map(async (w) => consumedIn(await metricsOf(w.url))));
      return cc > 0 ? { ca, cc } : undefined;
    });
    // let the last stats reach /metrics, then read a's count just before the hand-over
    await new Promise((r) => setTimeout(r, 1500));
    const aBefore = consumedIn(await metricsOf(a.url));
    c.proc.child.kill('SIGTERM');
    expect(await exitWithin(c.proc, 30_000)).toBe(0);
    expect(before.cc).toBeGreaterThan(0);
    await eventually(async () => ((partitionsIn(await metricsOf(a.url))).length === 16 ? true : undefined), 15_000, "a to take c's partitions after its graceful stop");
    const N4 = 3000;
    await publish(N3, N4);
    const final = await totals(N4);
    // a consumed exactly the new events: nothing of c's partitions was replayed
    const aAfter = await eventually(async () => {
      const n = consumedIn(await metricsOf(a.url));
      return n >= aBefore + 2 * (N4 - N3) ? n : undefined;
    }, 30_000, "a's consumed count to include the new events");
    expect(aAfter - aBefore).toBe(2 * (N4 - N3));

    expect(published).toBe(N4);
    expect(final.count).toBe(N4);
    expect(final.labels.joined).toBe(N4);
    expect(final.labels.pending).toBe(0);
    expect(final.accuracy).toBeCloseTo(accuracyOf(N4), 12);
    await new Promise((r) => setTimeout(r, 1000));
    const { body: settled } = await getJson<ModelMetrics>(`${gateway.url}/v1/models/risk/metrics?window=1h`);
    expect(settled.count).toBe(N4);
    expect(settled.labels.joined).toBe(N4);
    a.proc.child.kill('SIGTERM');
    expect(await exitWithin(a.proc, 30_000)).toBe(0);
    await publisher.close();
  }, 300_000);
});
