import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.ts';
import { natsOnThisMachine, startWorker, threadCount } from '../../src/app/worker.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { connect } from '@nats-io/transport-node';
import { provision } from '../../src/cluster/provision.ts';
import { availableParallelism } from 'node:os';
import { eventually, getJson, startPipeline } from '../helpers/pipeline.ts';

function config(threads: string) {
  return loadConfig({ env: { NATS_URL: 'nats://127.0.0.1:4222', DRIFTWATCH_WORKER_THREADS: threads } });
}

describe('natsOnThisMachine', () => {
  it.each([
    ['nats://127.0.0.1:4222', true],
    ['nats://localhost:4222', true],
    ['127.0.0.2:4222', true],
    ['tls://[::1]:4222', true],
    ['nats://127.0.0.1:4222, nats://localhost:4223', true],
    ['nats://nats1:4222', false],
    ['nats://10.0.0.5:4222', false],
    ['nats://127.0.0.1:4222,nats://nats2:4222', false],
    ['nats://127.example.com:4222', false],
    ['', false],
    ['nats://[bad', false],
    ['not a url', false],
  ])('%j: %s (every server a loopback address or localhost)', (url, local) => {
    expect(natsOnThisMachine(url)).toBe(local);
  });
});

describe('threadCount', () => {
  // [worker.threads, partitions owned, NATS on this machine, cores, main thread busy (npm start), threads]
  it.each<[string, number, boolean, number, boolean, number]>([
    // 'auto': one thread per core, less one core for a NATS server on this machine
    ['auto', 16, false, 8, false, 8],
    ['auto', 16, true, 8, false, 7],
    ['auto', 16, false, 2, false, 2],
    // on 2 cores beside the server, one partition thread: the main thread, or a thread of its own
    // when a gateway runs on the main thread (npm start)
    ['auto', 16, true, 2, false, 0],
    ['auto', 16, true, 2, true, 1],
    ['auto', 16, true, 1, true, 1],
    ['auto', 16, true, 8, true, 7],
    ['auto', 1, true, 8, true, 0],
    ['auto', 3, false, 8, false, 3],
    ['auto', 1, false, 8, false, 0],
    // a number is taken as it is, at most one thread per partition, 0 or 1 on the main thread
    ['2', 16, true, 2, false, 2],
    ['4', 3, false, 8, false, 3],
    ['1', 16, false, 8, false, 0],
    ['0', 16, false, 8, false, 0],
    ['1', 16, true, 2, true, 0],
  ])('worker.threads %s, %i partitions, NATS here %s, %i cores, main thread busy %s: %i', (threads, owned, natsLocal, cores, mainThreadBusy, expected) => {
    expect(threadCount(config(threads), owned, natsLocal, cores, mainThreadBusy)).toBe(expected);
  });

  it('a worker started with auto beside its NATS server leaves that server a core', async () => {
    const server = await startNatsServer();
    const nc = await connect({ servers: server.url });
    try {
      await provision(nc, { partitions: 4 });
      const workerConfig = loadConfig({ env: { NATS_URL: server.url, LOG_LEVEL: 'silent', DRIFTWATCH_WORKER_THREADS: 'auto', DRIFTWATCH_WORKER_PORT: '0' }, overrides: { partitions: { count: 4 } } });
      const worker = await startWorker({ nc, connect: { url: server.url }, config: workerConfig, partitions: 4, logger: pino({ level: 'silent' }) });
      try {
        // one thread per core less the server's; one alone is the main thread (0)
        const left = Math.min(availableParallelism() - 1, 4);
        const expected = left > 1 ? left : 0;
        expect(worker.threads).toBe(expected);
        expect(worker.pool === null).toBe(expected === 0);
        expect(worker.owned().sort()).toEqual([0, 1, 2, 3]);
      } finally {
        await worker.stop();
      }
    } finally {
      await nc.close();
      await server.stop();
    }
  });

  it('npm start (a gateway on the main thread) runs its partitions on threads of their own, one core left to the embedded server, and counts every event', async () => {
    const pipeline = await startPipeline({ partitions: { count: 4 } });
    try {
      const { app } = pipeline;
      expect(app.worker.threads).toBe(Math.max(1, Math.min(availableParallelism() - 1, 4)));
      expect(app.worker.pool).not.toBeNull();
      const now = Date.now();
      for (let i = 0; i < 40; i++) await pipeline.publisher.publishPrediction({ id: `tc${i}`, model: 'threads', ts: now - 5000 + i * 10, output: 0.5 });
      await pipeline.publisher.flush();
      await eventually(async () => {
        const { status, body } = await getJson<{ count: number }>(`${pipeline.baseUrl}/v1/models/threads/metrics?window=1m`);
        return status === 200 && body.count === 40 ? true : undefined;
      }, 60_000, '40 predictions counted');
    } finally {
      await pipeline.stop();
    }
  });
});
