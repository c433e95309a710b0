import type { NatsConnection } from '@nats-io/nats-core';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import type { JetStreamClient, JsMsg, PubAck } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import type { ObjectStore } from '@nats-io/obj';
import type { Logger } from 'pino';
import { EVENTS_STREAM, CHECKPOINTS_BUCKET, partitionFilter, dlqSubject } from '../cluster/subjects.ts';
import { LiveConsumer } from '../cluster/live-consumer.ts';
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

/** Deadline of one checkpoint read, and reads before a partition start gives up (see readCheckpoint). */
const CHECKPOINT_READ_TIMEOUT_MS = 15_000;
const CHECKPOINT_READ_ATTEMPTS = 4;

export function checkpointName(partition: number): string {
  return `partition-${partition}`;
}

export class PartitionRunner {
  readonly partition: number;
  processor!: PartitionProcessor;
  private readonly js: JetStreamClient;
  private store!: ObjectStore;
  private consumer: LiveConsumer | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private checkpointTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private checkpointing: Promise<void> | null = null;
  private stopped = false;
  private pendingDlq = new Set<Promise<unknown>>();
  private lastCheckpointSeq = -1;
  /**
   * The partition's counters as its checkpoint restored them (zero without one), taken before
   * consuming starts: the previous owner counted those events, so exporters count from here.
   */
  restoredStats: RunnerStats | null = null;
  private flushed = 0;
  /** Messages behind the end of the partition, from the consumer's pending count (refreshed every few seconds). */
  get lag(): number {
    return this.consumer?.pending ?? 0;
  }

  /** The partition's consumer is receiving (messages or heartbeats); false during an outage until it is recreated. */
  get live(): boolean {
    return this.consumer?.live ?? false;
  }

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
    const saved = await this.readCheckpoint();
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
    // counters as restored, before the first message: what a stats exporter starts counting from
    this.restoredStats = this.stats();
    // an ordered consumer from the checkpointed sequence + 1, recreated from the last applied
    // sequence + 1 whenever it stalls (server restart, leader change): see LiveConsumer
    this.consumer = new LiveConsumer({
      nc: this.options.nc,
      stream: EVENTS_STREAM,
      filterSubjects: partitionFilter(partition),
      nextSeq: () => this.processor.seq + 1,
      onMessage: (msg) => this.consumeOne(msg),
      logger: this.log,
      maxMessages: 1024,
    });
    await this.consumer.start();
    this.flushTimer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.checkpointTimer = setInterval(() => void this.checkpoint(), this.options.checkpointIntervalMs);
  }

  /**
   * Reads the partition's checkpoint. A read that overlaps a write of the same object (a previous
   * owner's last periodic checkpoint still under way when the lease moved) can wait forever for
   * chunks the write has just purged (seen with @nats-io/obj 3.x): each read gets a deadline and is
   * retried; the last failure stops the start, so the lease is released and taken again later
   * instead of being held by a partition that never runs.
   */
  private async readCheckpoint(): Promise<Uint8Array | null> {
    const name = checkpointName(this.partition);
    for (let attempt = 1; ; attempt++) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`reading checkpoint ${name} took over ${CHECKPOINT_READ_TIMEOUT_MS} ms`)), CHECKPOINT_READ_TIMEOUT_MS);
      });
      try {
        return await Promise.race([this.store.getBlob(name), deadline]);
      } catch (error) {
        if (attempt >= CHECKPOINT_READ_ATTEMPTS) throw error;
        this.log.warn({ partition: this.partition, attempt, err: (error as Error).message }, 'checkpoint read failed; retrying');
      } finally {
        clearTimeout(timer);
      }
    }
  }

  private consumeOne(msg: JsMsg): void {
    if (this.stopped) return;
    const contentType = msg.headers === undefined ? undefined : msg.headers.get('content-type') || undefined;
    const rejected = this.processor.process(msg.seq, msg.subject, msg.data, contentType);
    if (rejected !== null) this.deadLetter(rejected);
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
      live: this.live,
      recreations: this.consumer?.recreations ?? 0,
      seq: this.processor.seq,
      paneFlushes: this.flushed,
    };
  }

  /**
   * Saves state and the sequence it reflects, atomically as one object. Writes are serialised: a
   * hand-over's final checkpoint issued while a periodic one is still being written would otherwise
   * race it, and the older snapshot could land last, so the next owner would replay from it.
   */
  checkpoint(): Promise<void> {
    const next = (this.checkpointing ?? Promise.resolve()).then(() => this.checkpointOnce());
    const tracked = next.finally(() => {
      if (this.checkpointing === tracked) this.checkpointing = null;
    });
    this.checkpointing = tracked;
    return next;
  }

  private async checkpointOnce(): Promise<void> {
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
    // a flush already under way drained the dirty panes before the last messages came in: let it
    // end, then publish what is left, so the final pane states are out before the lease goes
    await this.flushing;
    await this.flush();
    await Promise.allSettled([...this.pendingDlq]);
    await this.checkpoint();
    // checkpointed < seq: the final checkpoint failed, and the next owner replays from the older one
    this.log.info({ partition: this.partition, seq: this.processor.seq, checkpointed: this.lastCheckpointSeq }, 'partition stopped');
  }

  /**
   * Stops consuming at once and writes nothing more (no flush, no checkpoint): the partition's lease
   * was lost, so another worker may own it already and its checkpoint is the one that counts.
   */
  async abandon(): Promise<void> {
    await this.stopConsuming();
    this.log.warn({ partition: this.partition, seq: this.processor.seq }, 'partition abandoned');
  }

  private async stopConsuming(): Promise<void> {
    this.stopped = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    await this.consumer?.stop();
  }
}
