import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { localRunners } from '../../src/app/worker.ts';
import type { LocalRunner } from '../../src/app/worker.ts';
import { PartitionRunner } from '../../src/partition/runner.ts';
import { provision } from '../../src/cluster/provision.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { mixedStream, processorOptions } from '../contract/pane-stream.ts';

/**
 * A runner whose start ends when the test says so, and which, like PartitionRunner, fails its start
 * when it was abandoned meanwhile.
 */
class FakeRunner implements LocalRunner {
  state: 'starting' | 'running' | 'stopped' | 'abandoned' = 'starting';
  private finish: (() => void) | null = null;
  private readonly started = new Promise<void>((resolve) => (this.finish = resolve));

  constructor(readonly name: string) {}

  async start(): Promise<void> {
    await this.started;
    if (this.state === 'abandoned') throw new Error(`${this.name} was abandoned while starting`);
    this.state = 'running';
  }

  /** Lets the start complete (a checkpoint restore and a consumer creation that took this long). */
  completeStart(): void {
    this.finish?.();
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
  }

  async abandon(): Promise<void> {
    this.state = 'abandoned';
  }
}

function fakeRunners() {
  const made: FakeRunner[] = [];
  const local = localRunners((partition) => {
    const runner = new FakeRunner(`runner ${made.length + 1} of partition ${partition}`);
    made.push(runner);
    return runner;
  });
  return { local, made };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('partitions run on this thread (localRunners)', () => {
  it('a partition abandoned while starting and started again runs the second runner, even when the first start ends last', async () => {
    // issue 11's defect: a NATS restart failed the renewals while partition 15 was starting; the
    // lease was taken again at once, the first start ended after the second, and the partition
    // stayed leased with no runner consuming it
    const { local, made } = fakeRunners();
    const first = local.start(15, { worker: 'w1', epoch: 7 }, Date.now() + 6_000);
    first.catch(() => undefined);
    await settle();
    expect(await local.stop(15, true)).toBeNull(); // nothing had started yet
    const second = local.start(15, { worker: 'w1', epoch: 9 }, Date.now() + 6_000);
    await settle();
    made[1].completeStart();
    await expect(second).resolves.toBe(made[1]);
    made[0].completeStart();
    await expect(first).rejects.toThrow(/abandoned while starting/);
    expect(made.map((r) => r.state)).toEqual(['abandoned', 'running']);
    expect([...local.running]).toEqual([[15, made[1]]]);
    // and the next stop of partition 15 stops the runner that consumes it
    expect(await local.stop(15, false)).toBe(made[1]);
    expect(made[1].state).toBe('stopped');
    expect(local.running.size).toBe(0);
  });

  it('refuses a second start of a partition that runs or starts, rather than running two runners of it', async () => {
    const { local, made } = fakeRunners();
    const first = local.start(3, undefined, Date.now() + 6_000);
    await expect(local.start(3, undefined, Date.now() + 6_000)).rejects.toThrow('partition 3 already runs or starts here');
    made[0].completeStart();
    await first;
    await expect(local.start(3, undefined, Date.now() + 6_000)).rejects.toThrow('partition 3 already runs or starts here');
    expect(made).toHaveLength(1);
  });
});

describe('a real partition runner stopped while it starts (real nats-server)', () => {
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

  it('fails its start, and the partition started again right after consumes its whole stream', async () => {
    const { partition: _p, ...processor } = processorOptions;
    const local = localRunners(
      (partition, owner, leaseExpiresAt) =>
        new PartitionRunner({ nc, processor, partition, owner, leaseExpiresAt, flushIntervalMs: 3_600_000, checkpointIntervalMs: 3_600_000, logger: pino({ level: 'silent' }) }),
    );
    const stream = mixedStream(300);
    const js = jetstream(nc);
    for (const m of stream) await js.publish(m.subject, m.data);
    const first = local.start(0, { worker: 'w1', epoch: 3 }, Date.now() + 60_000);
    first.catch(() => undefined);
    // the lease is lost while the checkpoint is being read
    expect(await local.stop(0, true)).toBeNull();
    await expect(first).rejects.toThrow('partition 0 was abandoned while starting');
    expect(local.running.size).toBe(0);
    const second = await local.start(0, { worker: 'w1', epoch: 5 }, Date.now() + 60_000);
    const deadline = Date.now() + 30_000;
    while (second.processor.seq < stream.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(second.processor.seq).toBe(stream.length);
    expect([...local.running.keys()]).toEqual([0]);
    await local.stop(0, true);
  }, 60_000);
});
