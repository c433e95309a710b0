/**
 * An alert consumer: a durable JetStream consumer on DRIFT_ALERTS that survives restarts, handles
 * each transition once (redeliveries are recognised by id), skips silenced ones for paging, and
 * acknowledges after handling. Run it against a local NATS where driftwatch runs:
 *
 *   NATS_URL=nats://127.0.0.1:4222 npx tsx examples/alert-consumer.ts
 *   # the embedded server of `npm start`: its URL is logged; user driftwatch, password in data/nats/credentials.json
 *   NATS_URL=... NATS_USER=driftwatch NATS_PASSWORD=$(node -p "require('./data/nats/credentials.json').driftwatch.password") npx tsx examples/alert-consumer.ts
 *
 * Options (environment): ALERT_FILTER (default drift.alert.>), ALERT_CONSUMER (durable name,
 * default example-consumer), ALERT_REPLAY=1 (start from the retained history instead of new
 * transitions), ALERT_MAX=n (exit after n transitions; for tests).
 */
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import type { AlertEvent } from '../src/contract/metrics.ts';

export interface ConsumeOptions {
  filter: string;
  durable: string;
  replay: boolean;
  /** Stop after this many distinct transitions (undefined: run until the connection closes). */
  max?: number;
}

/** Consumes transitions once each; returns how many were handled. */
export async function consumeAlerts(nc: NatsConnection, options: ConsumeOptions, handle: (alert: AlertEvent) => void): Promise<number> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add('DRIFT_ALERTS', {
    durable_name: options.durable,
    filter_subject: options.filter,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: options.replay ? DeliverPolicy.All : DeliverPolicy.New,
  });
  const consumer = await jetstream(nc).consumers.get('DRIFT_ALERTS', options.durable);
  // ids handled in the last 10 minutes: a redelivery (the ack was lost) is acknowledged, not handled again
  const handled = new Map<string, number>();
  let count = 0;
  const messages = await consumer.consume();
  for await (const msg of messages) {
    let alert: AlertEvent;
    try {
      alert = msg.json<AlertEvent>();
    } catch {
      msg.term(); // not a transition: never redeliver it
      continue;
    }
    if (!handled.has(alert.id)) {
      handle(alert);
      handled.set(alert.id, Date.now());
      count++;
    }
    msg.ack();
    for (const [id, at] of handled) if (Date.now() - at > 10 * 60_000) handled.delete(id);
    if (options.max !== undefined && count >= options.max) {
      messages.stop();
      break;
    }
  }
  return count;
}

async function main(): Promise<void> {
  const env = process.env;
  const nc = await connect({
    servers: env.NATS_URL ?? 'nats://127.0.0.1:4222',
    ...(env.NATS_USER ? { user: env.NATS_USER, pass: env.NATS_PASSWORD } : {}),
    name: 'driftwatch-example-alert-consumer',
  });
  const max = env.ALERT_MAX ? Number(env.ALERT_MAX) : undefined;
  await consumeAlerts(nc, { filter: env.ALERT_FILTER ?? 'drift.alert.>', durable: env.ALERT_CONSUMER ?? 'example-consumer', replay: env.ALERT_REPLAY === '1', max }, (alert) => {
    // page only for what nobody silenced; everything is still seen (and could be logged or ticketed)
    const page = alert.state === 'firing' && alert.severity === 'critical' && alert.silenced !== true;
    console.log(
      JSON.stringify({ id: alert.id, state: alert.state, severity: alert.severity, model: alert.model, rule: alert.rule, scope: alert.scope, silenced: alert.silenced === true, page, message: alert.message }),
    );
  });
  await nc.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(`alert consumer failed: ${(error as Error).message}`);
    process.exit(1);
  });
}
