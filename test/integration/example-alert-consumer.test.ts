/** The example alert consumer in examples/ runs as documented against a local nats-server. */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.ts';
import { provision } from '../../src/cluster/provision.ts';
import { natsAlertPublisher } from '../../src/alerts/publisher.ts';
import type { AlertEvent } from '../../src/contract/metrics.ts';

function transition(model: string, state: AlertEvent['state'], extra: Partial<AlertEvent> = {}): AlertEvent {
  return { id: `${model}:errors:model:1000:${state}`, model, rule: 'errors', scope: 'model', state, severity: 'critical', value: 0.4, threshold: 0.05, window: '1m', startsAt: 1000, at: 2000, message: `${state} ${model}`, ...extra };
}

describe('examples/alert-consumer.ts', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await provision(nc, { partitions: 1 });
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('prints each transition once, with whether to page (not for a silenced one), and exits after ALERT_MAX', async () => {
    const publish = natsAlertPublisher(nc);
    await publish(transition('fraud', 'firing'));
    await publish(transition('fraud', 'firing')); // a replica's copy: dropped by its Nats-Msg-Id
    await publish(transition('churn', 'firing', { silenced: true, silencedBy: ['s1'] }));
    await publish(transition('fraud', 'resolved'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/alert-consumer.ts'], {
      env: { ...process.env, NATS_URL: server.url, ALERT_REPLAY: '1', ALERT_MAX: '3', ALERT_CONSUMER: 'example-test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; page: boolean; silenced: boolean });
    expect(lines.map((l) => [l.id, l.page, l.silenced])).toEqual([
      ['fraud:errors:model:1000:firing', true, false],
      ['churn:errors:model:1000:firing', false, true],
      ['fraud:errors:model:1000:resolved', false, false],
    ]);
  }, 60_000);
});
