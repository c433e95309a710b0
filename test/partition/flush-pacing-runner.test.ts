/**
 * Flush pacing on a real runner and nats-server: a partition with one changed model publishes its
 * pane several times a second (an alert's latency is mostly the wait for the next flush), one with
 * many changed models stays near one flush per panes.flushIntervalMs (every gateway decodes every
 * pane message); one whose pane gains an event now and then waits up to panes.sparseHoldMs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { provision } from '../../src/cluster/provision.ts';
import { PartitionRunner } from '../../src/partition/runner.ts';
import { encodePrediction } from '../../src/events/encode.ts';
import { processorOptions } from '../contract/pane-stream.ts';

const { partition: _p, ...processor } = processorOptions;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('flush pacing (real nats-server)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  const runners: PartitionRunner[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await provision(nc, { partitions: 3 });
  });
  afterAll(async () => {
    for (const r of runners) await r.abandon().catch(() => undefined);
    await nc?.close();
    await server?.stop();
  });

  /** Publishes to `models` models of `partition` for `ms`, every `everyMs`; returns the pane messages the runner sent meanwhile. */
  async function paneMessagesWhilePublishing(partition: number, models: number, ms: number, everyMs = 50, sparseHold?: { maxMs: number; events: number }): Promise<number> {
    const runner = new PartitionRunner({
      nc,
      processor: { ...processor, maxModels: 100, now: Date.now },
      partition,
      flushIntervalMs: 1000,
      flushPacing: { minIntervalMs: 250, messagesPerSecond: 8 },
      sparseHold,
      checkpointIntervalMs: 3_600_000,
      logger: pino({ level: 'silent' }),
    });
    runners.push(runner);
    await runner.start();
    const js = jetstream(nc);
    const before = runner.stats().paneFlushes;
    const end = Date.now() + ms;
    for (let i = 0; Date.now() < end; i++) {
      await Promise.all(
        Array.from({ length: models }, (_, m) =>
          js.publish(`drift.in.${partition}.m${m}.pred`, encodePrediction({ id: `p${partition}-${m}-${i}`, model: `m${m}`, version: 'v1', ts: Date.now(), output: 0.5 })),
        ),
      );
      await sleep(everyMs);
    }
    return runner.stats().paneFlushes - before;
  }

  it('one changed model: its pane is published about every 250 ms, not once a second', async () => {
    const sent = await paneMessagesWhilePublishing(0, 1, 4_000);
    // 16 at 250 ms; a fixed 1 s interval sends at most 5 (a loaded machine delays timers, never adds flushes)
    expect(sent).toBeGreaterThanOrEqual(8);
  }, 30_000);

  it('40 changed models: about one flush a second, within the message budget', async () => {
    const sent = await paneMessagesWhilePublishing(1, 40, 4_000);
    // 40 dirty panes / 8 per s: the interval stays at 1 s; at 250 ms it would be 16 × 40 = 640
    expect(sent).toBeGreaterThanOrEqual(40);
    expect(sent).toBeLessThanOrEqual(40 * 6);
  }, 30_000);

  it('one model at two events a second with a 2 s hold: its pane waits for the hold, not 250 ms per change', async () => {
    const sent = await paneMessagesWhilePublishing(2, 1, 5_000, 500, { maxMs: 2000, events: 8 });
    // its first state at once, then one every 2 s (at most one more where a pane rolls over):
    // without the hold each of its 10 events goes out 250 ms after it
    expect(sent).toBeGreaterThanOrEqual(2);
    expect(sent).toBeLessThanOrEqual(6);
  }, 30_000);
});
