import type { NatsConnection } from '@nats-io/nats-core';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream, DeliverPolicy } from '@nats-io/jetstream';
import type { JetStreamClient, ConsumerMessages, PubAck } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import type { ObjectStore } from '@nats-io/obj';
import type { Logger } from 'pino';
import { EVENTS_STREAM, CHECKPOINTS_BUCKET, partitionFilter, dlqSubject } from '../cluster/subjects.ts';
import { PartitionProcessor } from './processor.ts';
import type { ProcessorOptions, Rejected } from './processor.ts';
import type { RunnerStats } from './stats.ts';

/**
 * Runs one partition: restores its checkpoint, reads `drift.in.<p>.>` with an ordered consumer
 * from the checkpointed sequence + 1, feeds the processor, publishes pane states at least once per
 * flush interval, copies rejected events to the DLQ, and checkpoints state + sequence together.
 * Source -> processor -> sinks, state tied to the stream offset, as in Kafka Streams.
 */

export interface RunnerOptions {
  nc: NatsConnection;
  processor: Omit<ProcessorOptions, 'partition'>;
  partition: number;
  flushIntervalMs: number;
  checkpointIntervalMs: number;
  logger: Logger;
}

export function checkpointName(partition: number): string {
  return `partition-${partition}`;
}

export class PartitionRunner {
  readonly partition: number;
  processor!: PartitionProcessor;
  private readonly js: JetStreamClient;
  private store!: ObjectStore;
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private checkpointTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private stopped = false;
  private pendingDlq = new Set<Promise<unknown>>();
  private lastCheckpointSeq = -1;
  /** Messages behind the end of the partition, as the consumer last reported. */
  lag = 0;
  private flushed = 0;

  constructor(private readonly options: RunnerOptions) {
    this.partition = options.partition;
    this.js = jetstream(options.nc);
  }

  private get log(): Logger {
    return this.options.logger;
  }

  async start(): Promise<void> {
    const { partition } = this;
    const processorOptions: ProcessorOptions = { ...this.options.processor, partition };
    this.store = await new Objm(this.options.nc).open(CHECKPOINTS_BUCKET);
    const saved = await this.store.getBlob(checkpointName(partition));
    if (saved !== null) {
      try {
        this.processor = PartitionProcessor.restore(saved, processorOptions);
      } catch (error) {
        // as before, the partition does not start from a checkpoint it cannot trust (nor silently
        // from the stream's beginning): the operator decides, and the log says what is wrong
        this.log.error(
          { partition, checkpoint: checkpointName(partition), bytes: saved.length, err: (error as Error).message },
          'partition checkpoint refused; the partition does not start (fix or delete the checkpoint object to replay its stream)',
        );
        throw error;
      }
      this.lastCheckpointSeq = this.processor.seq;
      this.log.info({ partition, seq: this.processor.seq }, 'restored partition checkpoint');
    } else {
      this.processor = new PartitionProcessor(processorOptions);
    }
    const consumer = await this.js.consumers.get(EVENTS_STREAM, {
      filter_subjects: partitionFilter(partition),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.processor.seq + 1,
    });
    this.messages = await consumer.consume({ max_messages: 1024 });
    // the consumer recovers from disconnects itself; anything that ends this loop otherwise is a
    // bug, and the process (or partition thread) must restart from the checkpoint, not go quiet
    this.loop = this.consumeLoop(this.messages).catch((error: unknown) => {
      if (this.stopped) return;
      this.log.fatal({ partition: this.partition, err: error }, 'partition consumer failed');
      throw error;
    });
    this.flushTimer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.checkpointTimer = setInterval(() => void this.checkpoint(), this.options.checkpointIntervalMs);
  }

  private async consumeLoop(messages: ConsumerMessages): Promise<void> {
    const processor = this.processor;
    for await (const msg of messages) {
      const contentType = msg.headers === undefined ? undefined : msg.headers.get('content-type') || undefined;
      const rejected = processor.process(msg.seq, msg.subject, msg.data, contentType);
      this.lag = msg.info.pending;
      if (rejected !== null) this.deadLetter(rejected);
      if (this.stopped) break;
    }
  }

  /** Copies a rejected event to `drift.dlq.<reason>`, with why, where from, and a stable id. */
  private deadLetter(rejected: Rejected): void {
    const h = natsHeaders();
    h.set('Driftwatch-Reason', rejected.reason);
    h.set('Driftwatch-Detail', rejected.detail.slice(0, 1024).replace(/[\r\n]/g, ' '));
    h.set('Driftwatch-Subject', rejected.subject);
    h.set('Driftwatch-Seq', String(rejected.seq));
    const publication = this.js
      .publish(dlqSubject(rejected.reason), rejected.data, { headers: h, msgID: `dlq:${this.partition}:${rejected.seq}` })
      .catch((error: unknown) => this.log.warn({ err: error, seq: rejected.seq }, 'dead-letter publish failed'))
      .finally(() => this.pendingDlq.delete(publication));
    this.pendingDlq.add(publication);
  }

  /** Publishes every changed pane and waits for the acks; then drops panes that can no longer change. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.flushOnce().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    const processor = this.processor;
    const updates = processor.drainDirty();
    if (updates.length > 0) {
      const acks: Promise<PubAck>[] = updates.map((u) => this.js.publish(u.subject, u.payload));
      const results = await Promise.allSettled(acks);
      const failed = updates.filter((_, i) => results[i].status === 'rejected');
      if (failed.length > 0) {
        processor.restoreDirty(failed);
        const reason = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason as Error;
        this.log.warn({ partition: this.partition, failed: failed.length, err: reason.message }, 'pane flush failed; will retry');
      }
      this.flushed += updates.length - failed.length;
    }
    processor.dropClosed();
  }

  /** Counters and levels of this partition, for Prometheus (the exporter turns totals into deltas). */
  stats(): RunnerStats {
    const { counters, join } = this.processor;
    return {
      partition: this.partition,
      predictions: counters.predictions,
      labels: counters.labels,
      late: counters.late,
      duplicates: counters.duplicates,
      rejected: { ...counters.rejected },
      joined: join.stats.joined,
      expired: join.stats.expiredPredictions,
      unmatchedLabels: join.stats.expiredLabels,
      pendingJoins: join.size,
      earlyLabels: join.earlySize,
      lag: this.lag,
      seq: this.processor.seq,
      paneFlushes: this.flushed,
    };
  }

  /** Saves state and the sequence it reflects, atomically as one object. */
  async checkpoint(): Promise<void> {
    const processor = this.processor;
    if (processor.seq === this.lastCheckpointSeq) return;
    const seq = processor.seq;
    const bytes = processor.snapshot();
    try {
      await this.store.putBlob({ name: checkpointName(this.partition) }, bytes);
      this.lastCheckpointSeq = seq;
    } catch (error) {
      this.log.warn({ partition: this.partition, err: (error as Error).message }, 'checkpoint failed; will retry');
    }
  }

  /** Stops consuming, then flushes and checkpoints what was consumed. */
  async stop(): Promise<void> {
    await this.stopConsuming();
    await this.flush();
    await Promise.allSettled([...this.pendingDlq]);
    await this.checkpoint();
  }

  /**
   * Stops consuming at once and writes nothing more (no flush, no checkpoint): the partition's lease
   * was lost, so another worker may own it already and its checkpoint is the one that counts.
   */
  async abandon(): Promise<void> {
    await this.stopConsuming();
  }

  private async stopConsuming(): Promise<void> {
    this.stopped = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    if (this.messages) await this.messages.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
  }
}
