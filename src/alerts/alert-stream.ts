/**
 * DRIFT_ALERTS read as a sequenced feed: every stored transition has a stream sequence, which the
 * WebSocket feed hands to its clients so a client that reconnects can name the last one it saw.
 * Transitions are stored once per id (Nats-Msg-Id, see publisher.ts), so the sequence counts
 * transitions, whichever gateway replica published them.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, DeliverPolicy } from '@nats-io/jetstream';
import type { JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { AlertEvent } from '../contract/metrics.ts';
import { ALERTS_STREAM } from '../cluster/subjects.ts';
import { LiveConsumer } from '../cluster/live-consumer.ts';

export interface SequencedAlert {
  /** The DRIFT_ALERTS stream sequence. */
  seq: number;
  alert: AlertEvent;
}

/** What the live feed needs from the alerts stream (an interface, so the feed is testable without NATS). */
export interface AlertStream {
  /** The stream's last sequence now (0 when it never held a message). */
  lastSeq(): Promise<number>;
  /** Follows the transitions stored after `afterSeq`, in order; resolves with a stop function once following. */
  follow(afterSeq: number, onAlert: (alert: SequencedAlert) => void): Promise<() => Promise<void>>;
  /**
   * Reads the stored transitions with afterSeq < seq <= uptoSeq, in order. Resolves with the
   * oldest sequence the stream still holds (those before it have aged out: they cannot be replayed).
   */
  read(afterSeq: number, uptoSeq: number, onAlert: (alert: SequencedAlert) => void): Promise<{ firstSeq: number }>;
}

/** A stored message that is not an AlertEvent is skipped (its sequence still counts as seen). */
function alertOf(msg: Pick<JsMsg, 'json'>): AlertEvent | undefined {
  try {
    const value = msg.json<AlertEvent>();
    return typeof value === 'object' && value !== null && typeof value.model === 'string' && typeof value.id === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

export class NatsAlertStream implements AlertStream {
  constructor(
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
  ) {}

  async lastSeq(): Promise<number> {
    const jsm = await jetstreamManager(this.nc);
    return (await jsm.streams.info(ALERTS_STREAM)).state.last_seq;
  }

  async follow(afterSeq: number, onAlert: (alert: SequencedAlert) => void): Promise<() => Promise<void>> {
    let last = afterSeq;
    const consumer = new LiveConsumer({
      nc: this.nc,
      stream: ALERTS_STREAM,
      nextSeq: () => last + 1,
      logger: this.logger,
      onMessage: (msg) => {
        last = msg.seq;
        const alert = alertOf(msg);
        if (alert === undefined) {
          this.logger.warn({ seq: msg.seq, subject: msg.subject }, 'DRIFT_ALERTS holds a message that is not an alert transition: not sent on the live feed');
          return;
        }
        onAlert({ seq: msg.seq, alert });
      },
    });
    await consumer.start();
    return () => consumer.stop();
  }

  async read(afterSeq: number, uptoSeq: number, onAlert: (alert: SequencedAlert) => void): Promise<{ firstSeq: number }> {
    const js = jetstream(this.nc);
    const jsm = await js.jetstreamManager();
    const { first_seq: firstSeq, last_seq: lastSeq } = (await jsm.streams.info(ALERTS_STREAM)).state;
    const from = Math.max(afterSeq + 1, firstSeq);
    const upto = Math.min(uptoSeq, lastSeq);
    if (from > upto) return { firstSeq };
    const consumer = await js.consumers.get(ALERTS_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from });
    for (;;) {
      const batch = await consumer.fetch({ max_messages: Math.min(1000, upto - from + 1), expires: 2000 });
      let inBatch = 0;
      let done = false;
      for await (const msg of batch) {
        inBatch++;
        if (msg.seq > upto) {
          done = true;
          break;
        }
        const alert = alertOf(msg);
        if (alert !== undefined) onAlert({ seq: msg.seq, alert });
        if (msg.seq === upto || msg.info.pending === 0) done = true;
      }
      if (done || inBatch === 0) return { firstSeq };
    }
  }
}
