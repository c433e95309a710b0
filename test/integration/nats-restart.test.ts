import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, getJson, eventually } from '../helpers/pipeline.ts';
import type { Pipeline } from '../helpers/pipeline.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';
import { DriftPublisher } from '../../src/client/index.ts';

describe('NATS restart', () => {
  let pipeline: Pipeline;
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 300_000;

  beforeAll(async () => {
    pipeline = await startPipeline({ partitions: { count: 2 }, reference: { autoCaptureMs: 0 } });
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  async function publish(from: number, to: number): Promise<void> {
    for (let i = from; i < to; i++) {
      await pipeline.publisher.publishPrediction({ id: `n${i}`, model: 'eta', ts: T0 + i * 100, output: i % 50, latencyMs: 5 });
      await pipeline.publisher.publishLabel({ id: `n${i}`, model: 'eta', ts: T0 + i * 100 + 100, label: (i % 50) + 1 });
    }
    await pipeline.publisher.flush();
  }

  async function counted(n: number): Promise<ModelMetrics> {
    return eventually(async () => {
      const { status, body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/eta/metrics?window=1h`);
      return status === 200 && body.count === n && body.labels.joined === n ? body : undefined;
    }, 60_000, `${n} predictions joined`);
  }

  it('workers and gateways resume after the server restarts, counting every event once', async () => {
    await publish(0, 500);
    await counted(500);
    await pipeline.server.restart();
    await publish(500, 1000);
    const after = await counted(1000);
    expect(after.quality.mae).toBeCloseTo(1, 12);
    expect(after.quality.rmse).toBeCloseTo(1, 12);
  });
});

describe('NATS restart under load', () => {
  let pipeline: Pipeline;
  let publisher: DriftPublisher;
  const RATE = 2000; // predictions per second
  const TOTAL = 24_000; // 12 s of load
  const T0 = Date.now() - 1_800_000;

  beforeAll(async () => {
    pipeline = await startPipeline({ partitions: { count: 2 }, reference: { autoCaptureMs: 0 } });
    // ids deduplicated by the stream and publishes retried through the outage: every event is
    // stored exactly once, so the final figures must be exact
    publisher = await DriftPublisher.connect(pipeline.nc, { maxInFlight: 256, deduplicate: true, retryForMs: 60_000 });
  });

  afterAll(async () => {
    await publisher?.close().catch(() => undefined);
    await pipeline?.stop();
  });

  /** Publishes TOTAL predictions paced at RATE per second (catching up after a stall). */
  async function load(): Promise<void> {
    const start = Date.now();
    for (let i = 0; i < TOTAL; i++) {
      if (i % 100 === 0) {
        const due = start + (i / RATE) * 1000;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      }
      await publisher.publishPrediction({ id: `load${i}`, model: 'load', ts: T0 + i * 10, output: i % 7, latencyMs: 3 });
    }
    await publisher.flush();
  }

  const applied = () => pipeline.app.worker.stats().reduce((sum, s) => sum + s.seq, 0);
  const restCount = async () => {
    const { status, body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/load/metrics?window=1h`);
    return status === 200 ? body.count : 0;
  };
  const readyz = async () => (await fetch(`${pipeline.baseUrl}/readyz`)).status;
  /** Values of one pipeline series in /metrics, in order of appearance. */
  const series = async (name: string) => {
    const text = await (await fetch(`${pipeline.baseUrl}/metrics`)).text();
    return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].map((m) => Number(m[1]));
  };

  /** Polls until `value()` exceeds `before`; resolves with the milliseconds it took. */
  async function advancedBeyond(value: () => number | Promise<number>, before: number, what: string): Promise<number> {
    const since = Date.now();
    await eventually(async () => ((await value()) > before ? true : undefined), 30_000, what);
    return Date.now() - since;
  }

  it('resumes consuming within seconds of the server coming back, says not ready meanwhile, and counts every event once', async () => {
    const publishing = load();
    // awaited below; if the test fails first, the publisher is closed under it: not an unhandled error
    publishing.catch(() => undefined);
    await eventually(async () => ((await restCount()) > 4000 ? true : undefined), 30_000, 'load flowing to the gateway');
    expect(await readyz()).toBe(200);

    await pipeline.server.kill('SIGKILL');
    const down = Date.now();
    await eventually(async () => ((await readyz()) === 503 ? true : undefined), 10_000, '/readyz 503 during the outage');
    await eventually(() => (pipeline.app.worker.ready() ? undefined : true), 10_000, 'the worker not ready during the outage');
    await eventually(async () => ((await series('drift_consumer_live')).join() === '0,0' ? true : undefined), 10_000, 'drift_consumer_live 0 during the outage');
    const appliedDuringOutage = applied();
    const countDuringOutage = await restCount();
    await new Promise((r) => setTimeout(r, Math.max(0, 3000 - (Date.now() - down))));
    expect(await readyz()).toBe(503);

    await pipeline.server.restart();
    const back = Date.now();
    const [workerMs, gatewayMs] = await Promise.all([
      advancedBeyond(applied, appliedDuringOutage, 'the worker consuming again'),
      advancedBeyond(restCount, countDuringOutage, 'the gateway figures moving again'),
    ]);
    await eventually(async () => ((await readyz()) === 200 ? true : undefined), 30_000, '/readyz 200 again');
    const readyMs = Date.now() - back;
    console.log(`NATS restart under ${RATE}/s: worker consumed again ${workerMs} ms, gateway figures moved ${gatewayMs} ms, /readyz 200 ${readyMs} ms after the server was back`);
    // 5 s is the target on a quiet machine; the bound leaves room for a loaded CI box while
    // still failing the 40-77 s freezes this replaced
    expect(workerMs).toBeLessThan(10_000);
    expect(gatewayMs).toBeLessThan(10_000);
    expect(readyMs).toBeLessThan(10_000);
    // ready again (on a loaded machine a consumer may be recreated once more right after /readyz said 200)
    await eventually(() => (pipeline.app.worker.ready() ? true : undefined), 10_000, 'the worker ready after');
    await eventually(async () => ((await series('drift_consumer_live')).join() === '1,1' ? true : undefined), 10_000, 'drift_consumer_live 1 after');
    expect((await series('drift_consumer_recreations_total'))[0]).toBeGreaterThanOrEqual(2);

    await publishing;
    await eventually(async () => ((await restCount()) === TOTAL ? true : undefined), 60_000, `all ${TOTAL} predictions counted`);
    // no traffic any more: the lag gauge is refreshed from the consumers all the same and reads 0
    await eventually(async () => ((await series('drift_consumer_lag')).join() === '0,0' ? true : undefined), 20_000, 'drift_consumer_lag 0 on both partitions');
    expect(await restCount()).toBe(TOTAL);
  });
});
