import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, DeliverPolicy } from '@nats-io/jetstream';
import type { ConsumerMessages } from '@nats-io/jetstream';
import { decode } from '@msgpack/msgpack';
import type { Logger } from 'pino';
import { PANES_STREAM } from '../cluster/subjects.ts';
import type { PaneMessage } from '../contract/pane-wire.ts';
import type { WindowStore } from './window-store.ts';

/**
 * Follows the pane changelog (DRIFT_PANES, latest state per pane subject) with an ordered consumer
 * from the beginning: a gateway that starts, restarts or scales out rebuilds every window from it
 * and then stays live. The source is marked ready once the replay has caught up.
 */
export class PaneChangelogReader {
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;
  applied = 0;
  malformed = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly source: WindowStore,
    private readonly logger: Logger,
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
          this.source.applyPaneMessage(decode(msg.data.slice()) as PaneMessage);
          this.applied++;
        } catch (error) {
          this.malformed++;
          this.logger.warn({ subject: msg.subject, err: (error as Error).message }, 'skipping malformed pane message');
        }
        if (msg.info.pending === 0) this.source.markCaughtUp();
      }
    })();
  }

  async stop(): Promise<void> {
    if (this.messages) await this.messages.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
  }
}
