import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, DeliverPolicy } from '@nats-io/jetstream';
import type { AlertEvent } from '../contract/metrics.ts';
import { alertSubject, ALERTS_STREAM } from '../cluster/subjects.ts';

/**
 * Publishes alert transitions to `drift.alert.<model>.<rule>` as JSON with the transition id as
 * Nats-Msg-Id: a replica or a replay publishing the same transition is dropped by JetStream's
 * duplicate window, so consumers see each transition once.
 */
export function natsAlertPublisher(nc: NatsConnection): (alert: AlertEvent) => Promise<void> {
  const js = jetstream(nc);
  return async (alert) => {
    await js.publish(alertSubject(alert.model, alert.rule), JSON.stringify(alert), { msgID: alert.id });
  };
}

/**
 * Reads the transitions of the last `lookbackMs` back from DRIFT_ALERTS, oldest first: a gateway
 * that starts (or restarts) continues the lifecycle of alerts that are already firing.
 */
export async function readRecentAlerts(nc: NatsConnection, lookbackMs: number, onAlert: (alert: AlertEvent) => void): Promise<number> {
  const js = jetstream(nc);
  const jsm = await js.jetstreamManager();
  const info = await jsm.streams.info(ALERTS_STREAM);
  if (info.state.messages === 0) return 0;
  const consumer = await js.consumers.get(ALERTS_STREAM, {
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(Date.now() - lookbackMs).toISOString(),
  });
  let read = 0;
  // an empty fetch is not the end: on a loaded server the first batch may take longer than its
  // expiry (restoring nothing would let this gateway announce a firing alert again); read until the
  // stream's last sequence as it was at the start, or until a deadline
  const lastSeq = info.state.last_seq;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 1000, expires: 2000 });
    let caughtUp = false;
    let inBatch = 0;
    for await (const msg of batch) {
      inBatch++;
      read++;
      try {
        onAlert(msg.json<AlertEvent>());
      } catch {
        // not an alert of ours: skip it
      }
      if (msg.info.pending === 0 || msg.seq >= lastSeq) caughtUp = true;
    }
    if (caughtUp || Date.now() > deadline) return read;
    // nothing delivered: done only if nothing is left (every alert older than the lookback)
    if (inBatch === 0 && (await consumer.info()).num_pending === 0) return read;
  }
}
