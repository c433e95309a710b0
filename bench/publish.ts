/**
 * Publishing throughput and the publisher's own CPU per event, against a nats-server started here
 * (loopback, its own storage): the same prediction events (one numeric feature, msgpack, 4
 * partitions, a window of `--in-flight` unacknowledged publishes) sent
 *   (a) raw: core NATS publishes of the same payloads to the same subjects, no ack (the stream
 *       stores them; the transport's and the server's limit, measured in the same run);
 *   (b) DriftPublisher, acks on one wildcard subscription (what `src/client` ships), with and
 *       without `Nats-Msg-Id` deduplication;
 *   (c) the NATS JetStream client's `publish()` per event (one request each, as DriftPublisher did
 *       before), on a connection with the client's default async traces and with `noAsyncTraces`.
 * Each line: events/s over the whole run (every ack in), the publisher's CPU µs per event
 * (process.cpuUsage: this process only; the server's CPU is not in it), and the ratio to (a).
 * Best of `--rounds` rounds, the variants interleaved round by round.
 *
 *   npm run bench -- publish [--count 60000] [--rounds 3] [--in-flight 4096]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { startNatsServer } from '../test/helpers/nats-server.ts';
import { provision } from '../src/cluster/provision.ts';
import { predictionSubject } from '../src/cluster/subjects.ts';
import { EventEncoder } from '../src/events/encode.ts';
import { partitionOf } from '../src/partition/hash.ts';
import { DriftPublisher } from '../src/client/index.ts';
import { predictionMsgId } from '../src/client/msg-id.ts';

const PARTITIONS = 4;

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '60000' },
    rounds: { type: 'string', default: '3' },
    'in-flight': { type: 'string', default: '4096' },
  },
});
const count = Number(args.count);
const rounds = Number(args.rounds);
const inFlight = Number(args['in-flight']);
for (const [name, value] of [['count', count], ['rounds', rounds], ['in-flight', inFlight]] as const) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`bench publish: --${name} must be a positive integer, got ${String(value)}`);
}

interface Figure {
  eventsPerSec: number;
  cpuUsPerEvent: number;
}

function event(round: number, i: number) {
  return { id: `r${round}-e${i}`, model: `m${i % 4}`, version: 'v1', ts: 1_764_547_200_000 + i, latencyMs: 20 + (i % 30), features: { x: i % 100 }, output: 0.5 };
}

async function timed(run: () => Promise<void>): Promise<Figure> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await run();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { eventsPerSec: count / seconds, cpuUsPerEvent: (cpu.user + cpu.system) / count };
}

/** (a) core publishes, flushed: the server has read (and stored) every one when flush resolves. */
async function raw(nc: NatsConnection, round: number): Promise<Figure> {
  const encoder = new EventEncoder();
  return timed(async () => {
    for (let i = 0; i < count; i++) {
      const e = event(round, i);
      nc.publish(predictionSubject(partitionOf(e.id, PARTITIONS), e.model), encoder.encodePrediction(e));
      if (i % inFlight === inFlight - 1) await nc.flush();
    }
    await nc.flush();
  });
}

/** (b) DriftPublisher. */
async function driftPublisher(nc: NatsConnection, round: number, deduplicate: boolean): Promise<Figure> {
  const publisher = await DriftPublisher.connect(nc, { partitions: PARTITIONS, maxInFlight: inFlight, deduplicate });
  const figure = await timed(async () => {
    for (let i = 0; i < count; i++) await publisher.publishPrediction(event(round, i));
    await publisher.flush();
  });
  await publisher.close();
  return figure;
}

/** (c) one JetStream client publish() (a request) per event, `inFlight` outstanding at most. */
async function libraryPublish(nc: NatsConnection, round: number): Promise<Figure> {
  const js = jetstream(nc);
  const encoder = new EventEncoder();
  return timed(async () => {
    const pending: Array<Promise<unknown>> = [];
    for (let i = 0; i < count; i++) {
      const e = event(round, i);
      pending.push(js.publish(predictionSubject(partitionOf(e.id, PARTITIONS), e.model), encoder.encodePrediction(e), { msgID: predictionMsgId(e.model, e.id) }));
      if (pending.length >= inFlight) await Promise.all(pending.splice(0, pending.length));
    }
    await Promise.all(pending);
  });
}

async function main(): Promise<void> {
  console.log(`publish bench: ${count.toLocaleString('en')} predictions per variant and round, ${rounds} rounds, window ${inFlight}, ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(2)}`);
  const server = await startNatsServer();
  const fast = await connect({ servers: server.url, noAsyncTraces: true });
  const traced = await connect({ servers: server.url });
  try {
    await provision(fast, { partitions: PARTITIONS });
    const variants: Array<[string, (round: number) => Promise<Figure>]> = [
      ['(a) raw core publish, no ack', (r) => raw(fast, r)],
      ['(b) DriftPublisher, Nats-Msg-Id', (r) => driftPublisher(fast, r, true)],
      ['(b) DriftPublisher, no Nats-Msg-Id', (r) => driftPublisher(fast, r, false)],
      ['(c) js.publish per event, noAsyncTraces', (r) => libraryPublish(fast, r)],
      ['(c) js.publish per event, default traces', (r) => libraryPublish(traced, r)],
    ];
    const best = new Map<string, Figure>();
    for (let round = 0; round < rounds; round++) {
      for (const [name, run] of variants) {
        const f = await run(round * variants.length + variants.findIndex(([n]) => n === name));
        const b = best.get(name);
        if (b === undefined || f.eventsPerSec > b.eventsPerSec) best.set(name, f);
      }
    }
    const limit = best.get(variants[0][0])!.eventsPerSec;
    for (const [name] of variants) {
      const f = best.get(name)!;
      console.log(`${name.padEnd(42)}: ${Math.round(f.eventsPerSec).toLocaleString('en')} events/s, ${f.cpuUsPerEvent.toFixed(1)} µs CPU per event in the publisher; ${(f.eventsPerSec / limit).toFixed(2)} of raw`);
    }
    console.log(JSON.stringify({ bench: 'publish', count, rounds, inFlight, loadAverage: os.loadavg()[0], results: Object.fromEntries(best) }));
  } finally {
    await fast.close();
    await traced.close();
    await server.stop();
  }
}

await main();
