import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import type { JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { PANES_STREAM } from '../cluster/subjects.ts';
import { LiveConsumer } from '../cluster/live-consumer.ts';
import { decodePaneMessage, PaneMessageError } from '../contract/pane-codec.ts';
import type { PipelineMetrics } from '../contract/pipeline-metrics.ts';
import type { WindowStore } from './window-store.ts';

/**
 * Follows the pane changelog (DRIFT_PANES, latest state per pane subject) with an ordered consumer
 * from the beginning: a gateway that starts, restarts or scales out rebuilds every window from it
 * and then stays live. The source is marked caught up once the replay has caught up, and live
 * while its consumer receives: after a NATS restart the consumer is recreated from the last pane
 * message seen + 1 (pane messages are full states, so nothing is lost or counted twice).
 * Every message goes through the pane codec, and the windows convert its state before they change:
 * a malformed message is counted, logged with its subject, and changes nothing.
 */
export class PaneChangelogReader {
  private consumer: LiveConsumer | null = null;
  /** The last pane-stream sequence seen (applied or refused). */
  private lastSeq = 0;
  applied = 0;
  /** Messages refused (malformed, or failing to apply): each is logged with its subject. */
  malformed = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly source: WindowStore,
    private readonly logger: Logger,
    private readonly metrics?: Pick<PipelineMetrics, 'paneMessagesRejected'>,
  ) {}

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
    });
    await this.consumer.start();
  }

  private apply(msg: JsMsg): void {
    this.lastSeq = msg.seq;
    try {
      // a copy: decoded sketches are views into it, and the client may reuse its read buffers
      this.source.applyPaneMessage(decodePaneMessage(msg.data.slice()));
      this.applied++;
    } catch (error) {
      this.refused(msg.subject, msg.seq, error);
    }
    if (msg.info.pending === 0) this.source.markCaughtUp();
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
