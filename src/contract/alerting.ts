/**
 * What operators act on: alerts as they stand now (pending or firing, silenced, acknowledged),
 * silences, acknowledgements and the audit trail. Bodies of `GET /v1/alerts`, `/v1/silences`,
 * `/v1/audit` and of the audit stream's messages.
 */

/** Which alerts a silence (or a webhook receiver) covers: each given field must match; `*` in a value matches any run of characters. */
export interface AlertMatchers {
  model?: string;
  rule?: string;
  /** e.g. 'model', 'version:v2', 'feature:f0', 'feature:*'. */
  scope?: string;
}

export interface Silence {
  id: string;
  matchers: AlertMatchers;
  /** Epoch ms (wall clock): the silence covers transitions from startsAt until endsAt. */
  startsAt: number;
  endsAt: number;
  comment: string;
  createdBy: string;
  createdAt: number;
  /** Set when expired early through DELETE /v1/silences/:id. */
  expiredAt: number | null;
  expiredBy: string | null;
}

export interface Acknowledgement {
  by: string;
  comment: string;
  /** Epoch ms (wall clock). */
  at: number;
}

/** An alert that is pending (condition holds, not yet for `for`) or firing now. */
export interface ActiveAlert {
  /** The firing transition's id (`model:rule:scope:startsAt:firing`); for a pending alert, `...:pending`. */
  id: string;
  model: string;
  rule: string;
  scope: string;
  state: 'pending' | 'firing';
  severity: 'info' | 'warning' | 'critical';
  value: number | null;
  threshold: number;
  window: string;
  /** Event time (epoch ms) at which the condition first held. */
  startsAt: number;
  /** Event time of the firing transition (null while pending). */
  firedAt: number | null;
  message: string;
  /** Whether an active silence covers it now, and which. */
  silenced: boolean;
  silencedBy: string[];
  acknowledged: Acknowledgement | null;
}

export type AuditKind = 'transition' | 'silence' | 'ack';

/** One entry of the audit trail (stream DRIFT_AUDIT, subject drift.audit.<kind>). */
export interface AuditEntry {
  /** Unique per fact (also the Nats-Msg-Id, so replicas recording the same transition store it once). */
  id: string;
  kind: AuditKind;
  /** transition: firing | resolved; silence: created | expired; ack: acknowledged | cleared. */
  action: string;
  /** Wall clock of the record (epoch ms). */
  at: number;
  /** Who did it (createdBy, ack `by`), or 'driftwatch' for transitions and automatic clears. */
  actor: string;
  model: string | null;
  rule: string | null;
  scope: string | null;
  alertId: string | null;
  silenceId: string | null;
  comment: string | null;
  /** The alert transition, or the silence, as recorded. */
  detail: Record<string, unknown>;
}
