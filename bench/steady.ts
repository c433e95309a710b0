/**
 * A steady run: does a worker's cost stay flat at a constant event rate once the label horizon is
 * reached (the join table stops growing), or does it keep growing with the pending joins?
 *
 *   npm run bench -- steady                               30 minutes, horizon 10 minutes
 *   npm run bench -- steady --minutes 3 --horizon 60s     quick mode
 *   options: --rate 1000 (predictions/s) --models 20 --features 20 --partitions 4 --sample-s 10
 *
 * One nats-server (own port and storage) and one worker process (in-process partitions, default
 * checkpoint interval). The publisher sends `rate` predictions/s spread over `models` models with
 * `features` features each (three quarters numeric, the rest categorical); half of them get a
 * label published half a horizon later, the other half expire unlabelled after the horizon. So the
 * pending joins grow for one horizon and then hold at about rate x horizon x 3/4.
 *
 * Every `sample-s` seconds it samples the worker's CPU (from /proc: user + system time over the
 * interval, % of one core) and RSS, and the worker's pending joins and checkpoint bytes from its
 * /metrics. It prints the curve and compares the slopes (per minute) of the samples after the
 * horizon: the first third against the last third. "levels off" means the last third's RSS slope
 * is under 10 MB/min or under a quarter of the first third's, and its CPU slope under 1 %/min.
 * The publisher runs in this process on the same machine: the figures are the worker's alone, but
 * the machine load (printed from os.loadavg) colours them. One JSON line at the end.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '../test/helpers/nats-server.ts';
import { endpointOf, exitWithin, metricsText, spawnEntry } from '../test/helpers/processes.ts';
import { provision } from '../src/cluster/provision.ts';
import { DriftPublisher } from '../src/client/index.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function durationMs(value: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value);
  if (m === null) throw new Error(`--${what}: expected a duration like 60s or 10m, got ${JSON.stringify(value)}`);
  const unit = m[2] ?? 'ms';
  return Number(m[1]) * (unit === 'h' ? 3_600_000 : unit === 'm' ? 60_000 : unit === 's' ? 1000 : 1);
}

function positive(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${what}: expected a positive number, got ${JSON.stringify(value)}`);
  return n;
}

/** utime + stime of a process in seconds, and its RSS in bytes (Linux /proc). */
function processUsage(pid: number): { cpuS: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11], fields[12]: utime, stime in clock ticks (fields counted from the state, field 3)
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssPages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
  return { cpuS: ticks / 100, rss: rssPages * 4096 };
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function sumOf(text: string, metric: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${metric}\\{[^}]*\\} ([0-9.e+]+)`, 'gm'))) sum += Number(m[1]);
  return sum;
}

interface Sample {
  minute: number;
  cpuPercent: number;
  rssMb: number;
  pending: number;
  checkpointMb: number;
  load1: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '30' },
      horizon: { type: 'string', default: '10m' },
      rate: { type: 'string', default: '1000' },
      models: { type: 'string', default: '20' },
      features: { type: 'string', default: '20' },
      partitions: { type: 'string', default: '4' },
      'sample-s': { type: 'string', default: '10' },
    },
  });
  const runMs = positive(values.minutes, 'minutes') * 60_000;
  const horizonMs = durationMs(values.horizon, 'horizon');
  const rate = positive(values.rate, 'rate');
  const models = Math.round(positive(values.models, 'models'));
  const features = Math.round(positive(values.features, 'features'));
  const partitions = Math.round(positive(values.partitions, 'partitions'));
  const sampleMs = positive(values['sample-s'], 'sample-s') * 1000;
  if (horizonMs >= runMs) throw new Error(`--horizon (${horizonMs} ms) must be shorter than the run (${runMs} ms) to be reached in it`);
  const labelDelayMs = horizonMs / 2;

  const server = await startNatsServer();
  const nc = await connect({ servers: server.url });
  const dir = mkdtempSync(join(os.tmpdir(), 'driftwatch-steady-'));
  let worker: ReturnType<typeof spawnEntry> | null = null;
  try {
    await provision(nc, { partitions });
    const configFile = join(dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        partitions: { count: partitions, owned: 'all' },
        join: { labelHorizonMs: horizonMs },
        limits: { maxFeatures: Math.max(64, features), maxModels: Math.max(100, models) },
      }),
    );
    const env: NodeJS.ProcessEnv = { ...process.env, NATS_URL: server.url, LOG_LEVEL: 'warn', DRIFTWATCH_CONFIG: configFile, DRIFTWATCH_WORKER_PORT: '0', DRIFTWATCH_WORKER_THREADS: '0' };
    for (const key of ['PORT', 'DRIFTWATCH_OWNED_PARTITIONS', 'DRIFTWATCH_WORKER_ID']) delete env[key];
    env.LOG_LEVEL = 'info';
    worker = spawnEntry('worker', env);
    const url = await endpointOf(worker, 120_000);
    const pid = worker.child.pid as number;

    const publisher = await DriftPublisher.connect(nc, { maxInFlight: 1024 });
    const numeric = Math.ceil((features * 3) / 4);
    const featuresOf = (i: number): Record<string, number | string> => {
      const out: Record<string, number | string> = {};
      for (let f = 0; f < features; f++) out[`f${f}`] = f < numeric ? Math.sin(i * (f + 1)) * 10 + f : `c${(i + f) % 7}`;
      return out;
    };
    const labels: Array<{ due: number; id: string; model: string; label: number }> = [];
    let published = 0;
    let labelsPublished = 0;
    const started = Date.now();
    const end = started + runMs;
    let stopping = false;
    // 100 ms ticks of rate/10 predictions; labels due are sent in the same tick
    let tick = 0;
    const publishing = (async () => {
      while (!stopping && Date.now() < end) {
        const now = Date.now();
        // at most 200 ms worth per tick, each tick's publications acknowledged before the next: a
        // starved publisher falls behind (the achieved rate is printed) instead of queueing
        // unacknowledged publications without bound
        const target = Math.min(Math.floor(((now - started) / 1000) * rate), published + Math.ceil(rate / 5));
        const batch: Array<Promise<unknown>> = [];
        while (published < target) {
          const i = published++;
          const model = `m${i % models}`;
          const id = `s${i}`;
          const output = (i % 100) / 100;
          batch.push(publisher.publishPrediction({ id, model, ts: now, output, latencyMs: i % 50, features: featuresOf(i) }));
          if (i % 2 === 0) labels.push({ due: now + labelDelayMs, id, model, label: i % 3 === 0 ? 1 : 0 });
        }
        while (labels.length > 0 && labels[0].due <= now && batch.length < rate) {
          const l = labels.shift()!;
          batch.push(publisher.publishLabel({ id: l.id, model: l.model, ts: now, label: l.label }));
          labelsPublished++;
        }
        await Promise.all(batch);
        tick++;
        await sleep(Math.max(0, 100 - (Date.now() - now)));
      }
      await publisher.flush();
    })();

    const samples: Sample[] = [];
    let last = processUsage(pid);
    let lastAt = Date.now();
    console.log(`steady run: ${values.minutes} min, horizon ${horizonMs / 1000} s (labels after ${labelDelayMs / 1000} s for half), ${rate} predictions/s, ${models} models x ${features} features, ${partitions} partitions, one worker; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)} at start`);
    console.log('minute  cpu%   rssMB  pending  checkpointMB  load1');
    // every sample lies inside the run: one taken after the publisher stopped would read an idle worker
    while (Date.now() + sampleMs <= end) {
      await sleep(sampleMs);
      const usage = processUsage(pid);
      const at = Date.now();
      const text = await metricsText(url).catch(() => '');
      const sample: Sample = {
        minute: (at - started) / 60_000,
        cpuPercent: ((usage.cpuS - last.cpuS) / ((at - lastAt) / 1000)) * 100,
        rssMb: usage.rss / 1e6,
        pending: sumOf(text, 'drift_pending_joins'),
        checkpointMb: sumOf(text, 'drift_checkpoint_bytes') / 1e6,
        load1: os.loadavg()[0],
      };
      samples.push(sample);
      last = usage;
      lastAt = at;
      console.log(`${sample.minute.toFixed(1).padStart(6)} ${sample.cpuPercent.toFixed(1).padStart(5)} ${sample.rssMb.toFixed(0).padStart(7)} ${String(sample.pending).padStart(8)} ${sample.checkpointMb.toFixed(2).padStart(13)} ${sample.load1.toFixed(1).padStart(6)}`);
    }
    stopping = true;
    await publishing;
    await publisher.close();

    // after the horizon plus one label delay the pending joins should hold steady
    const steadyFrom = (horizonMs + labelDelayMs) / 60_000;
    const after = samples.filter((s) => s.minute >= steadyFrom);
    const third = Math.max(2, Math.floor(after.length / 3));
    const first = after.slice(0, third);
    const lastThird = after.slice(-third);
    const slopes = (set: Sample[]) => ({
      cpuPerMin: slope(set.map((s) => s.minute), set.map((s) => s.cpuPercent)),
      rssMbPerMin: slope(set.map((s) => s.minute), set.map((s) => s.rssMb)),
    });
    const early = slopes(first);
    const late = slopes(lastThird);
    const levelsOff = after.length >= 4 && (late.rssMbPerMin < 10 || late.rssMbPerMin < early.rssMbPerMin / 4) && late.cpuPerMin < 1;
    const mean = (set: Sample[], key: 'cpuPercent' | 'rssMb') => set.reduce((a, s) => a + s[key], 0) / Math.max(1, set.length);
    console.log(
      `after the horizon (from minute ${steadyFrom.toFixed(1)}, ${after.length} samples): first third cpu ${mean(first, 'cpuPercent').toFixed(1)} % (slope ${early.cpuPerMin.toFixed(2)} %/min), rss ${mean(first, 'rssMb').toFixed(0)} MB (slope ${early.rssMbPerMin.toFixed(1)} MB/min); ` +
        `last third cpu ${mean(lastThird, 'cpuPercent').toFixed(1)} % (slope ${late.cpuPerMin.toFixed(2)} %/min), rss ${mean(lastThird, 'rssMb').toFixed(0)} MB (slope ${late.rssMbPerMin.toFixed(1)} MB/min): ${levelsOff ? 'levels off' : after.length < 4 ? 'too few samples after the horizon to tell' : 'still growing'}`,
    );
    console.log(`published ${published} predictions (${(published / (runMs / 1000)).toFixed(0)}/s of ${rate}/s asked) and ${labelsPublished} labels; ${tick} ticks; mean load ${(samples.reduce((a, s) => a + s.load1, 0) / Math.max(1, samples.length)).toFixed(1)} on ${os.cpus().length} cores (a loaded machine colours every figure)`);
    console.log(
      JSON.stringify({
        bench: 'steady',
        minutes: runMs / 60_000,
        horizonS: horizonMs / 1000,
        rate,
        models,
        features,
        partitions,
        levelsOff,
        first: { cpuPercent: +mean(first, 'cpuPercent').toFixed(1), rssMb: Math.round(mean(first, 'rssMb')), ...early },
        last: { cpuPercent: +mean(lastThird, 'cpuPercent').toFixed(1), rssMb: Math.round(mean(lastThird, 'rssMb')), ...late },
        samples: samples.map((s) => [+s.minute.toFixed(2), +s.cpuPercent.toFixed(1), Math.round(s.rssMb), s.pending, +s.checkpointMb.toFixed(2)]),
        meanLoad: +(samples.reduce((a, s) => a + s.load1, 0) / Math.max(1, samples.length)).toFixed(1),
      }),
    );
  } finally {
    if (worker !== null && worker.child.exitCode === null) {
      worker.child.kill('SIGTERM');
      await exitWithin(worker, 60_000, 'the worker').catch(() => worker?.child.kill('SIGKILL'));
    }
    await nc.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
