/**
 * How long DRIFT_EVENTS must keep events. A partition restores its checkpoint and replays the events
 * after it, so an event must stay until a checkpoint covers it: up to one checkpoint interval after
 * it was consumed, plus, when the worker dies just before that checkpoint, the lease expiry before
 * another worker takes the partition, plus the time that worker needs to restore and read. A stream
 * that keeps less loses events on a failover without anyone noticing; start-up refuses it.
 */

/** Time allowed for a new owner to start the partition and read back to where the checkpoint ends. */
export const FAILOVER_RESTART_ALLOWANCE_MS = 60_000;
/** Below this, a full outage of the workers (or of their NATS access) loses events quickly: warned. */
export const RECOMMENDED_EVENTS_RETENTION_MS = 3600_000;

/** DRIFT_EVENTS would delete events a failover still needs: the process does not start. */
export class EventsRetentionError extends Error {
  override readonly name = 'EventsRetentionError';
}

export interface RetentionNeeds {
  checkpointIntervalMs: number;
  /** How long a dead worker's partition lease lasts (worker.leaseMs). */
  leaseMs: number;
}

/** The shortest DRIFT_EVENTS max age that still covers a checkpoint interval plus a failover. */
export function requiredEventsRetentionMs(needs: RetentionNeeds): number {
  return needs.checkpointIntervalMs + needs.leaseMs + FAILOVER_RESTART_ALLOWANCE_MS;
}

/** The limits of the events stream that decide how long an event stays (0 or -1: no limit). */
export interface EventsStreamLimits {
  maxAgeMs: number;
  maxBytes: number;
  maxMsgs: number;
}

export interface RetentionVerdict {
  /** Set when the stream keeps events for less than a failover needs: do not start. */
  refusal: string | null;
  warnings: string[];
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** `where` names the retention's origin in messages, e.g. 'nats.eventsRetentionMs (DRIFTWATCH_EVENTS_RETENTION)'. */
export function checkEventsRetention(limits: EventsStreamLimits, needs: RetentionNeeds, where: string): RetentionVerdict {
  const required = requiredEventsRetentionMs(needs);
  const warnings: string[] = [];
  let refusal: string | null = null;
  if (limits.maxAgeMs > 0 && limits.maxAgeMs < required) {
    refusal =
      `DRIFT_EVENTS keeps events for ${seconds(limits.maxAgeMs)} (${where}), less than a failover needs: ` +
      `${seconds(required)} = checkpoint.intervalMs ${seconds(needs.checkpointIntervalMs)} + worker.leaseMs ${seconds(needs.leaseMs)} ` +
      `+ ${seconds(FAILOVER_RESTART_ALLOWANCE_MS)} to restart the partition; events not yet checkpointed would be deleted before ` +
      `another worker replays them. Raise the retention (DRIFTWATCH_EVENTS_RETENTION) or shorten the checkpoint interval or lease`;
  } else if (limits.maxAgeMs > 0 && limits.maxAgeMs < RECOMMENDED_EVENTS_RETENTION_MS) {
    warnings.push(
      `DRIFT_EVENTS keeps events for ${seconds(limits.maxAgeMs)} (${where}): enough for a failover (${seconds(required)}), ` +
        `but an outage of every worker longer than that loses events; at least an hour is recommended`,
    );
  }
  if (limits.maxBytes > 0) {
    warnings.push(`DRIFT_EVENTS also has max_bytes ${limits.maxBytes}: when it fills, events may be discarded before a checkpoint covers them (no time guarantee)`);
  }
  if (limits.maxMsgs > 0) {
    warnings.push(`DRIFT_EVENTS also has max_msgs ${limits.maxMsgs}: when it fills, events may be discarded before a checkpoint covers them (no time guarantee)`);
  }
  return { refusal, warnings };
}
