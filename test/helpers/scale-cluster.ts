/**
 * A driftwatch deployment of real processes for scale-out tests and the scale bench: a gateway
 * process and any number of `npm run worker` processes against given NATS URLs, with their
 * partitions, consumed counters and checkpoint restores read back from /metrics and their logs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import { EVENTS_STREAM, partitionFilter } from '../../src/cluster/subjects.ts';
import { pickFreePort } from '../../src/cluster/nats-process.ts';
import { eventually } from './pipeline.ts';
import { endpointOf, exitWithin, spawnEntry, workerMetrics } from './processes.ts';
import type { Proc, WorkerMetrics } from './processes.ts';

export interface RunningWorker {
  id: string;
  proc: Proc;
  url: string;
}

export interface Deployment {
  gatewayUrl: string;
  gateway: Proc;
  workers: RunningWorker[];
  startWorker(id: string): Promise<RunningWorker>;
  /** Workers whose process has not exited. */
  live(): RunningWorker[];
  /** Metrics of every live worker, scraped in parallel (fails if one does not answer). */
  scrape(): Promise<Array<{ worker: RunningWorker; metrics: WorkerMetrics }>>;
  /** Metrics of the live workers that answer. */
  scrapeSome(): Promise<Array<{ worker: RunningWorker; metrics: WorkerMetrics }>>;
  /** Resolves once the live workers together run all `partitions` partitions, each exactly once. */
  waitForCoverage(partitions: number, timeoutMs?: number): Promise<void>;
  /** SIGTERM to every live process; resolves with their exit codes (fails with a log if one hangs). */
  stopAll(): Promise<Array<number | null>>;
  /** SIGKILL whatever still runs and remove the temp dir. */
  destroy(): void;
}

export interface DeploymentOptions {
  natsUrl: string;
  /** Merged over the defaults (config file given to every process). */
  config?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  logLevel?: string;
  /** Where each worker's log is also written (`<id>.log`), e.g. for a failure's post-mortem. */
  logDir?: string;
}

function baseEnv(options: DeploymentOptions, configFile: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NATS_URL: options.natsUrl, DRIFTWATCH_CONFIG: configFile, LOG_LEVEL: options.logLevel ?? 'info', LOG_FORMAT: 'json', ...options.env };
  for (const key of ['PORT', 'DRIFTWATCH_WORKER_PORT', 'DRIFTWATCH_WORKER_ID', 'DRIFTWATCH_OWNED_PARTITIONS', 'DRIFTWATCH_TOKEN']) if (!(options.env && key in options.env)) delete env[key];
  return env;
}

/** Starts a gateway process (and no worker yet): the caller provisions NATS first. */
export async function startDeployment(options: DeploymentOptions): Promise<Deployment> {
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-deploy-'));
  const configFile = join(dir, 'config.json');
  writeFileSync(
    configFile,
    // a fixed 500 ms flush (no pacing): these tests measure failover and exactness on a loaded machine,
    // not alert latency, and pacing would double the few models' pane messages
    JSON.stringify({ panes: { flushIntervalMs: 500, minFlushIntervalMs: 500, allowedLatenessMs: '10m' }, checkpoint: { intervalMs: 1000 }, reference: { autoCaptureMs: 0 }, ...options.config }),
  );
  const env = baseEnv(options, configFile);
  const gatewayPort = await pickFreePort();
  const gateway = spawnEntry('gateway', { ...env, PORT: String(gatewayPort), LOG_LEVEL: 'warn' });
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const workers: RunningWorker[] = [];
  // a worker counts once it serves its endpoint, until its process ends
  const live = () => workers.filter((w) => w.url !== '' && w.proc.child.exitCode === null && w.proc.child.signalCode === null);
  const scrape = async () => Promise.all(live().map(async (worker) => ({ worker, metrics: await workerMetrics(worker.url) })));
  const scrapeSome = async () => {
    const settled = await Promise.allSettled(live().map(async (worker) => ({ worker, metrics: await workerMetrics(worker.url) })));
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  };
  const deployment: Deployment = {
    gatewayUrl,
    gateway,
    workers,
    live,
    scrape,
    scrapeSome,
    async startWorker(id) {
      const proc = spawnEntry('worker', { ...env, DRIFTWATCH_WORKER_ID: id, DRIFTWATCH_WORKER_PORT: '0', DRIFTWATCH_WORKER_THREADS: '0' }, options.logDir === undefined ? undefined : join(options.logDir, `${id}.log`));
      const worker: RunningWorker = { id, proc, url: '' };
      workers.push(worker);
      worker.url = await endpointOf(proc);
      return worker;
    },
    async waitForCoverage(partitions, timeoutMs = 120_000) {
      let seen = '';
      await eventually(
        async () => {
          const scraped = await scrape();
          seen = scraped.map((s) => `${s.worker.id}: ${s.metrics.partitions.join(',')}`).join('; ');
          const owned = scraped.flatMap((s) => s.metrics.partitions);
          return owned.length === partitions && new Set(owned).size === partitions ? true : undefined;
        },
        timeoutMs,
        `the live workers to run all ${partitions} partitions, each once`,
      ).catch((error: unknown) => {
        throw new Error(`${(error as Error).message} (last seen: ${seen})`);
      });
    },
    async stopAll() {
      const running = [...live().map((w) => ({ proc: w.proc, what: `worker ${w.id}` })), { proc: gateway, what: 'the gateway' }].filter((r) => r.proc.child.exitCode === null);
      for (const r of running) r.proc.child.kill('SIGTERM');
      return Promise.all(running.map((r) => exitWithin(r.proc, 45_000, `${r.what} (SIGTERM)`)));
    },
    destroy() {
      for (const p of [gateway, ...workers.map((w) => w.proc)]) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await eventually(
    async () => ((await fetch(`${gatewayUrl}/readyz`).catch(() => null))?.status === 200 ? true : undefined),
    90_000,
    `gateway /readyz (${gateway.output()})`,
  );
  return deployment;
}

/** Events of one partition stored with a sequence above `afterSeq` (an ephemeral consumer's pending count). */
async function pendingAfter(nc: NatsConnection, partition: number, afterSeq: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.consumers.add(EVENTS_STREAM, {
    filter_subject: partitionFilter(partition),
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: afterSeq + 1,
    ack_policy: AckPolicy.None,
    inactive_threshold: 30_000_000_000,
  });
  await jsm.consumers.delete(EVENTS_STREAM, info.name).catch(() => undefined);
  return info.num_pending;
}

/** Events of one partition with a stream sequence in (afterSeq, uptoSeq]. */
export async function eventsBetween(nc: NatsConnection, partition: number, afterSeq: number, uptoSeq: number): Promise<number> {
  if (uptoSeq <= afterSeq) return 0;
  return (await pendingAfter(nc, partition, afterSeq)) - (await pendingAfter(nc, partition, uptoSeq));
}

/** Where an owner left a partition: its last applied sequence (from its log, or its last scrape before a kill -9). */
export interface PartitionExit {
  partition: number;
  seq: number;
  time: number;
  /** Events consumed up to `seq` but held for their models' admission, so not counted by that owner. */
  held?: number;
  /** The worker process it happened in (absent: one no longer running, e.g. killed). */
  proc?: Proc;
}

export function exitsIn(proc: Proc): PartitionExit[] {
  return proc.lines.flatMap((l) =>
    l.msg === 'partition stopped' || l.msg === 'partition abandoned' ? [{ partition: Number(l.partition), seq: Number(l.seq), time: Number(l.time), held: Number(l.held ?? 0), proc }] : [],
  );
}

/**
 * A worker's checkpoint restores that went on to run: a start abandoned after its restore (its lease
 * lost meanwhile, or its deadline passed) counted nothing, and the next restore of that partition
 * pairs with the same exit as it would have.
 */
function startedRestores(proc: Proc): PartitionExit[] {
  const out: PartitionExit[] = [];
  const open = new Map<number, PartitionExit>();
  for (const l of proc.lines) {
    const partition = Number(l.partition);
    if (l.msg === 'restored partition checkpoint') open.set(partition, { partition, seq: Number(l.seq), time: Number(l.time), held: Number(l.held ?? 0), proc });
    else if (l.msg === 'partition start abandoned') open.delete(partition);
    else if (l.msg === 'partition started under lease' && open.has(partition)) {
      out.push(open.get(partition)!);
      open.delete(partition);
    }
  }
  return out;
}

/**
 * Replay accounting over every checkpoint restore that went on to run, against the exits of that
 * partition before it (a logged stop or abandon, or a killed worker's last scrape):
 * - replayed: events between the restored sequence (or, above it, where the restoring process had
 *   itself got to on the partition before) and the furthest any owner had got to, which the new
 *   owner consumes and counts a second time (a worker taking back a partition it had lost does not
 *   count again what it counted then);
 * - unseen: for a killed worker, events between its last scrape and a newer restored checkpoint,
 *   and those it held at that scrape and admitted since: it counted them (its checkpoint says so)
 *   after its counter was last read.
 */
export async function replayedEvents(nc: NatsConnection, workers: readonly Proc[], kills: readonly PartitionExit[]): Promise<{ replayed: number; unseen: number }> {
  const killed = new Set(kills);
  const exits = [...kills, ...workers.flatMap(exitsIn)];
  const restores = workers.flatMap(startedRestores);
  let replayed = 0;
  let unseen = 0;
  for (const r of restores) {
    const earlier = exits.filter((e) => e.partition === r.partition && e.time <= r.time);
    const before = [...earlier].sort((a, b) => b.time - a.time)[0];
    if (before === undefined) continue;
    // held events were consumed (seq covers them) but are counted only once admitted: those the
    // previous owner still held at its exit it never counted, so they are not a replay; those held
    // in the restored checkpoint the new owner counts, so they are one if the previous owner had
    const held = (before.held ?? 0) - (r.held ?? 0);
    // a process counts what goes beyond what it counted of the partition before (PipelineStatsExporter.rebase),
    // and someone had counted up to the furthest any owner got: with partitions abandoned and taken
    // back during a NATS outage, the previous owner alone is not the whole story (an owner that
    // restored an older checkpoint exits below where an earlier one got; a process taking back a
    // partition it ran before does not count again what it counted then)
    const countedUpTo = Math.max(...earlier.map((e) => e.seq));
    const ownUpTo = Math.max(r.seq, ...earlier.filter((e) => e.proc === r.proc).map((e) => e.seq));
    if (countedUpTo > ownUpTo && before.proc !== r.proc) replayed += Math.max(0, (await eventsBetween(nc, r.partition, ownUpTo, countedUpTo)) - held);
    else if (killed.has(before)) unseen += (await eventsBetween(nc, r.partition, before.seq, r.seq)) + held;
  }
  return { replayed, unseen };
}
