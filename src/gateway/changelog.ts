import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import type { StreamMessage } from '../cluster/stream-message.ts';
import type { Logger } from 'pino';
import { PANES_STREAM } from '../cluster/subjects.ts';
import { LiveConsumer } from '../cluster/live-consumer.ts';
import { MessageSlabs } from '../cluster/message-slabs.ts';
import { decodePaneMessage, PaneMessageError } from '../contract/pane-codec.ts';
import { MsgpackReader } from '../contract/msgpack-reader.ts';
import type { PipelineMetrics } from '../contract/pipeline-metrics.ts';
import type { WindowStore } from './window-store.ts';
import type { ChangelogPosition } from './reference-registry.ts';
import { PaneFence } from './pane-fence.ts';
import type { FenceRefusal } from './pane-fence.ts';
import { LoopTurns, PANE_APPLY_SLICE_MS, TimeSlicer, YIELD_WITHIN_PENDING } from './time-slice.ts';

/** Distinct (partition, worker, epoch, reason) refusals logged at most; later ones are only counted. */
const MAX_FENCE_LOG_KEYS = 1000;

/**
 * Follows the pane changelog (DRIFT_PANES, latest state per pane subject) with an ordered consumer
 * from the beginning: a gateway that starts, restarts or scales out rebuilds every window from it
 * and then stays live. The source is marked caught up once the replay has caught up, and live
 * while its consumer receives: after a NATS restart the consumer is recreated from the last pane
 * message seen + 1 (pane messages are full states, so nothing is lost or counted twice).
 * Every message goes through the pane codec, and the windows convert its state before they change:
 * a malformed message is counted, logged with its subject, and changes nothing. A well-formed pane
 * the fence refuses (a stale lease epoch, no known owner: see pane-fence.ts) changes nothing either.
 */
export class PaneChangelogReader implements ChangelogPosition {
  private consumer: LiveConsumer | null = null;
  /** The last pane-stream sequence seen (applied or refused). */
  private lastSeq = 0;
  /** Pane messages seen (applied or refused), for ChangelogPosition. */
  delivered = 0;
  applied = 0;
  /** Messages refused (malformed, or failing to apply): each is logged with its subject. */
  malformed = 0;
  private readonly fenceLogged = new Set<string>();
  /** Every pane message is read by this one reader: its caches hold the names and keys that repeat. */
  private readonly reader = new MsgpackReader();
  /**
   * Each pane message's bytes, copied on arrival: a message is done with once applied (its state
   * is copied out of it: ModelWindows.applyState), so the socket reads it came in die young instead
   * of waiting in the read-ahead into the old generation and starting full collections (MessageSlabs).
   */
  readonly slabs = new MessageSlabs();
  /** REST and the feed get a turn every slice; the statistics slices too while the consumer is near the head of the changelog. */
  private readonly slices: TimeSlicer;

  constructor(
    private readonly nc: NatsConnection,
    private readonly source: WindowStore,
    private readonly logger: Logger,
    private readonly metrics?: Pick<PipelineMetrics, 'paneMessagesRejected' | 'paneMessagesDropped'>,
    /** Judges each pane's worker and epoch; default: stream order only, no directory. */
    readonly fence: PaneFence = new PaneFence(),
    /** Event-loop turns shared with the statistics slices (GatewaySource's); default: turns of its own. */
    turns: LoopTurns = new LoopTurns(),
  ) {
    this.slices = new TimeSlicer(PANE_APPLY_SLICE_MS, { yieldWithinBacklog: YIELD_WITHIN_PENDING, turns });
  }

  /** Pane messages not yet applied, from the consumer's pending count. */
  get pending(): number {
    return this.consumer?.pending ?? 0;
  }

  async start(): Promise<void> {
    const jsm = await jetstream(this.nc).jetstreamManager();
    const info = await jsm.streams.info(PANES_STREAM);
    if (info.state.messages === 0) this.source.markCaughtUp();
    this.consumer = new LiveConsumer({
      nc: this.nc,
      stream: PANES_STREAM,
      nextSeq: () => this.lastSeq + 1,
      onMessage: (msg) => this.apply(msg),
      onLiveChange: (live) => this.source.markLive(live),
      logger: this.logger,
      maxMessages: 512,
      copyIntoSlabs: this.slabs,
    });
    await this.consumer.start();
  }

  /** Returns a promise when its slice of the event loop is used up: the consumer waits for it before the next message. */
  private apply(msg: StreamMessage): Promise<void> | undefined {
    this.lastSeq = msg.seq;
    this.delivered++;
    try {
      // msg.data is a copy in a slab (or, for a message too large to copy, a view of the client's
      // socket read): decoded sketches are views of it, and what the windows hold of a message is
      // copied out (ModelWindows.applyState), so it is given back as soon as this returns
      const message = decodePaneMessage(msg.data, this.reader);
      const refusal = this.fence.check(message, msg.storedAtMs);
      if (refusal === null) {
        this.source.applyPaneMessage(message);
        this.applied++;
      } else {
        this.metrics?.paneMessagesDropped.inc({ reason: `fenced_${refusal.reason}` });
        this.fenced(msg.subject, msg.seq, message, refusal);
      }
    } catch (error) {
      this.refused(msg.subject, msg.seq, error);
    }
    const pending = msg.pending;
    if (pending === 0) this.source.markCaughtUp();
    return this.slices.pause(pending);
  }

  /** Logged once per partition, worker, epoch and reason (a stale owner's flush is many panes). */
  private fenced(subject: string, seq: number, message: { partition: number; worker?: string; epoch?: number }, refusal: FenceRefusal): void {
    const key = `${message.partition}|${message.worker ?? ''}|${message.epoch ?? ''}|${refusal.reason}`;
    if (this.fenceLogged.has(key) || this.fenceLogged.size >= MAX_FENCE_LOG_KEYS) return;
    this.fenceLogged.add(key);
    this.logger.warn({ subject, seq, partition: message.partition, worker: message.worker, epoch: message.epoch, reason: refusal.reason, detail: refusal.detail }, 'pane refused by fencing; the windows are unchanged (further refusals of this worker and epoch are only counted)');
  }

  private refused(subject: string, seq: number, error: unknown): void {
    this.malformed++;
    this.metrics?.paneMessagesRejected.inc();
    if (error instanceof PaneMessageError) {
      this.logger.warn({ subject, seq, field: error.field, err: error.message }, 'skipping malformed pane message; the windows are unchanged');
    } else {
      this.logger.error({ subject, seq, err: error }, 'pane message failed to apply; skipped');
    }
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }
}
