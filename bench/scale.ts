/**
 * Scale-out bench: what worker processes add, and what moving partitions between them costs.
 *
 *   npm run bench -- scale [--quick] [--predictions 200000] [--kills 10]
 *
 * Against one private nats-server (loopback, temp storage), 16 partitions:
 * 1. Throughput: a backlog of the scale-out workload (predictions + late, shuffled labels) is
 *    consumed from a clean state (checkpoints deleted) by 1, then 2 `npm run worker` processes
 *    (one partition thread each: DRIFTWATCH_WORKER_THREADS=0); the rate is read from their
 *    /metrics between 10 % and 90 % of the backlog. The limit, in the same run: ordered consumers
 *    in this process that only count the same messages.
 * 2. Failover: two workers; `kill -9` one, time until the survivor's /metrics shows all of the
 *    victim's partitions running (lease expiry `worker.leaseMs` + restore); a fresh worker
 *    replaces it and the split is awaited before the next kill. p50/max over --kills (10; 3 quick).
 * 3. Graceful hand-over: SIGTERM one of two workers, time until the other runs its partitions.
 * 4. Checkpoint of one partition holding 100,000 pending joins (predictions without labels, 4
 *    features): bytes, encode time, object-store write time.
 * Ends with one JSON line.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { objectStores } from '../src/cluster/object-store.ts';
import { startNatsServer } from '../test/helpers/nats-server.ts';
import { endpointOf, exitWithin, spawnEntry, workerMetrics } from '../test/helpers/processes.ts';
import type { Proc } from '../test/helpers/processes.ts';
import { publishWorkload } from '../test/helpers/scale-workload.ts';
import { provision } from '../src/cluster/provision.ts';
import { CHECKPOINTS_BUCKET, EVENTS_STREAM, PANES_STREAM, partitionFilter, predictionSubject } from '../src/cluster/subjects.ts';
import { DriftPublisher } from '../src/client/index.ts';
import { loadConfig } from '../src/config/load.ts';
import { runnerOptionsOf } from '../src/config/options.ts';
import { PartitionProcessor } from '../src/partition/processor.ts';
import { EventEncoder } from '../src/events/encode.ts';

const PARTITIONS = 16;

interface Worker {
  id: string;
  proc: Proc;
  url: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

async function startWorker(natsUrl: string, id: string): Promise<Worker> {
  const env: NodeJS.ProcessEnv = { ...process.env, NATS_URL: natsUrl, LOG_LEVEL: 'info', LOG_FORMAT: 'json', DRIFTWATCH_WORKER_ID: id, DRIFTWATCH_WORKER_PORT: '0', DRIFTWATCH_WORKER_THREADS: '0' };
  for (const key of ['PORT', 'DRIFTWATCH_CONFIG', 'DRIFTWATCH_OWNED_PARTITIONS']) delete env[key];
  const proc = spawnEntry('worker', env);
  return { id, proc, url: await endpointOf(proc, 120_000) };
}

async function stopWorkers(workers: Worker[]): Promise<void> {
  for (const w of workers) if (w.proc.child.exitCode === null) w.proc.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => exitWithin(w.proc, 60_000, `worker ${w.id}`).catch(() => w.proc.child.kill('SIGKILL'))));
}

/** Polls until `check` holds; resolves with the time it held first. */
async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return Date.now();
    } catch {
      // a worker busy or just gone: ask again
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const ownedBy = async (workers: Worker[]) => (await Promise.all(workers.map(async (w) => (await workerMetrics(w.url)).partitions))).map((p) => p.length);

/** Deletes every checkpoint and purges the pane changelog, so the next workers start from sequence 1. */
async function cleanState(nc: NatsConnection): Promise<void> {
  const store = await objectStores(nc).open(CHECKPOINTS_BUCKET);
  for (const info of await store.list()) await store.delete(info.name);
  await (await jetstreamManager(nc)).streams.purge(PANES_STREAM);
}

/** Ordered consumers that only count: the most this NATS client reads on this machine. */
async function rawConsumerRate(nc: NatsConnection, total: number): Promise<number> {
  const js = jetstream(nc);
  let seen = 0;
  const start = Date.now();
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const sessions = await Promise.all(
    Array.from({ length: PARTITIONS }, async (_, p) => {
      const consumer = await js.consumers.get(EVENTS_STREAM, { filter_subjects: partitionFilter(p) });
      const messages = await consumer.consume({ max_messages: 1024 });
      void (async () => {
        for await (const msg of messages) {
          void msg;
          if (++seen === total) done();
        }
      })();
      return messages;
    }),
  );
  await finished;
  const rate = total / ((Date.now() - start) / 1000);
  await Promise.all(sessions.map((s) => s.close()));
  return rate;
}

/** Consumption rate of `count` fresh workers on the backlog, between 10 % and 90 % of it. */
async function workerRate(natsUrl: string, nc: NatsConnection, count: number, total: number): Promise<{ rate: number; workers: Worker[]; includesStartup: boolean }> {
  await cleanState(nc);
  const spawnedAt = Date.now();
  const workers: Worker[] = [];
  for (let i = 0; i < count; i++) workers.push(await startWorker(natsUrl, `bench-${count}-${i}`));
  const samples: Array<{ t: number; consumed: number }> = [];
  await until(
    async () => {
      const consumed = (await Promise.all(workers.map(async (w) => (await workerMetrics(w.url)).consumed))).reduce((a, b) => a + b, 0);
      samples.push({ t: Date.now(), consumed });
      return consumed >= total;
    },
    1_800_000,
    `${count} worker(s) to consume the backlog`,
  );
  const at = (fraction: number) => samples.find((s) => s.consumed >= fraction * total)!;
  const [a, b] = [at(0.1), at(0.9)];
  // a small backlog may be gone between two samples (or before the last worker answered): then
  // the whole run, start-up included, is all there is to measure
  if (b.t - a.t < 1_000) return { rate: total / ((samples[samples.length - 1].t - spawnedAt) / 1000), workers, includesStartup: true };
  return { rate: (b.consumed - a.consumed) / ((b.t - a.t) / 1000), workers, includesStartup: false };
}

async function measureFailover(natsUrl: string, kills: number): Promise<number[]> {
  const workers = [await startWorker(natsUrl, 'fo-0'), await startWorker(natsUrl, 'fo-1')];
  const times: number[] = [];
  try {
    for (let k = 0; k < kills; k++) {
      await until(async () => (await ownedBy(workers)).every((n) => n === PARTITIONS / 2), 300_000, 'an 8/8 split');
      const [survivor, victim] = workers;
      victim.proc.child.kill('SIGKILL');
      const killedAt = Date.now();
      await victim.proc.exited;
      const resumedAt = await until(async () => (await workerMetrics(survivor.url)).partitions.length === PARTITIONS, 120_000, "the victim's partitions to resume");
      times.push(resumedAt - killedAt);
      console.log(`  kill ${k + 1}/${kills}: partitions resumed after ${resumedAt - killedAt} ms`);
      workers[1] = await startWorker(natsUrl, `fo-${k + 2}`);
    }
  } finally {
    await stopWorkers(workers);
  }
  return times;
}

async function measureHandOver(natsUrl: string, rounds: number): Promise<number[]> {
  const workers = [await startWorker(natsUrl, 'ho-0'), await startWorker(natsUrl, 'ho-1')];
  const times: number[] = [];
  try {
    for (let k = 0; k < rounds; k++) {
      await until(async () => (await ownedBy(workers)).every((n) => n === PARTITIONS / 2), 300_000, 'an 8/8 split');
      const [survivor, leaving] = workers;
      leaving.proc.child.kill('SIGTERM');
      const stoppedAt = Date.now();
      const resumedAt = await until(async () => (await workerMetrics(survivor.url)).partitions.length === PARTITIONS, 120_000, 'the hand-over');
      await exitWithin(leaving.proc, 60_000, 'the leaving worker');
      times.push(resumedAt - stoppedAt);
      console.log(`  hand-over ${k + 1}/${rounds}: ${resumedAt - stoppedAt} ms`);
      workers[1] = await startWorker(natsUrl, `ho-${k + 2}`);
    }
  } finally {
    await stopWorkers(workers);
  }
  return times;
}

/** One partition's checkpoint with `pending` predictions waiting for their labels. */
async function measureCheckpoint(nc: NatsConnection, pending: number): Promise<{ bytes: number; encodeMs: number; writeMs: number }> {
  const config = loadConfig({ env: {} });
  const processor = new PartitionProcessor({ ...runnerOptionsOf(config).processor, partition: 0 });
  const encoder = new EventEncoder();
  const now = Date.now();
  for (let i = 0; i < pending; i++) {
    const model = i % 2 === 0 ? 'risk' : 'churn';
    const data = encoder.encodePrediction({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      model,
      version: 'v1',
      ts: now - 600_000 + Math.floor((i * 600_000) / pending),
      output: (i % 1000) / 1000,
      latencyMs: 10 + (i % 90),
      features: { amount: (i * 37) % 5000, age: 18 + (i % 60), score: ((i * 13) % 100) / 100, country: ['us', 'de', 'fr', 'jp'][i % 4] },
    });
    processor.process(i + 1, predictionSubject(0, model), data);
  }
  if (processor.join.size !== pending) throw new Error(`expected ${pending} pending joins, the processor holds ${processor.join.size}`);
  const store = await objectStores(nc).open(CHECKPOINTS_BUCKET);
  const encodes: number[] = [];
  const writes: number[] = [];
  let bytes = 0;
  for (let round = 0; round < 5; round++) {
    let t = performance.now();
    const snapshot = processor.snapshot();
    encodes.push(performance.now() - t);
    bytes = snapshot.length;
    t = performance.now();
    await store.putBlob({ name: 'bench-partition' }, snapshot);
    writes.push(performance.now() - t);
  }
  await store.delete('bench-partition');
  return { bytes, encodeMs: quantile(encodes, 0.5), writeMs: quantile(writes, 0.5) };
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: { quick: { type: 'boolean', default: false }, predictions: { type: 'string' }, kills: { type: 'string' }, handovers: { type: 'string' } },
  });
  const quick = values.quick === true;
  const predictions = Number(values.predictions ?? (quick ? 20_000 : 200_000));
  const kills = Number(values.kills ?? (quick ? 3 : 10));
  const handovers = Number(values.handovers ?? (quick ? 1 : 3));
  for (const [name, v] of Object.entries({ predictions, kills, handovers })) if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got ${String(v)}`);
  const load = os.loadavg()[0];
  console.log(`Scale-out bench (${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load ${load.toFixed(1)})${quick ? ' --quick' : ''}`);

  const server = await startNatsServer();
  const nc = await connect({ servers: server.url });
  const results: Record<string, unknown> = { bench: 'scale', quick, predictions, partitions: PARTITIONS, cpus: os.cpus().length };
  try {
    await provision(nc, { partitions: PARTITIONS });
    const publisher = await DriftPublisher.connect(nc, { maxInFlight: 2048, partitions: PARTITIONS });
    const t = Date.now();
    const { events } = await publishWorkload(publisher, { count: predictions, t0: Math.floor(Date.now() / 60_000) * 60_000 - 20 * 60_000 });
    await publisher.close();
    console.log(`backlog: ${events.toLocaleString('en')} events (${predictions.toLocaleString('en')} predictions + late labels) published in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    const raw = await rawConsumerRate(nc, events);
    console.log(`raw ordered consumers (the limit): ${Math.round(raw).toLocaleString('en')} events/s`);
    const rates: number[] = [];
    for (const count of [1, 2]) {
      const { rate, workers, includesStartup } = await workerRate(server.url, nc, count, events);
      await stopWorkers(workers);
      rates.push(rate);
      if (includesStartup) results[`worker${count}_includes_startup`] = true;
      console.log(
        `${count} worker process${count > 1 ? 'es' : ''}: ${Math.round(rate).toLocaleString('en')} events/s (${(rate / raw).toFixed(2)} of the raw limit)${includesStartup ? ', process start-up included (backlog too small to sample)' : ''}`,
      );
    }
    const rawAfter = await rawConsumerRate(nc, events);
    console.log(`raw ordered consumers again: ${Math.round(rawAfter).toLocaleString('en')} events/s`);
    Object.assign(results, {
      events,
      raw_events_per_s: Math.round(Math.max(raw, rawAfter)),
      worker1_events_per_s: Math.round(rates[0]),
      worker2_events_per_s: Math.round(rates[1]),
      worker1_ratio: +(rates[0] / Math.max(raw, rawAfter)).toFixed(3),
      worker2_ratio: +(rates[1] / Math.max(raw, rawAfter)).toFixed(3),
      scaling_2_over_1: +(rates[1] / rates[0]).toFixed(2),
    });

    console.log(`failover: kill -9 of one of two workers, ${kills} times`);
    const failovers = await measureFailover(server.url, kills);
    console.log(`failover: p50 ${quantile(failovers, 0.5)} ms, max ${Math.max(...failovers)} ms (lease 10 s)`);
    console.log(`graceful hand-over: SIGTERM one of two workers, ${handovers} times`);
    const handoverTimes = await measureHandOver(server.url, handovers);
    console.log(`hand-over: p50 ${quantile(handoverTimes, 0.5)} ms, max ${Math.max(...handoverTimes)} ms`);
    Object.assign(results, {
      failover_ms_p50: quantile(failovers, 0.5),
      failover_ms_max: Math.max(...failovers),
      kills,
      handover_ms_p50: quantile(handoverTimes, 0.5),
      handover_ms_max: Math.max(...handoverTimes),
    });

    const pending = 100_000;
    const checkpoint = await measureCheckpoint(nc, pending);
    console.log(
      `checkpoint of one partition with ${pending.toLocaleString('en')} pending joins: ${(checkpoint.bytes / 1e6).toFixed(2)} MB (${Math.round(checkpoint.bytes / pending)} B per pending join), encode ${checkpoint.encodeMs.toFixed(0)} ms, write ${checkpoint.writeMs.toFixed(0)} ms`,
    );
    Object.assign(results, { checkpoint_pending_joins: pending, checkpoint_bytes: checkpoint.bytes, checkpoint_encode_ms: +checkpoint.encodeMs.toFixed(1), checkpoint_write_ms: +checkpoint.writeMs.toFixed(1) });
  } finally {
    await nc.close().catch(() => undefined);
    await server.stop();
  }
  results.load_avg_start = +load.toFixed(1);
  results.load_avg_end = +os.loadavg()[0].toFixed(1);
  console.log(JSON.stringify(results));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
