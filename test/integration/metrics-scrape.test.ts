/**
 * What an operator reads from Prometheus, scraped from real processes: two `npm run worker` and one
 * `npm run gateway` against a real nats-server (a split deployment), and start-up refusing an events
 * retention that cannot cover a failover.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { eventually, getJson } from '../helpers/pipeline.ts';
import { cleanEnv, logged, spawnEntry } from '../helpers/entry-process.ts';
import type { EntryProcess } from '../helpers/entry-process.ts';
import { parseExposition, samplesOf } from '../helpers/prom-text.ts';
import type { Sample } from '../helpers/prom-text.ts';
import { provision } from '../../src/cluster/provision.ts';
import { CHECKPOINTS_BUCKET, EVENTS_STREAM } from '../../src/cluster/subjects.ts';
import { checkpointName } from '../../src/partition/runner.ts';
import { DriftPublisher } from '../../src/client/index.ts';
import { SeededRandom } from '../../src/simulator/random.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';

const PARTITIONS = 4;
const RULES = [
  { name: 'feature_psi', description: 'PSI of a feature above 0.2', metric: 'drift.feature.psi', scope: 'feature', window: '1m', op: '>', threshold: 0.2, minCount: 100, for: '0s', severity: 'warning' },
];

async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  return parseExposition(await response.text());
}

describe('Prometheus series of a split deployment (2 workers, 1 gateway, real nats-server)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let dir: string;
  let configFile: string;
  const procs: EntryProcess[] = [];
  const workers: Array<{ id: string; url: string }> = [];
  let gatewayUrl = '';
  const seeded = new SeededRandom(5);
  const T1 = Math.floor(Date.now() / 60_000) * 60_000 - 600_000;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await provision(nc, { partitions: PARTITIONS });
    dir = mkdtempSync(join(tmpdir(), 'driftwatch-metrics-'));
    configFile = join(dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({ panes: { flushIntervalMs: 100, allowedLatenessMs: '10m' }, checkpoint: { intervalMs: 300 }, reference: { autoCaptureMs: 0 }, alerts: { rules: RULES } }),
    );
    const env = (extra: NodeJS.ProcessEnv) => cleanEnv({ NATS_URL: server.url, LOG_LEVEL: 'info', DRIFTWATCH_CONFIG: configFile, ...extra });
    const gateway = spawnEntry('gateway', env({ PORT: '0' }));
    procs.push(gateway);
    for (const id of ['metrics-a', 'metrics-b']) {
      const worker = spawnEntry('worker', env({ DRIFTWATCH_WORKER_ID: id, DRIFTWATCH_WORKER_PORT: '0', DRIFTWATCH_WORKER_THREADS: '0' }));
      procs.push(worker);
      workers.push({ id, url: String((await logged(worker, 'worker health and metrics endpoint')).url) });
    }
    gatewayUrl = String((await logged(gateway, 'gateway listening')).url);
  }, 120_000);

  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await nc?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('each partition has exactly one owner across the workers, and each worker counts the partitions it took in', async () => {
    const owners = await eventually(async () => {
      const scrapes = await Promise.all(workers.map((w) => scrape(w.url)));
      const owned = scrapes.map((s) => samplesOf(s, 'drift_partition_owner').filter((x) => x.value === 1));
      const total = owned.flat().reduce((sum, x) => sum + x.value, 0);
      return total === PARTITIONS && owned.every((o) => o.length === PARTITIONS / 2) ? { scrapes, owned } : undefined;
    }, 60_000, 'the owner gauge to sum to the partition count, split 2/2');
    const partitions = owners.owned.flat().map((x) => Number(x.labels.partition)).sort();
    expect(partitions).toEqual([0, 1, 2, 3]);
    owners.owned.forEach((samples, i) => {
      for (const s of samples) expect(s.labels.worker).toBe(workers[i].id);
      const moved = (direction: string) => samplesOf(owners.scrapes[i], 'drift_partition_rebalances_total', { direction })[0]?.value ?? 0;
      // partitions in, minus partitions out, is what the worker holds now
      expect(moved('in') - moved('out')).toBe(samples.length);
    });
    // a worker exports the pipeline's series and none of the gateway's; lag per partition it runs
    for (const scraped of owners.scrapes) {
      expect(samplesOf(scraped, 'drift_partitions')[0]?.value).toBe(PARTITIONS);
      expect(samplesOf(scraped, 'drift_consumer_lag')).toHaveLength(PARTITIONS / 2);
      expect(samplesOf(scraped, 'drift_model_predictions')).toHaveLength(0);
      expect(scraped.some((s) => s.name.startsWith('drift_ws_') || s.name.startsWith('drift_alerts'))).toBe(false);
    }
  }, 90_000);

  it('drift verdicts, firing alerts and checkpoint ages read as they happen', async () => {
    const publisher = await DriftPublisher.connect(nc, { maxInFlight: 128 });
    const publishPhase = async (prefix: string, startTs: number, shift: number, n = 300) => {
      for (let i = 0; i < n; i++) {
        await publisher.publishPrediction({ id: `${prefix}-${i}`, model: 'credit', ts: startTs + i * 100, output: seeded.next(), features: { x: seeded.normal() + shift } });
      }
      await publisher.flush();
    };
    const metricsOf = async () => (await getJson<ModelMetrics>(`${gatewayUrl}/v1/models/credit/metrics?window=1m`)).body;
    try {
      const rows = Array.from({ length: 1000 }, () => ({ features: { x: seeded.normal() } }));
      const upload = await fetch(`${gatewayUrl}/v1/baselines`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'credit', rows }) });
      expect(upload.status).toBe(201);

      await publishPhase('quiet', T1, 0);
      const quiet = await eventually(async () => {
        const body = await metricsOf();
        return body.drift.features.x?.count === 300 ? body : undefined;
      }, 60_000, 'drift computed on the quiet phase');
      expect(quiet.drift.features.x.drift).toBe(false);
      const quietSeries = await eventually(async () => {
        const samples = samplesOf(await scrape(gatewayUrl), 'drift_feature_drift', { model: 'credit', window: '1m', feature: 'x' });
        return samples.length === 1 ? samples[0] : undefined;
      }, 20_000, 'the verdict series of feature x');
      expect(quietSeries.value).toBe(0);
      expect(quietSeries.labels.test).toBe(quiet.drift.features.x.primary);

      // checkpoint age: every partition has just checkpointed what it consumed (events spread over all by id)
      const checkpoints = await new Objm(nc).open(CHECKPOINTS_BUCKET);
      const ages = await eventually(async () => {
        const scrapes = await Promise.all(workers.map((w) => scrape(w.url)));
        const all = scrapes.flatMap((s) => samplesOf(s, 'drift_checkpoint_age_seconds'));
        return all.length === PARTITIONS ? { scrapes, all } : undefined;
      }, 20_000, 'a checkpoint age for every partition');
      for (const age of ages.all) expect(age.value).toBeLessThan(5); // checkpoints every 300 ms
      // the size is the stored checkpoint's (read again if a checkpoint landed between the two reads)
      await eventually(async () => {
        const sizes = (await Promise.all(workers.map((w) => scrape(w.url)))).flatMap((s) => samplesOf(s, 'drift_checkpoint_bytes'));
        if (sizes.length !== PARTITIONS) return undefined;
        for (const size of sizes) {
          const stored = await checkpoints.info(checkpointName(Number(size.labels.partition)));
          if (stored === null || stored.size !== size.value || size.value === 0) return undefined;
        }
        return true;
      }, 20_000, 'drift_checkpoint_bytes equal to the stored checkpoint objects');

      await publishPhase('drift', T1 + 60_000, 2);
      const firing = await eventually(async () => {
        const samples = samplesOf(await scrape(gatewayUrl), 'drift_alerts_firing', { model: 'credit', rule: 'feature_psi', severity: 'warning' });
        return samples[0]?.value === 1 ? samples : undefined;
      }, 30_000, 'drift_alerts_firing 1 while the PSI alert fires');
      expect(firing).toHaveLength(1);
      const drifting = await eventually(async () => {
        const body = await metricsOf();
        return body.drift.features.x?.drift === true && body.drift.features.x.count === 300 ? body.drift.features.x : undefined;
      }, 30_000, 'feature x drifting through REST');
      const verdict = await eventually(async () => {
        const scraped = await scrape(gatewayUrl);
        const v = samplesOf(scraped, 'drift_feature_drift', { model: 'credit', version: 'all', window: '1m', feature: 'x', test: drifting.primary })[0];
        const stat = samplesOf(scraped, 'drift_feature_drift_statistic', { model: 'credit', version: 'all', window: '1m', feature: 'x', test: drifting.primary })[0];
        return v?.value === 1 && stat !== undefined ? { v, stat } : undefined;
      }, 20_000, 'the verdict series at 1 for the drifting feature');
      expect(verdict.stat.value).toBeCloseTo(drifting.tests[drifting.primary].statistic, 6);
      // the gateway exports its own series and none of the workers'
      const gatewaySamples = await scrape(gatewayUrl);
      expect(samplesOf(gatewaySamples, 'drift_events_consumed_total')).toHaveLength(0);
      expect(samplesOf(gatewaySamples, 'drift_partition_owner')).toHaveLength(0);
      // and the part of the pipeline it follows: the pane changelog
      expect(samplesOf(gatewaySamples, 'drift_changelog_ready')[0]?.value).toBe(1);
      expect(samplesOf(gatewaySamples, 'drift_pane_messages_applied_total')[0]?.value).toBeGreaterThan(0);

      await publishPhase('calm', T1 + 240_000, 0);
      await eventually(async () => {
        const samples = samplesOf(await scrape(gatewayUrl), 'drift_alerts_firing', { model: 'credit', rule: 'feature_psi', severity: 'warning' });
        return samples.length === 1 && samples[0].value === 0 ? true : undefined;
      }, 30_000, 'drift_alerts_firing back to 0 once the alert resolves');
    } finally {
      await publisher.close();
    }
  }, 180_000);
});

describe('start-up checks the events retention against checkpoints plus failover', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await provision(nc, { partitions: 2 });
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('a worker and a gateway refuse a DRIFT_EVENTS retention shorter than a checkpoint interval plus a failover, and leave the stream as it was', async () => {
    for (const entry of ['worker', 'gateway'] as const) {
      const proc = spawnEntry(entry, cleanEnv({ NATS_URL: server.url, PORT: '0', DRIFTWATCH_WORKER_PORT: '0', DRIFTWATCH_EVENTS_RETENTION: '30s', LOG_LEVEL: 'info' }));
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), 60_000);
      const code = await proc.exited;
      clearTimeout(timer);
      expect(code, proc.output()).toBe(1);
      const fatal = proc.lines.find((l) => l.level === 60);
      expect(fatal?.msg).toMatch(/^DRIFT_EVENTS keeps events for 30 s \(nats.eventsRetentionMs \/ DRIFTWATCH_EVENTS_RETENTION\), less than a failover needs: 75 s = checkpoint.intervalMs 5 s \+ worker.leaseMs 10 s/);
      expect(fatal?.error).toBe('EventsRetentionError');
    }
    const info = await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM);
    expect(info.config.max_age / 1e6).toBe(7 * 24 * 3600_000);
  }, 120_000);

  it('a size limit set on the stream by hand starts with a warning: it gives no time guarantee', async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.update(EVENTS_STREAM, { max_msgs: 1_000_000 });
    const proc = spawnEntry('worker', cleanEnv({ NATS_URL: server.url, DRIFTWATCH_WORKER_PORT: '0', DRIFTWATCH_WORKER_THREADS: '0', LOG_LEVEL: 'info' }));
    try {
      await logged(proc, 'worker health and metrics endpoint');
      const warning = proc.lines.find((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.startsWith('DRIFT_EVENTS also has max_msgs 1000000'));
      expect(warning, proc.output()).toBeDefined();
      // provisioning leaves a size limit alone: the operator set it
      expect((await jsm.streams.info(EVENTS_STREAM)).config.max_msgs).toBe(1_000_000);
    } finally {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
  }, 120_000);
});
