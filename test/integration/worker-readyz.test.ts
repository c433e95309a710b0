import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { eventually } from '../helpers/pipeline.ts';
import { provision } from '../../src/cluster/provision.ts';

/** `npm run worker` in a split deployment: its /readyz follows its partition consumers. */
describe('worker /readyz across a NATS restart', () => {
  let server: NatsServerHandle;
  let worker: ChildProcess | undefined;

  beforeAll(async () => {
    server = await startNatsServer();
    const nc = await connect({ servers: server.url });
    await provision(nc, { partitions: 2 });
    await nc.close();
  });

  afterAll(async () => {
    if (worker?.exitCode === null) worker.kill('SIGKILL');
    await server?.stop();
  });

  it('answers 200 while consuming, 503 while NATS is away, and 200 again once it is back', async () => {
    worker = spawn(process.execPath, ['--import', 'tsx', 'workers/worker.ts'], {
      env: { ...process.env, NATS_URL: server.url, DRIFTWATCH_WORKER_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', LOG_FORMAT: 'json', DRIFTWATCH_WORKER_THREADS: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    worker.stdout?.on('data', (data: Buffer) => (output += data.toString()));
    const url = await eventually(() => /"url":"(http:[^"]+)".*"msg":"worker health and metrics endpoint"/.exec(output)?.[1], 60_000, 'the worker endpoint');
    const readyz = async () => (await fetch(`${url}/readyz`)).status;
    await eventually(async () => ((await readyz()) === 200 ? true : undefined), 20_000, 'worker ready');

    await server.kill('SIGKILL');
    await eventually(async () => ((await readyz()) === 503 ? true : undefined), 20_000, 'worker /readyz 503 while NATS is away');
    const body = (await (await fetch(`${url}/readyz`)).json()) as { status: string; message: string };
    expect(body.status).toBe('not_ready');
    expect(body.message).toMatch(/partition consumer is not live/);

    await server.restart();
    await eventually(async () => ((await readyz()) === 200 ? true : undefined), 30_000, 'worker ready again');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  }, 120_000);
});

describe('worker endpoints with a token', () => {
  it('/metrics and /readyz require the token; /healthz stays open for liveness probes', async () => {
    const server = await startNatsServer();
    const nc = await connect({ servers: server.url });
    await provision(nc, { partitions: 2 });
    await nc.close();
    const worker = spawn(process.execPath, ['--import', 'tsx', 'workers/worker.ts'], {
      env: { ...process.env, NATS_URL: server.url, DRIFTWATCH_WORKER_PORT: '0', DRIFTWATCH_TOKEN: 's3cret', LOG_FORMAT: 'json', DRIFTWATCH_WORKER_THREADS: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let output = '';
      worker.stdout?.on('data', (data: Buffer) => (output += data.toString()));
      const url = await eventually(() => /"url":"(http:[^"]+)".*"msg":"worker health and metrics endpoint"/.exec(output)?.[1], 60_000, 'the worker endpoint');
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const refused = await fetch(`${url}/metrics`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await fetch(`${url}/readyz`)).status).toBe(401);
      const metrics = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer s3cret' } });
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/drift_events_consumed_total/);
      expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    } finally {
      worker.kill('SIGKILL');
      await server.stop();
    }
  }, 90_000);
});
