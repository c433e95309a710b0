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

/** Where a killed worker left a partition: its last applied sequence and held events, from its last scrape before the kill -9. */
export interface PartitionKill {
  partition: number;
  seq: number;
  time: number;
  /** Events consumed up to `seq` but held for their models' admission, so not counted by that owner. */
  held: number;
  /** The killed worker's process. */
  proc: Proc;
}

/**
 * One partition's run in one process, from its start under lease to its stop or abandon (or the
 * kill, or still running). It counts the events in (from, to]: a process counts a partition's
 * stream only beyond the highest it counted of it before (PipelineStatsExporter.rebase), so `from`
 * is the restored checkpoint's sequence or, above it, where this process had got to itself.
 */
interface PartitionRun {
  partition: number;
  proc: Proc;
  /** When its checkpoint was restored (or it started, without one). */
  time: number;
  restoredSeq: number;
  from: number;
  to: number;
  /** Events held in the restored checkpoint (counted by this run once admitted) and at its end (not counted by it). */
  restoredHeld: number;
  endHeld: number;
}

/** The runs of one worker's partitions, from its log; runs still open end at `open` (a kill's last scrape, or the stream's end). */
function runsIn(proc: Proc, open: (partition: number) => { seq: number; held: number }): PartitionRun[] {
  const runs: PartitionRun[] = [];
  const restored = new Map<number, { seq: number; held: number; time: number }>();
  const running = new Map<number, PartitionRun>();
  const highest = new Map<number, number>();
  for (const l of proc.lines) {
    const partition = Number(l.partition);
    if (l.msg === 'restored partition checkpoint') restored.set(partition, { seq: Number(l.seq), held: Number(l.held ?? 0), time: Number(l.time) });
    // a start abandoned after its restore (its lease lost meanwhile, or its deadline passed) counted nothing
    else if (l.msg === 'partition start abandoned') restored.delete(partition);
    else if (l.msg === 'partition started under lease') {
      const from = restored.get(partition) ?? { seq: 0, held: 0, time: Number(l.time) };
      restored.delete(partition);
      const run: PartitionRun = {
        partition,
        proc,
        time: from.time,
        restoredSeq: from.seq,
        from: Math.max(from.seq, highest.get(partition) ?? 0),
        to: Infinity,
        restoredHeld: from.held,
        endHeld: 0,
      };
      highest.set(partition, run.from);
      running.set(partition, run);
      runs.push(run);
    } else if ((l.msg === 'partition stopped' || l.msg === 'partition abandoned') && running.has(partition)) {
      const run = running.get(partition)!;
      running.delete(partition);
      run.to = Number(l.seq);
      run.endHeld = Number(l.held ?? 0);
      highest.set(partition, Math.max(highest.get(partition) ?? 0, run.to));
    }
  }
  for (const run of running.values()) {
    const end = open(run.partition);
    run.to = end.seq;
    run.endHeld = end.held;
  }
  return runs;
}

/** Events of one partition with a stream sequence in (afterSeq, uptoSeq] (uptoSeq Infinity: to the stream's end). */
async function eventsIn(nc: NatsConnection, partition: number, afterSeq: number, uptoSeq: number): Promise<number> {
  if (uptoSeq <= afterSeq) return 0;
  return (await pendingAfter(nc, partition, afterSeq)) - (uptoSeq === Infinity ? 0 : await pendingAfter(nc, partition, uptoSeq));
}

/**
 * Replay accounting over every run of every partition (see PartitionRun), so that Σ consumed −
 * replayed is what the workers consumed at least once:
 * - replayed: Σ over runs of what each counted, less the events in the union of the runs' ranges
 *   (each counted once); an event two owners count (an older checkpoint restored after a kill, or a
 *   partition abandoned and taken back during a NATS outage) is a replay;
 * - unseen: what the killed worker counted after its counter was last read, the events between its
 *   last scrape and the newer checkpoint the partition's next owner restored (its checkpoint says it
 *   consumed them).
 * Held events (consumed, so within a run's range, but counted once their model is admitted) are
 * counted by the run that admits them: not by one that ends holding them, by one that restores them.
 */
export async function replayedEvents(nc: NatsConnection, workers: readonly Proc[], kills: readonly PartitionKill[]): Promise<{ replayed: number; unseen: number; details: string[] }> {
  const runs = workers.flatMap((proc) => {
    const killed = kills.filter((k) => k.proc === proc);
    return runsIn(proc, (partition) => {
      const kill = killed.find((k) => k.partition === partition);
      if (kill !== undefined) return { seq: kill.seq, held: kill.held };
      // a run the killed worker started after its last scrape: nothing of it was read
      return { seq: killed.length > 0 ? 0 : Infinity, held: 0 };
    });
  });
  let unseen = 0;
  const details: string[] = [];
  const who = (proc: Proc) => `#${workers.indexOf(proc) + 1}`;
  for (const kill of kills) {
    const next = runs.filter((r) => r.partition === kill.partition && r.time >= kill.time).sort((a, b) => a.time - b.time)[0];
    const run = runs.find((r) => r.proc === kill.proc && r.partition === kill.partition && r.to === kill.seq);
    if (next === undefined || run === undefined || next.restoredSeq <= kill.seq) continue;
    // the killed worker ran up to the checkpoint it wrote after its last scrape
    const n = (await eventsIn(nc, kill.partition, kill.seq, next.restoredSeq)) + kill.held - next.restoredHeld;
    details.push(`p${kill.partition}: killed ${who(kill.proc)} counted ${n} after its last scrape (${kill.seq} -> ${next.restoredSeq})`);
    unseen += n;
    run.to = next.restoredSeq;
    run.endHeld = next.restoredHeld;
  }
  let counted = 0;
  let once = 0;
  for (const partition of [...new Set(runs.map((r) => r.partition))].sort((a, b) => a - b)) {
    const own = runs.filter((r) => r.partition === partition && r.to > r.from).sort((a, b) => a.from - b.from);
    for (const r of own) counted += (await eventsIn(nc, partition, r.from, r.to)) + (r.from === r.restoredSeq ? r.restoredHeld : 0) - r.endHeld;
    let union = 0;
    let at = -1;
    let end = -1;
    for (const r of [...own, null]) {
      if (r !== null && r.from <= end) {
        end = Math.max(end, r.to);
        continue;
      }
      if (end > at) union += await eventsIn(nc, partition, at, end);
      if (r !== null) [at, end] = [r.from, r.to];
    }
    once += union;
    details.push(`p${partition}: ${own.map((r) => `${who(r.proc)} (${r.restoredSeq}) ${r.from}-${r.to}`).join(', ')}`);
  }
  details.push(`counted ${counted}, once ${once}`);
  return { replayed: counted - once, unseen, details };
}
