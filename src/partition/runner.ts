import { flushDue, flushTickMs } from './flush-pacing.ts';
import type { FlushPacing } from './flush-pacing.ts';
import type { NatsConnection } from '@nats-io/nats-core';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import type { StreamMessage } from '../cluster/stream-message.ts';
import { objectStores } from '../cluster/object-store.ts';
import type { ObjectInfo, ObjectStore } from '@nats-io/obj';
import type { Logger } from 'pino';
import { EVENTS_STREAM, CHECKPOINTS_BUCKET, partitionFilter, dlqSubject } from '../cluster/subjects.ts';
import { LiveConsumer } from '../cluster/live-consumer.ts';
import { TimerWatch } from './timer-watch.ts';
import { declaredContentType } from './content-type.ts';
import { PartitionProcessor } from './processor.ts';
import { followWorkerReferences } from '../reference/worker-references.ts';
import { ReferenceStore } from '../reference/store.ts';
import type { PartitionOwner, ProcessorOptions, Rejected, SparseHold } from './processor.ts';
import type { RunnerStats } from './stats.ts';
import { ClusterAdmission } from './model-admission.ts';
import { randomUUID } from 'node:crypto';
import { DEFAULT_COMPACTION, deltaCheckpointName, readCheckpointChain, restoreCheckpointChain, shouldCompact } from './checkpoint-chain.ts';
import type { ChainPosition, CompactionPolicy } from './checkpoint-chain.ts';
import type { AdmissionGate, AdmissionSettings } from './model-admission.ts';

/**
 * Events held (waiting for their models' admission) beyond which the partition stops taking more
 * until some are settled: the hold is a brief wait for a KV answer, not a buffer for an outage.
 */
const MAX_HELD_EVENTS = 10_000;

/**
 * Events a partition's consumer asks the server for ahead of those handled (its pull batch; the
 * client asks for more once a quarter of them were handled), bounded in bytes by the largest event
 * allowed (READ_AHEAD_MAX_BYTES / limits.maxEventBytes). Each pull is a request the server answers
 * and a write on the socket: at 1,024 a pull every 256 events, at 4,096 every 1,024. The production
 * worker on one thread beside its nats-server on 2 cores (scratch harness, 300k events, 1,024 /
 * 2,048 / 4,096 in turns, five rounds) read 97.8k / 103.6k / 108.8k events a second (mean), the
 * server taking 5.7-7.0 / 5.1-5.7 / 4.2-5.0 us of CPU per event.
 */
export const READ_AHEAD_EVENTS = 4096;
/** What the read-ahead may hold at most, were each event as large as limits.maxEventBytes allows: 4,096 events at its default 64 KB. */
export const READ_AHEAD_MAX_BYTES = 256 * 1024 * 1024;
const READ_AHEAD_MIN_EVENTS = 64;

/** A partition consumer's read-ahead for events of at most `maxEventBytes` (see READ_AHEAD_EVENTS). */
export function readAheadEvents(maxEventBytes: number): number {
  return Math.max(READ_AHEAD_MIN_EVENTS, Math.min(READ_AHEAD_EVENTS, Math.floor(READ_AHEAD_MAX_BYTES / maxEventBytes)));
}

/** Longest timers may wait while messages are handled before the consumer gives way (ms; see TimerWatch). */
const GIVE_WAY_AFTER_MS = 100;

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
  /**
   * Flush sooner while few panes changed (src/partition/flush-pacing.ts): the shortest interval and
   * the pane messages per second allowed before it lengthens to flushIntervalMs. Unset: every
   * flushIntervalMs.
   */
  flushPacing?: { minIntervalMs: number; messagesPerSecond: number };
  /** Open panes with few new events wait up to this (SparseHold; `panes.sparseHoldMs`, `panes.sparseEvents`). Unset: none waits. */
  sparseHold?: SparseHold;
  checkpointIntervalMs: number;
  logger: Logger;
  /**
   * Cluster-wide model admission (src/partition/model-admission.ts). `admission`: a gate shared with
   * the other partitions of this thread (its owner closes it); else `admissionSettings`: the runner
   * opens its own; neither: the processor's per-partition caps.
   */
  admission?: AdmissionGate;
  admissionSettings?: AdmissionSettings;
  /**
   * The lease this partition runs under. Set, every pane message and checkpoint carries it, and a
   * checkpoint is written only over the revision this runner last read or wrote (a compare-and-set):
   * a newer owner's checkpoint is never overwritten, and a runner that finds one stops writing.
   */
  owner?: PartitionOwner;
  /**
   * When the lease expires on this process's clock (extended by extendLease on every renewal). Past
   * it the runner flushes and checkpoints nothing: a process resumed after a pause past its lease
   * (SIGSTOP, a long stall) may run a flush timer before its lease loop notices the loss.
   */
  leaseExpiresAt?: number;
  /** When the chain of checkpoint deltas is compacted into a new base (default DEFAULT_COMPACTION). */
  compaction?: CompactionPolicy;
}

/** Deadline of one checkpoint read, and reads before a partition start gives up (see readCheckpoint). */
const CHECKPOINT_READ_TIMEOUT_MS = 15_000;
const CHECKPOINT_READ_ATTEMPTS = 4;

export function checkpointName(partition: number): string {
  return `partition-${partition}`;
}

/** The worker and epoch recorded in a checkpoint object's metadata; null when it has none (older or manual). */
export function checkpointOwnerOf(info: ObjectInfo | null): PartitionOwner | null {
  const worker = info?.metadata?.worker;
  const epoch = Number(info?.metadata?.epoch);
  return worker === undefined || !Number.isSafeInteger(epoch) ? null : { worker, epoch };
}

/** A newer lease holder wrote this partition's checkpoint: this runner's lease is stale. */
export class FencedError extends Error {
  constructor(partition: number, mine: PartitionOwner, theirs: PartitionOwner) {
    super(`partition ${partition}: its checkpoint was written by ${theirs.worker} under lease epoch ${theirs.epoch}, newer than this runner's epoch ${mine.epoch}: this lease is stale, nothing more is written`);
    this.name = 'FencedError';
  }
}

export class PartitionRunner {
  readonly partition: number;
  processor!: PartitionProcessor;
  private readonly js: JetStreamClient;
  private store!: ObjectStore;
  private consumer: LiveConsumer | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  /** When the last flush began (epoch ms): the pacing counts from it. */
  private lastFlushAt = Date.now();
  private checkpointTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private checkpointing: Promise<void> | null = null;
  private stopped = false;
  /** Whether handling messages kept timers waiting, and the consumer should give way. */
  private readonly timerWatch = new TimerWatch(GIVE_WAY_AFTER_MS);
  /** start() has completed: the partition is consuming. */
  private started = false;
  private pendingDlq = new Set<Promise<unknown>>();
  private lastCheckpointSeq = -1;
  /** When the stored checkpoint was last known current (written, restored, or found unchanged); epoch ms. */
  private checkpointCurrentAt: number | null = null;
  private checkpointBytes = 0;
  /**
   * The partition's counters as its checkpoint restored them (zero without one), taken before
   * consuming starts: the previous owner counted those events, so exporters count from here.
   */
  restoredStats: RunnerStats | null = null;
  private flushed = 0;
  private ownAdmission: ClusterAdmission | null = null;
  private unsubscribeAdmission: (() => void) | null = null;
  private stopFollowingReferences: (() => void) | null = null;
  /** Resolves the wait of a consumer stopped while too many events are held. */
  private heldDrained: (() => void) | null = null;
  /** Revision of the checkpoint object as last read or written by this runner (0: none): the next write's expected revision. */
  private checkpointRevision = 0;
  /** Set once a newer owner's checkpoint was found: this runner writes nothing more. */
  private fenced: FencedError | null = null;
  /** The chain this runner appends deltas to: only one whose base it wrote itself (null: the next checkpoint is a base). */
  private chain: ChainPosition | null = null;
  /** A chain whose deltas are deleted once a base of this runner replaced it (the restored one, or this runner's previous). */
  private replacedChain: { baseId: string; index: number } | null = null;
  private leaseExpiresAt: number | undefined;
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
    this.leaseExpiresAt = options.leaseExpiresAt;
    this.js = jetstream(options.nc);
  }

  private get log(): Logger {
    return this.options.logger;
  }

  async start(): Promise<void> {
    const { partition } = this;
    let admission = this.options.admission;
    if (admission === undefined && this.options.admissionSettings !== undefined) {
      admission = this.ownAdmission = await ClusterAdmission.open(this.options.nc, this.options.admissionSettings, this.log);
    }
    const { owner } = this.options;
    // the models' references: multivariate drift scores events against those the gateway judges
    // them by, and panes center their feature sketches on theirs; without the reference store the
    // partition still runs, without multivariate drift and on centers of its own
    const onReferenceError = (error: Error) => this.log.warn({ partition, err: error.message }, 'reading a changed reference profile failed');
    const followed = await ReferenceStore.open(this.options.nc)
      .then((store) => followWorkerReferences(store, onReferenceError))
      .catch((error: unknown) => {
        this.log.warn({ partition, err: (error as Error).message }, 'cannot follow reference profiles: no multivariate drift from this partition, feature sketches on centers of its own');
        return null;
      });
    this.stopFollowingReferences = followed?.stop ?? null;
    const processorOptions: ProcessorOptions = { ...this.options.processor, partition, admission, owner, references: followed?.references };
    this.store = await objectStores(this.options.nc).open(CHECKPOINTS_BUCKET);
    const info = await this.store.info(checkpointName(partition));
    const writer = checkpointOwnerOf(info);
    if (owner !== undefined && writer !== null && writer.epoch > owner.epoch) {
      // the lease was lost before the partition even started: a newer owner has written already
      throw new FencedError(partition, owner, writer);
    }
    this.checkpointRevision = info?.revision ?? 0;
    const saved = await readCheckpointChain(this.store, partition, (name) => this.readCheckpoint(name));
    if (saved !== null) {
      try {
        const restored = restoreCheckpointChain(saved.base, saved.deltas, processorOptions);
        this.processor = restored.processor;
        if (restored.refused !== null) {
          // a consistent earlier state: the stream replays what the refused deltas held
          this.log.warn({ partition, deltas: saved.deltas.length, applied: restored.applied, err: restored.refused.message }, 'checkpoint delta refused: restored the chain up to it');
        }
        const baseId = info?.metadata?.baseId;
        if (baseId !== undefined) this.replacedChain = { baseId, index: saved.deltas.length };
      } catch (error) {
        // as before, the partition does not start from a checkpoint it cannot trust (nor silently
        // from the stream's beginning): the operator decides, and the log says what is wrong
        this.log.error(
          { partition, checkpoint: checkpointName(partition), bytes: saved.base.length, err: (error as Error).message },
          'partition checkpoint refused; the partition does not start (fix or delete the checkpoint object to replay its stream)',
        );
        throw error;
      }
      this.lastCheckpointSeq = this.processor.seq;
      this.checkpointCurrentAt = Date.now();
      this.checkpointBytes = saved.base.length;
      this.log.info({ partition, seq: this.processor.seq, held: this.processor.heldCount, deltas: this.processor.deltasApplied, writtenBy: writer ?? undefined }, 'restored partition checkpoint');
    } else {
      this.processor = new PartitionProcessor(processorOptions);
    }
    await this.endStartIfAbandoned();
    // counters as restored, before the first message and before the held events below are applied
    // (they are counted when applied, here: the previous owner consumed them but did not count them)
    this.restoredStats = this.stats();
    this.unsubscribeAdmission = this.processor.admission.onResolved((model) => this.admissionSettled(model));
    // events held at the last checkpoint ask for their models' admission again
    for (const model of this.processor.heldModels()) this.admissionSettled(model);
    // an ordered consumer from the checkpointed sequence + 1, recreated from the last applied
    // sequence + 1 whenever it stalls (server restart, leader change): see LiveConsumer
    this.consumer = new LiveConsumer({
      nc: this.options.nc,
      stream: EVENTS_STREAM,
      filterSubjects: partitionFilter(partition),
      nextSeq: () => this.processor.seq + 1,
      onMessage: (msg) => this.consumeOne(msg),
      logger: this.log,
      maxMessages: readAheadEvents(this.options.processor.maxEventBytes),
    });
    await this.consumer.start();
    // abandoned while the consumer was being created: stop the consumer that start just opened
    await this.endStartIfAbandoned();
    this.started = true;
    const { flushIntervalMs, flushPacing } = this.options;
    const pacing: FlushPacing = { minIntervalMs: flushPacing?.minIntervalMs ?? flushIntervalMs, maxIntervalMs: flushIntervalMs, messagesPerSecond: flushPacing?.messagesPerSecond ?? Infinity };
    this.flushTimer = setInterval(() => {
      if (this.flushing === null && flushDue(Date.now() - this.lastFlushAt, this.processor.duePanes, pacing)) void this.flush(this.options.sparseHold ?? null);
    }, flushTickMs(pacing));
    // a write slower than the interval is not overlapped by the next one (they would race on the revision)
    this.checkpointTimer = setInterval(() => {
      if (this.checkpointing === null) void this.checkpoint();
    }, this.options.checkpointIntervalMs);
  }

  /**
   * abandon() during start() (the lease was lost, or the start overran its deadline): stop what the
   * start opened since, and fail the start, so an abandoned start never leaves a consumer running.
   */
  private async endStartIfAbandoned(): Promise<void> {
    if (!this.stopped) return;
    this.unsubscribeAdmission?.();
    await this.consumer?.stop();
    await this.ownAdmission?.close();
    throw new Error(`partition ${this.partition} was abandoned while starting`);
  }

  /**
   * Reads the partition's checkpoint. A read that overlaps a write of the same object (a previous
   * owner's last periodic checkpoint still under way when the lease moved) can wait forever for
   * chunks the write has just purged (seen with @nats-io/obj 3.x): each read gets a deadline and is
   * retried; the last failure stops the start, so the lease is released and taken again later
   * instead of being held by a partition that never runs.
   */
  private async readCheckpoint(name: string): Promise<Uint8Array | null> {
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

  private consumeOne(msg: StreamMessage): void | Promise<void> {
    if (this.stopped) return;
    const rejected = this.processor.process(msg.seq, msg.subject, msg.data, declaredContentType(msg));
    if (rejected !== null) this.deadLetter(rejected);
    if (this.timerWatch.timersWaited()) {
      // a backlog (the replay after a failover) comes in full batches handled in microtasks, with no
      // timer in between: seen under CPU load, lease renewals ran seconds late and the leases
      // expired, the partitions restarted and replayed again. Give way so timers and I/O run; only
      // when they waited, since each give-way lets the client read ahead (see TimerWatch).
      this.timerWatch.gaveWay();
      return new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (this.processor.heldCount >= MAX_HELD_EVENTS) {
      this.log.warn({ partition: this.partition, held: this.processor.heldCount }, 'too many events wait for their models\' admission: pausing this partition until some are settled');
      return new Promise<void>((resolve) => (this.heldDrained = resolve));
    }
  }

  /** A model's admission was settled: apply (or dead-letter) the events held for it. */
  private admissionSettled(model: string): void {
    if (this.stopped) return;
    for (const rejected of this.processor.releaseHeld(model)) this.deadLetter(rejected);
    if (this.heldDrained !== null && this.processor.heldCount < MAX_HELD_EVENTS / 2) {
      this.heldDrained();
      this.heldDrained = null;
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

  /**
   * Publishes every changed pane (but those `hold` lets wait: the flush timer's) and waits for the
   * acks; then drops panes that can no longer change.
   */
  flush(hold: SparseHold | null = null): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.flushOnce(hold).finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /** The lease was renewed until `expiresAt` (this process's clock). */
  extendLease(expiresAt: number): void {
    this.leaseExpiresAt = Math.max(this.leaseExpiresAt ?? 0, expiresAt);
  }

  /** Past its lease's expiry the runner writes nothing: the partition may be another worker's already. */
  private leaseLapsed(): boolean {
    return this.leaseExpiresAt !== undefined && Date.now() >= this.leaseExpiresAt;
  }

  private async flushOnce(hold: SparseHold | null): Promise<void> {
    this.lastFlushAt = Date.now();
    if (this.fenced !== null || this.leaseLapsed()) return;
    const processor = this.processor;
    const updates = processor.drainDirty(hold, this.lastFlushAt);
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
      duplicateLabels: join.stats.duplicateLabels,
      rejected: { ...counters.rejected },
      joined: join.stats.joined,
      expired: join.stats.expiredPredictions,
      unmatchedLabels: join.stats.expiredLabels,
      pendingJoins: join.size,
      earlyLabels: join.earlySize,
      lag: this.lag,
      live: this.live,
      recreations: this.consumer?.recreations ?? 0,
      pullsWrittenOff: this.consumer?.pullsWrittenOff ?? 0,
      seq: this.processor.seq,
      paneFlushes: this.flushed,
      checkpointAt: this.checkpointCurrentAt,
      checkpointBytes: this.checkpointBytes,
      refusedByModel: [...this.processor.refusedByModel],
      held: this.processor.heldCount,
    };
  }

  /**
   * Saves state and the sequence it reflects, atomically as one object. Under a lease the write
   * expects the object's revision this runner last read or wrote: when another writer came between,
   * the object's metadata says who. An older epoch (a stale owner that wrote after losing its lease)
   * is overwritten; a newer one means this runner's lease is stale, and it stops writing. Writes are
   * serialised: a hand-over's final checkpoint issued while a periodic one is still being written
   * would otherwise race it, and the older snapshot could land last.
   */
  checkpoint(): Promise<void> {
    // one write at a time: each expects the revision the previous one wrote
    const run = (this.checkpointing ?? Promise.resolve()).then(() => this.checkpointOnce());
    const tracked = run.finally(() => {
      if (this.checkpointing === tracked) this.checkpointing = null;
    });
    this.checkpointing = tracked;
    return tracked;
  }

  private async checkpointOnce(): Promise<void> {
    const processor = this.processor;
    if (this.fenced !== null || this.leaseLapsed()) return;
    if (processor.seq === this.lastCheckpointSeq) {
      // nothing consumed since: the stored checkpoint is still the partition's state (an idle
      // partition's checkpoint does not age)
      if (this.checkpointCurrentAt !== null) this.checkpointCurrentAt = Date.now();
      return;
    }
    if (!shouldCompact(this.chain, this.options.compaction ?? DEFAULT_COMPACTION) && (await this.checkpointDelta())) return;
    // a base: the first of this runner, or compacting its chain (or a delta could not be written)
    if (this.chain !== null) this.replacedChain = this.chain;
    this.chain = null;
    const baseId = randomUUID();
    // the sequence the snapshot covers, read with it: events consumed while a delta was tried are in it
    const seq = processor.seq;
    const bytes = processor.snapshot(baseId);
    const { owner } = this.options;
    const name = checkpointName(this.partition);
    const metadata: Record<string, string> = owner === undefined ? { baseId } : { worker: owner.worker, epoch: String(owner.epoch), baseId };
    const meta = { name, metadata };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const written = await this.store.putBlob(meta, bytes, owner === undefined ? undefined : { previousRevision: this.checkpointRevision });
        this.checkpointRevision = written.revision;
        this.lastCheckpointSeq = seq;
        this.checkpointCurrentAt = Date.now();
        this.checkpointBytes = bytes.length;
        this.chain = { baseId, index: 0, baseBytes: bytes.length, deltaBytes: 0 };
        // the replaced chain's deltas can never be read again (they name the old base)
        if (this.replacedChain !== null) void this.deleteDeltas(this.replacedChain);
        this.replacedChain = null;
        return;
      } catch (error) {
        if (owner !== undefined && (await this.checkpointTakenOver(owner))) {
          if (this.fenced !== null) return;
          continue;
        }
        this.log.warn({ partition: this.partition, err: (error as Error).message }, 'checkpoint failed; will retry');
        return;
      }
    }
  }

  /**
   * Appends a delta to this runner's chain; false when it must write a base instead (the base
   * object changed under it: a takeover or a stale writer, which the base's compare-and-set sorts
   * out; or the write failed, so the chain would have a gap).
   */
  private async checkpointDelta(): Promise<boolean> {
    const chain = this.chain as ChainPosition;
    const { owner } = this.options;
    if (owner !== undefined) {
      // fencing: deltas are new objects, so the base object tells whether another writer came between
      const info = await this.store.info(checkpointName(this.partition)).catch(() => null);
      if (info === null || info.revision !== this.checkpointRevision) return false;
    }
    const index = chain.index + 1;
    // the sequence this delta reaches, read with its snapshot: events were consumed during the
    // await above, and the next delta must follow exactly this one (it was read before the await,
    // and the next delta then claimed to follow a sequence this one had gone past: refused at restore)
    const seq = this.processor.seq;
    const bytes = this.processor.snapshotDelta({ baseId: chain.baseId, index, fromSeq: this.lastCheckpointSeq });
    const metadata: Record<string, string> = owner === undefined ? { baseId: chain.baseId } : { worker: owner.worker, epoch: String(owner.epoch), baseId: chain.baseId };
    try {
      // created only if absent: a chain's delta is never overwritten
      await this.store.putBlob({ name: deltaCheckpointName(this.partition, chain.baseId, index), metadata }, bytes, { previousRevision: 0 });
    } catch (error) {
      this.log.warn({ partition: this.partition, delta: index, err: (error as Error).message }, 'checkpoint delta failed; writing a base instead');
      return false;
    }
    chain.index = index;
    chain.deltaBytes += bytes.length;
    this.lastCheckpointSeq = seq;
    this.checkpointCurrentAt = Date.now();
    return true;
  }

  /** Deletes the deltas of a chain replaced by a newer base (best effort: a leftover is never read). */
  private async deleteDeltas(chain: { baseId: string; index: number }): Promise<void> {
    for (let index = 1; index <= chain.index; index++) {
      await this.store.delete(deltaCheckpointName(this.partition, chain.baseId, index)).catch((error: unknown) => {
        this.log.debug({ partition: this.partition, err: (error as Error).message }, 'could not delete a replaced checkpoint delta');
      });
    }
  }

  /** After a failed write: true when someone else wrote the object (this.fenced is set when it was a newer owner). */
  private async checkpointTakenOver(owner: PartitionOwner): Promise<boolean> {
    const info = await this.store.info(checkpointName(this.partition)).catch(() => null);
    if (info === null || info.revision === this.checkpointRevision) return false;
    const writer = checkpointOwnerOf(info);
    if (writer !== null && writer.epoch > owner.epoch) {
      this.fenced = new FencedError(this.partition, owner, writer);
      this.log.error({ partition: this.partition, epoch: owner.epoch, newerEpoch: writer.epoch, newerOwner: writer.worker }, 'checkpoint refused: a newer lease holder owns this partition; writing nothing more');
      return true;
    }
    if (writer?.worker !== owner.worker || writer.epoch !== owner.epoch) {
      this.log.warn({ partition: this.partition, epoch: owner.epoch, staleWriter: writer ?? 'unknown' }, 'checkpoint object was overwritten by an older epoch (a stale owner): overwriting it');
    }
    this.checkpointRevision = info.revision;
    return true;
  }

  /** Set when this runner found a newer owner's checkpoint and stopped writing. */
  get fencedBy(): FencedError | null {
    return this.fenced;
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
    this.log.info({ partition: this.partition, seq: this.processor.seq, checkpointed: this.lastCheckpointSeq, held: this.processor.heldCount }, 'partition stopped');
  }

  /**
   * Stops consuming at once and writes nothing more (no flush, no checkpoint): the partition's lease
   * was lost, so another worker may own it already and its checkpoint is the one that counts.
   */
  async abandon(): Promise<void> {
    const starting = !this.started;
    await this.stopConsuming();
    if (starting) this.log.warn({ partition: this.partition }, 'partition start abandoned');
    // held: events consumed (seq counts them) but not yet applied or counted, waiting for their
    // models' admission; the next owner applies them (from its checkpoint or the stream)
    else this.log.warn({ partition: this.partition, seq: this.processor.seq, held: this.processor.heldCount }, 'partition abandoned');
  }

  private async stopConsuming(): Promise<void> {
    this.stopped = true;
    this.timerWatch.stop();
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    this.unsubscribeAdmission?.();
    this.stopFollowingReferences?.();
    this.heldDrained?.();
    this.heldDrained = null;
    await this.consumer?.stop();
    await this.ownAdmission?.close();
  }
}
