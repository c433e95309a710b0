import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, DeliverPolicy } from '@nats-io/jetstream';
import type { Acknowledgement, AuditEntry, AuditKind, Silence } from '../contract/alerting.ts';
import type { AlertEvent } from '../contract/metrics.ts';
import { AUDIT_STREAM, auditSubject } from '../cluster/subjects.ts';

/** Audit entry of an alert transition; the id is the transition's, so replicas record it once. */
export function transitionAudit(alert: AlertEvent, at: number): AuditEntry {
  return {
    id: `transition:${alert.id}`,
    kind: 'transition',
    action: alert.state,
    at,
    actor: 'driftwatch',
    model: alert.model,
    rule: alert.rule,
    scope: alert.scope,
    alertId: alert.id,
    silenceId: alert.silencedBy?.[0] ?? null,
    comment: null,
    detail: { ...alert },
  };
}

export function silenceAudit(silence: Silence, action: 'created' | 'expired', actor: string, at: number): AuditEntry {
  return {
    id: `silence:${silence.id}:${action}`,
    kind: 'silence',
    action,
    at,
    actor,
    model: silence.matchers.model ?? null,
    rule: silence.matchers.rule ?? null,
    scope: silence.matchers.scope ?? null,
    alertId: null,
    silenceId: silence.id,
    comment: silence.comment,
    detail: { ...silence },
  };
}

export function ackAudit(
  alert: { id: string; model: string; rule: string; scope: string },
  action: 'acknowledged' | 'cleared',
  ack: Acknowledgement,
  at: number,
): AuditEntry {
  return {
    id: `ack:${alert.id}:${action}:${action === 'acknowledged' ? ack.at : 'resolved'}`,
    kind: 'ack',
    action,
    at,
    actor: action === 'acknowledged' ? ack.by : 'driftwatch',
    model: alert.model,
    rule: alert.rule,
    scope: alert.scope,
    alertId: alert.id,
    silenceId: null,
    comment: action === 'acknowledged' ? ack.comment : 'the alert resolved',
    detail: { ...ack },
  };
}

/** Appends entries to DRIFT_AUDIT with their id as Nats-Msg-Id (a second replica's copy is dropped). */
export function natsAuditPublisher(nc: NatsConnection): (entry: AuditEntry) => Promise<void> {
  const js = jetstream(nc);
  return async (entry) => {
    await js.publish(auditSubject(entry.kind), JSON.stringify(entry), { msgID: entry.id });
  };
}

export interface AuditFilter {
  kind?: AuditKind;
  model?: string;
  rule?: string;
  /** Wall clock, epoch ms: entries recorded at or after. */
  since: number;
  /** The latest this many matching entries (oldest first). */
  limit: number;
}

/** Reads the audit trail from `since` (an ordered consumer from that time), filtered, oldest first. */
export async function readAudit(nc: NatsConnection, filter: AuditFilter): Promise<AuditEntry[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(AUDIT_STREAM);
  if (info.state.messages === 0 || info.state.last_ts === undefined || Date.parse(info.state.last_ts) < filter.since) return [];
  const consumer = await jetstream(nc).consumers.get(AUDIT_STREAM, {
    filter_subjects: filter.kind === undefined ? 'drift.audit.>' : auditSubject(filter.kind),
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(filter.since).toISOString(),
  });
  const out: AuditEntry[] = [];
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 1000, expires: 1000 });
    let inBatch = 0;
    let caughtUp = false;
    for await (const msg of batch) {
      inBatch++;
      if (msg.info.pending === 0) caughtUp = true;
      let entry: AuditEntry;
      try {
        entry = msg.json<AuditEntry>();
      } catch {
        continue;
      }
      if (filter.model !== undefined && entry.model !== filter.model) continue;
      if (filter.rule !== undefined && entry.rule !== filter.rule) continue;
      if (entry.at < filter.since) continue;
      out.push(entry);
      if (out.length > filter.limit) out.shift();
    }
    if (caughtUp || inBatch === 0) return out;
  }
}
