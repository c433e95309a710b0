/**
 * The gateway bench's publisher, on a thread of its own so that the workers' share of the work
 * (folding events into panes, encoding pane states) does not take the gateway's thread: once a
 * second each model's current pane gets `ratePerModel` events and its state is encoded and posted,
 * with the closed pane's last state (final) first when the pane rolls over, as a worker flushes.
 * With `partitions` > 1 a model's events are spread over that many partitions, each with a pane of
 * its own, flushed in turn (one that got no event sends nothing, as a worker sends changed panes).
 * Or in a process of its own (`--publisher process`: forked with advanced serialization, its
 * PublisherInit in the environment), as workers are other processes than the gateway: a thread
 * shares the gateway process's V8 platform (its GC's background threads) and its CPU share.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { encodePaneMessage } from '../../src/contract/pane-codec.ts';
import { FLUSH_MS, PUBLISHER_INIT_ENV, PartitionedPanes } from './gateway-panes.ts';
import type { PartitionSpread } from './gateway-panes.ts';
import { ownThreadId } from './pinning.ts';

export type FlushPhases = 'spread' | 'aligned';

export interface PublisherInit {
  models: number;
  ratePerModel: number;
  /**
   * The feature centers of the models' reference, which a worker following the reference store
   * centers each model's panes on (all models share one reference here); null: each pane on its own
   * first values (a partition of its own before its model has a reference).
   */
  centers: Array<[string, number]> | null;
  /** Partitions each model's events are spread over (the default deployment has 16). */
  partitions: number;
  /** How (PartitionedPanes' `spread`). */
  spread: PartitionSpread;
  /** An open pane with fewer than 8 new events waits up to this after its last publication (SparseHold, as a worker holds it); 0: none waits. */
  sparseHoldMs: number;
  /**
   * `spread`: each partition's messages of a flush are posted at a phase of its own, partition p at
   * p / partitions of the flush interval, as partition runners flush on timers of their own (each
   * started with its partition: src/partition/runner.ts), so a gateway receives their flushes spread
   * over the second. `aligned`: every partition's at once (the bench before 2026-12-04).
   */
  flushPhases: FlushPhases;
  /** Post this thread's id first (`{ tid }`), for the bench to pin it (--pin). */
  reportThreadId?: boolean;
  /**
   * Replay (`--publisher replay`): make this many flushes' messages first (their events' times a
   * second apart from the start of making them), post `{ replaying }`, then post one flush's a
   * second, stamped as they are posted. Live (absent), each flush is made when it is due, and a
   * publisher slower than the traffic (300 models x 16 partitions on one core of this machine)
   * makes only part of it.
   */
  replaySeconds?: number;
}

/** Posted once a replaying publisher has made its messages and starts posting them. */
export interface PublisherReplaying {
  replaying: { flushes: number; messages: number; bytes: number; madeInMs: number };
}

/** A pane message as the bench's changelog queue takes it: its bytes lie in its part's (PublishedPart). */
export interface PublishedPane {
  model: number;
  /** The pane's subject on the changelog (model, partition, pane): the stream keeps its latest message alone. */
  subject: string;
  /** Where its bytes lie in the part's. */
  offset: number;
  length: number;
  /** Wall-clock ms it was published. */
  pub: number;
  /** Wall-clock ms the oldest event it brings arrived (FlushedPane.oldestEventAt; `pub` for a final state). */
  oldest: number;
  final: boolean;
}

/**
 * Pane messages end to end in one byte array, as a socket read of the NATS client holds them, and
 * where each lies. A thread's part moves to the bench without a copy (a transfer): posted as one
 * byte array per message, the bench's thread copied every message out of the post, all of a
 * flush's at once (Node reads a port's queued posts in one go): 100-300 ms at 300 models x 16
 * partitions that REST requests waited behind, which a NATS socket read does not cost.
 */
export interface PublishedPart {
  bytes: Uint8Array;
  panes: PublishedPane[];
}

/** Bytes of pane messages per message to the bench (thread or process): the NATS client's socket read. */
const POST_PART_BYTES = 64 * 1024;

/** Posted after each flush's states (none, when every pane waits): the bench counts the flushes made on time. */
export interface PublisherFlush {
  flushAt: number;
}

const forked = parentPort === null && process.send !== undefined && process.env[PUBLISHER_INIT_ENV] !== undefined;
if (parentPort === null && !forked) throw new Error('gateway-publisher runs as a worker thread or a forked process');
const post = (batch: PublishedPart | PublisherFlush | PublisherReplaying): void => {
  if (parentPort !== null) parentPort.postMessage(batch, 'bytes' in batch ? [batch.bytes.buffer as ArrayBuffer] : []);
  else process.send?.(batch);
};
const { models, ratePerModel, centers, partitions, spread, sparseHoldMs, flushPhases, reportThreadId, replaySeconds } = (forked ? JSON.parse(process.env[PUBLISHER_INIT_ENV] ?? '{}') : workerData) as PublisherInit;
const names = Array.from({ length: models }, (_, m) => `model-${m}`);
const modelCenters = names.map(() => (centers === null ? null : new Map(centers)));
const panes = new PartitionedPanes(names, partitions, modelCenters, { maxMs: sparseHoldMs, events: 8 }, null, undefined, spread);

/** One flush's messages as made: the time its oldest event came, as ms before the flush (a final state's: 0). */
interface MadePane {
  model: number;
  partition: number;
  subject: string;
  bytes: Uint8Array;
  oldestAgoMs: number;
  final: boolean;
}

function make(now: number): MadePane[] {
  return panes.flush(now, Math.round((ratePerModel * FLUSH_MS) / 1000)).map(({ model, message, oldestEventAt }) => ({
    model,
    partition: message.partition,
    subject: `${model}.${message.partition}.${message.paneStart}`,
    bytes: encodePaneMessage(message),
    oldestAgoMs: now - (oldestEventAt ?? now),
    final: message.final === true,
  }));
}

/**
 * Posts one flush's messages, stamped as published `now`, in parts of a socket read's size
 * (PublishedPart), as the NATS client hands the gateway what it reads, not as one message of the whole second (3,200
 * states, 5-10 MB, at 200 models x 16 partitions) read in one go on the gateway's thread. A
 * forked publisher's single message took the gateway's thread longer than applying the states (784
 * against 869 messages a second made, 50 against 38 % of the core); a thread's, no clear
 * difference (REST p99 at 200 x 16 without scrapes 182-290 ms before, 162 ms after, one run).
 */
function postParts(made: readonly MadePane[], now: number): void {
  let from = 0;
  let bytes = 0;
  for (let i = 0; i < made.length; i++) {
    bytes += made[i].bytes.byteLength;
    if (bytes < POST_PART_BYTES && i < made.length - 1) continue;
    const part = new Uint8Array(bytes);
    const panes: PublishedPane[] = [];
    let offset = 0;
    for (let k = from; k <= i; k++) {
      const { model, subject, bytes: message, oldestAgoMs, final } = made[k];
      part.set(message, offset);
      panes.push({ model, subject, offset, length: message.byteLength, pub: now, oldest: now - oldestAgoMs, final });
      offset += message.byteLength;
    }
    post({ bytes: part, panes });
    from = i + 1;
    bytes = 0;
  }
}

/**
 * Posts one flush's messages (postParts), every partition's at once or each at its phase
 * (`flushPhases`), each stamped as published when it is posted, as a partition's flush would be;
 * then `{ flushAt }`, after the last partition's.
 */
function postFlush(made: readonly MadePane[]): void {
  if (flushPhases === 'aligned' || partitions === 1) {
    const now = Date.now();
    postParts(made, now);
    post({ flushAt: now });
    return;
  }
  const byPartition: MadePane[][] = Array.from({ length: partitions }, () => []);
  for (const pane of made) byPartition[pane.partition].push(pane);
  const started = Date.now();
  const postPartition = (partition: number): void => {
    postParts(byPartition[partition], Date.now());
    if (partition === partitions - 1) post({ flushAt: started });
    else setTimeout(postPartition, started + ((partition + 1) * FLUSH_MS) / partitions - Date.now(), partition + 1);
  };
  postPartition(0);
}

if (reportThreadId === true && parentPort !== null) parentPort.postMessage({ tid: ownThreadId() });
let timer: NodeJS.Timeout;
if (replaySeconds === undefined) {
  const publish = (): void => postFlush(make(Date.now()));
  publish();
  timer = setInterval(publish, FLUSH_MS);
} else {
  const started = Date.now();
  const flushes = Array.from({ length: replaySeconds }, (_, k) => make(started + k * FLUSH_MS));
  const messages = flushes.reduce((sum, made) => sum + made.length, 0);
  const bytes = flushes.reduce((sum, made) => made.reduce((b, pane) => b + pane.bytes.byteLength, sum), 0);
  post({ replaying: { flushes: flushes.length, messages, bytes, madeInMs: Date.now() - started } });
  let next = 0;
  const replay = (): void => {
    const made = flushes[next];
    if (made === undefined) return clearInterval(timer);
    // let go as posted: a replay of 300 x 16 holds ~10 MB a second of messages
    flushes[next++] = [];
    postFlush(made);
  };
  replay();
  timer = setInterval(replay, FLUSH_MS);
}
// a forked publisher ends with its parent's channel
if (forked) process.on('disconnect', () => clearInterval(timer));
