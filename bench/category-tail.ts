/**
 * What a worker keeps of the socket reads its events came in, when a categorical feature has a long
 * tail (merchant ids, zip codes, product ids: values keep appearing that were never seen before):
 *
 *   npm run bench -- category-tail [--count 400000] [--tail-every 100,400]
 *
 * The production worker (startWorker, 4 partitions on the main thread, as `worker.threads` auto
 * runs them beside a nats-server on this machine) reads `count` predictions from a nats-server of
 * its own, loaded before it starts (so its socket reads are full, 64 KB, as in a catch-up or at a
 * high rate). Each prediction has a numeric feature, `country` (3 values) and `merchant`: one of 5
 * values, except one prediction in `tail-every` whose merchant was never seen before. Once every
 * prediction is applied, with the partitions still running, the process's array buffers (the
 * socket reads, the join table, the panes) are read after a full collection, against what they
 * were before the worker started. The raw limit, measured in the same run: the same pass with no
 * tail (every merchant one of the 5), which holds what the worker needs (the pending joins, the
 * panes); the ratio says how much more a tail makes it keep. Until 2026-12-06 a reader's cache of
 * short strings kept a view of the read each new value came in (src/contract/bytes.ts): x2.14 at
 * one new value in 400 predictions, x3.83 at one in 100. One JSON line at the end.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { startNatsServer } from '../test/helpers/nats-server.ts';
import { provision } from '../src/cluster/provision.ts';
import { DriftPublisher } from '../src/client/index.ts';
import { loadConfig } from '../src/config/load.ts';
import { startWorker } from '../src/app/worker.ts';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

const PARTITIONS = 4;
const COMMON = ['NL', 'DE', 'FR', 'BE', 'US'];
/** The held figure is read this long after the last prediction was applied (flushes, a checkpoint). */
const SETTLE_MS = 3000;
/** No tail: every merchant one of COMMON. */
const NO_TAIL = 0;

interface Pass {
  tailEvery: number;
  seconds: number;
  heldMb: number;
  rssMb: number;
}

function positiveList(flag: string, raw: string): number[] {
  const list = raw.split(',').map(Number);
  if (list.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`bench category-tail: ${flag} needs positive integers separated by commas, got '${raw}'`);
  return list;
}

function fullCollection(): NodeJS.MemoryUsage {
  collect();
  collect();
  return process.memoryUsage();
}

async function pass(count: number, tailEvery: number): Promise<Pass> {
  const server = await startNatsServer();
  const nc = await connect({ servers: server.url, noAsyncTraces: true });
  try {
    await provision(nc, { partitions: PARTITIONS });
    const publisher = await DriftPublisher.connect(nc, { maxInFlight: 4096 });
    const start = Date.now() - 60_000;
    for (let i = 0; i < count; i++) {
      const merchant = tailEvery !== NO_TAIL && i % tailEvery === 0 ? `m-${i / tailEvery}` : COMMON[i % COMMON.length];
      await publisher.publishPrediction({
        id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        model: 'fraud',
        version: 'v2',
        ts: start + Math.floor(i / 20),
        output: (i % 100) / 100,
        latencyMs: i % 40,
        features: { amount: (i * 7919) % 1000, merchant, country: COMMON[i % 3] },
      });
    }
    await publisher.flush();
    const before = fullCollection();
    const config = loadConfig({ env: { NATS_URL: server.url, LOG_LEVEL: 'warn' }, overrides: { partitions: { count: PARTITIONS }, panes: { allowedLatenessMs: 600_000 }, worker: { threads: 0 } } });
    const worker = await startWorker({ nc, connect: { url: server.url }, config, partitions: PARTITIONS, logger: pino({ level: 'warn' }), statsIntervalMs: 50 });
    const started = Date.now();
    try {
      while (worker.stats().reduce((sum, s) => sum + s.predictions, 0) < count) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        if (Date.now() - started > 600_000) throw new Error(`bench category-tail: the worker stalled before applying ${count} predictions`);
      }
      const seconds = (Date.now() - started) / 1000;
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const after = fullCollection();
      return { tailEvery, seconds, heldMb: (after.arrayBuffers - before.arrayBuffers) / 1e6, rssMb: after.rss / 1e6 };
    } finally {
      await worker.stop();
    }
  } finally {
    await nc.close();
    await server.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { count: { type: 'string', default: '400000' }, 'tail-every': { type: 'string', default: '100,400' } } });
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1) throw new Error(`bench category-tail: --count needs a positive integer, got '${values.count}'`);
  const tails = positiveList('--tail-every', values['tail-every'] as string);
  console.log(`category-tail bench: ${count.toLocaleString()} predictions read by the production worker (${PARTITIONS} partitions on the main thread) from a loaded stream; array buffers held after a full collection, the partitions running`);
  const raw = await pass(count, NO_TAIL);
  console.log(`  no tail (the raw limit: what the worker needs):   ${raw.heldMb.toFixed(1)} MB held, RSS ${raw.rssMb.toFixed(0)} MB, read in ${raw.seconds.toFixed(1)} s`);
  const tailed: Pass[] = [];
  for (const tailEvery of tails) {
    const figures = await pass(count, tailEvery);
    tailed.push(figures);
    console.log(
      `  a new merchant every ${String(tailEvery).padStart(5)} predictions: ${figures.heldMb.toFixed(1)} MB held (x${(figures.heldMb / raw.heldMb).toFixed(2)} of no tail), RSS ${figures.rssMb.toFixed(0)} MB, read in ${figures.seconds.toFixed(1)} s`,
    );
  }
  const round = (x: number): number => Math.round(x * 10) / 10;
  console.log(
    JSON.stringify({
      name: 'category-tail',
      count,
      partitions: PARTITIONS,
      rawHeldMb: round(raw.heldMb),
      tails: tailed.map((t) => ({ tailEvery: t.tailEvery, heldMb: round(t.heldMb), ratio: Math.round((t.heldMb / raw.heldMb) * 100) / 100, rssMb: Math.round(t.rssMb) })),
    }),
  );
}

await main();
