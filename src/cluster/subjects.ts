/**
 * Names of every JetStream resource and subject. One place, so the wire contract cannot drift
 * between the SDK, the worker and the gateway.
 */

export const EVENTS_STREAM = 'DRIFT_EVENTS';
export const ALERTS_STREAM = 'DRIFT_ALERTS';
export const DLQ_STREAM = 'DRIFT_DLQ';
/** Changelog of pane states published by workers, read by gateways (latest per subject). */
export const PANES_STREAM = 'DRIFT_PANES';

export const META_BUCKET = 'DRIFT_META';
export const META_KEY = 'cluster';
export const LEASES_BUCKET = 'DRIFT_LEASES';
export const CHECKPOINTS_BUCKET = 'DRIFT_CHECKPOINTS';
export const BASELINES_BUCKET = 'DRIFT_BASELINES';
/** Silences (`silence.<id>`) and acknowledgements (`ack.<episode hash>`), shared by gateway replicas. */
export const ALERT_STATE_BUCKET = 'DRIFT_ALERT_STATE';
/** One key per (webhook receiver, transition): the gateway replica whose KV create wins delivers it. */
export const WEBHOOK_CLAIMS_BUCKET = 'DRIFT_WEBHOOK_CLAIMS';
/** Audit trail of alert transitions, silences and acknowledgements (`drift.audit.<kind>`). */
export const AUDIT_STREAM = 'DRIFT_AUDIT';
/** Cluster-wide model and version admission (src/cluster/model-registry.ts). */
export const MODELS_BUCKET = 'DRIFT_MODELS';

export const SCHEMA_VERSION = 1;

/** A model name becomes a subject token: letters, digits, '_' and '-' only. */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

export function isValidModelName(model: string): boolean {
  return MODEL_NAME_PATTERN.test(model);
}

export function predictionSubject(partition: number, model: string): string {
  return `drift.in.${partition}.${model}.pred`;
}

export function labelSubject(partition: number, model: string): string {
  return `drift.in.${partition}.${model}.label`;
}

/**
 * The subjects the events stream stores: exactly those a worker consumes. An event published on
 * any other `drift.in.` subject (a partition out of range, a malformed token, a kind other than
 * pred/label) is refused by JetStream at publish time (no stream answers), instead of being stored
 * and never read.
 */
export function eventsSubjects(partitions: number): string[] {
  const subjects: string[] = [];
  for (let p = 0; p < partitions; p++) subjects.push(`drift.in.${p}.*.pred`, `drift.in.${p}.*.label`);
  return subjects;
}

/** What earlier versions stored on the events stream: replaced by eventsSubjects(P) when found. */
export const RETIRED_EVENTS_SUBJECTS: readonly string[] = ['drift.in.>'];

export function partitionFilter(partition: number): string {
  return `drift.in.${partition}.>`;
}

export function alertSubject(model: string, rule: string): string {
  return `drift.alert.${model}.${rule}`;
}

export function auditSubject(kind: 'transition' | 'silence' | 'ack'): string {
  return `drift.audit.${kind}`;
}

export function dlqSubject(reason: string): string {
  return `drift.dlq.${reason}`;
}

/** A version may hold dots ('1.2.0'), which a subject token cannot: it travels hex-encoded. */
export function versionToken(version: string): string {
  return Buffer.from(version, 'utf8').toString('hex');
}

/**
 * The subject of a pane's state. DRIFT_PANES keeps the latest message per subject, so the lease
 * epoch is part of it: a worker that lost its lease (paused past the expiry, then resumed) can only
 * replace its own older states, never the new owner's; gateways pick between epochs (pane-fence.ts).
 * Without an epoch (older workers, manual partition lists) the subject has no epoch token.
 */
export function paneSubject(partition: number, model: string, version: string, paneStart: number, part: 'in' | 'out', epoch?: number): string {
  const base = `drift.pane.${partition}.${model}.${versionToken(version)}.${paneStart}.${part}`;
  return epoch === undefined ? base : `${base}.${epoch}`;
}

/** Parsed `drift.in.<p>.<model>.<kind>`; null when the subject is not of that shape. */
export interface InputSubject {
  partition: number;
  model: string;
  kind: 'pred' | 'label';
}

export function parseInputSubject(subject: string): InputSubject | null {
  const parts = subject.split('.');
  if (parts.length !== 5 || parts[0] !== 'drift' || parts[1] !== 'in') return null;
  const partition = Number(parts[2]);
  if (!Number.isInteger(partition) || partition < 0) return null;
  const kind = parts[4];
  if (kind !== 'pred' && kind !== 'label') return null;
  return { partition, model: parts[3], kind };
}
