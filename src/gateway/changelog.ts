import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, DeliverPolicy } from '@nats-io/jetstream';
import type { ConsumerMessages } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { PANES_STREAM } from '../cluster/subjects.ts';
import { decodePaneMessage, PaneMessageError } from '../contract/pane-codec.ts';
import type { PipelineMetrics } from '../contract/pipeline-metrics.ts';
import type { WindowStore } from './window-store.ts';

/**
 * Follows the pane changelog (DRIFT_PANES, latest state per pane subject) with an ordered consumer
 * from the beginning: a gateway that starts, restarts or scales out rebuilds every window from it
 * and then stays live. The source is marked ready once the replay has caught up.
 * Every message goes through the pane codec, and the windows convert its state before they change:
 * a malformed message is counted, logged with its subject, and changes nothing.
 */
export class PaneChangelogReader {
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;
  applied = 0;
  /** Messages refused (malformed, or failing to apply): each is logged with its subject. */
  malformed = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly source: WindowStore,
    private readonly logger: Logger,
    private readonly metrics?: Pick<PipelineMetrics, 'paneMessagesRejected'>,
  ) {}

  async start(): Promise<void> {
    const js = jetstream(this.nc);
    const jsm = await js.jetstreamManager();
    const info = await jsm.streams.info(PANES_STREAM);
    if (info.state.messages === 0) this.source.markCaughtUp();
    const consumer = await js.consumers.get(PANES_STREAM, { deliver_policy: DeliverPolicy.All });
    this.messages = await consumer.consume({ max_messages: 512 });
    const messages = this.messages;
    this.loop = (async () => {
      for await (const msg of messages) {
        try {
          // a copy: decoded sketches are views into it, and the client may reuse its read buffers
          this.source.applyPaneMessage(decodePaneMessage(msg.data.slice()));
          this.applied++;
        } catch (error) {
          this.refused(msg.subject, msg.seq, error);
        }
        if (msg.info.pending === 0) this.source.markCaughtUp();
      }
    })();
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
    if (this.messages) await this.messages.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
  }
}
