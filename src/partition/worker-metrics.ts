/** The worker's Prometheus series (see src/contract/pipeline-metrics.ts for who exports what). */
import { counterOn as counter, gaugeOn as gauge } from '../contract/metric-registration.ts';
import type { AnyRegistry } from '../contract/metric-registration.ts';
import type { WorkerMetrics } from '../contract/pipeline-metrics.ts';

export function createWorkerMetrics(registry: AnyRegistry): WorkerMetrics {
  return {
    registry,
    eventsConsumed: counter(registry, 'drift_events_consumed_total', 'Events decoded and applied, by kind (pred|label).', ['kind']),
    eventsRejected: counter(registry, 'drift_events_rejected_total', 'Events rejected and sent to the dead-letter subject, by reason.', ['reason']),
    modelEventsRefused: counter(
      registry,
      'drift_model_events_refused_total',
      'Events of models (or versions) refused cluster-wide (limit_exceeded: beyond limits.maxModels / maxVersionsPerModel; model_not_allowed: not on models.allow), by model: the first 20 models refused have their own series, the others are counted as model="other".',
      ['model', 'reason'],
    ),
    eventsLate: counter(registry, 'drift_events_late_total', 'Predictions later than the allowed lateness (counted, not folded into panes).'),
    eventsDuplicate: counter(registry, 'drift_events_duplicate_total', 'Copies of an event the worker counted once, by kind: a prediction whose model + id was already pending or joined, a label already waiting or joined.', ['kind']),
    pendingJoins: gauge(registry, 'drift_pending_joins', 'Predictions waiting for their label, per partition.', ['partition']),
    earlyLabels: gauge(registry, 'drift_early_labels', 'Labels waiting for their prediction, per partition.', ['partition']),
    eventsHeld: gauge(registry, 'drift_events_held', "Events consumed but not yet counted, waiting for their model's cluster-wide admission, per partition (kept in the checkpoint; counted once admitted).", ['partition']),
    labelsJoined: counter(registry, 'drift_labels_joined_total', 'Labels joined to their prediction.'),
    labelsExpired: counter(registry, 'drift_labels_expired_total', 'Predictions whose label did not come within the label horizon.'),
    labelsUnmatched: counter(registry, 'drift_labels_unmatched_total', 'Labels whose prediction never came (or came twice): dropped after the label horizon, or when the early-label buffer was full.'),
    consumerLag: gauge(registry, 'drift_consumer_lag', 'Messages between the consumer position and the end of the stream, per partition running here.', ['partition']),
    consumerLive: gauge(registry, 'drift_consumer_live', 'Whether the partition consumer receives messages or heartbeats (1) or has lost its server and is being recreated (0).', ['partition']),
    consumerRecreations: counter(registry, 'drift_consumer_recreations_total', 'Partition consumers recreated from their last applied sequence (NATS restart, leader change, stall).'),
    consumerPullsWrittenOff: counter(registry, 'drift_consumer_pulls_written_off_total', 'Pulls of a partition consumer the server ended without saying so (nats-server before 2.9.16 drops a pull that expires as a message comes), asked for again instead of recreating the consumer.'),
    partitionSequence: gauge(registry, 'drift_partition_sequence', 'Last stream sequence applied, per partition.', ['partition']),
    paneFlushes: counter(registry, 'drift_pane_flushes_total', 'Pane state flushes (checkpoints).'),
    partitions: gauge(registry, 'drift_partitions', 'Partitions of DRIFT_EVENTS (fixed when the stream was created); the drift_partition_owner series of all workers should add up to it.'),
    partitionOwner: gauge(registry, 'drift_partition_owner', '1 for each partition running in this worker (summed over workers: 1 per partition when every partition has exactly one owner).', ['partition', 'worker']),
    checkpointAgeSeconds: gauge(registry, 'drift_checkpoint_age_seconds', 'Seconds since the partition checkpoint was last written (or last found current, when nothing changed), per partition running here.', ['partition']),
    checkpointBytes: gauge(registry, 'drift_checkpoint_bytes', 'Size of the partition checkpoint last written or restored here, bytes.', ['partition']),
    rebalances: counter(registry, 'drift_partition_rebalances_total', 'Partitions moved into (direction="in") or out of (direction="out") this worker by lease changes.', ['direction']),
  };
}
