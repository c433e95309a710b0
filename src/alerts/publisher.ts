import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import type { AlertEvent } from '../window/metrics-types.ts';
import { alertSubject } from '../cluster/subjects.ts';

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
