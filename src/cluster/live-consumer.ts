import type { NatsConnection, Status } from '@nats-io/nats-core';
import { jetstream, DeliverPolicy } from '@nats-io/jetstream';
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';

/**
 * An ordered consumer that stays live across NATS restarts and leader changes.
 *
 * The client library recreates an ordered consumer itself, but only once its own missed-heartbeat
 * detection fires and its consumer-info probe stops backing off (30 s by default): after a server
 * restart the pipeline froze for 40–77 s while everything looked healthy. Here the consumer pulls
 * with a short idle heartbeat, and a watchdog recreates it from the caller's next sequence (last
 * applied + 1) when neither a message nor a heartbeat arrived within ~2.5 heartbeats, or as soon
 * as the connection reports a reconnect. Messages from a replaced consumer are never handed on,
 * and a sequence at or below the last one handed on is dropped, so nothing is applied twice.
 *
 * `pending` is the consumer's own count of messages not yet delivered plus those delivered but not
 * yet handed on, refreshed every `lagRefreshMs` whether or not messages arrive, and from one
 * message in 256 between refreshes (msg.info is costly per message; msg.seq is not).
 */
export interface LiveConsumerOptions {
  nc: NatsConnection;
  stream: string;
  filterSubjects?: string | string[];
  /** The stream sequence to resume from (last applied + 1); asked at each (re)creation. */
  nextSeq: () => number;
  /** Handles one message; a returned promise is awaited before the next message. */
  onMessage: (msg: JsMsg) => void | Promise<void>;
  /** Called whenever liveness changes (a consumer receiving, or not). */
  onLiveChange?: (live: boolean) => void;
  logger: Logger;
  maxMessages?: number;
  /** Server idle heartbeat on the pull requests (default 1000 ms, at least 500). */
  heartbeatMs?: number;
  /** How often `pending` is refreshed from the consumer's info (default 2000 ms). */
  lagRefreshMs?: number;
}

interface Session {
  generation: number;
  consumer: Consumer;
  messages: ConsumerMessages;
  /** Messages of this session handed on (to tell buffered from delivered). */
  handed: number;
}

const RETRY_MS = 250;
const noop = (): void => {};
/** `pending` is read from one message in 256 (the first of each run), between the timer's refreshes. */
const PENDING_SAMPLE_MASK = 255;

export class LiveConsumer {
  /** Messages behind the end of the filtered stream, as last reported by the consumer. */
  pending = 0;
  /** Consumers created after the first one (restarts, leader changes, stalls). */
  recreations = 0;
  private session: Session | null = null;
  private generation = 0;
  private lastActivity = 0;
  private lastCheck = 0;
  private lastHanded = 0;
  private liveState = false;
  private connected = true;
  private stopped = false;
  private recreating: Promise<void> | null = null;
  /**
   * The handler call in progress (whichever session's), until it settles. A session does not hand
   * on a message before it: a consumer recreated while a handler was still running (its pull
   * expired, the heartbeats stopped, the watchdog recreated it) handed the next messages on
   * concurrently, out of order with the one still being handled.
   */
  private inFlight: Promise<unknown> | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private lagTimer: NodeJS.Timeout | null = null;
  private statusLoop: Promise<void> | null = null;
  private connectionStatus: (AsyncIterable<Status> & { stop?: () => void }) | null = null;
  private readonly heartbeatMs: number;

  constructor(private readonly options: LiveConsumerOptions) {
    this.heartbeatMs = Math.max(500, options.heartbeatMs ?? 1000);
  }

  /** Creates the first consumer (its failure is the caller's: nothing is retried yet). */
  async start(): Promise<void> {
    this.session = await this.open();
    this.setLive(true);
    this.connectionStatus = this.options.nc.status() as AsyncIterable<Status> & { stop?: () => void };
    this.statusLoop = this.followConnection(this.connectionStatus);
    this.lastCheck = Date.now();
    this.watchdog = setInterval(() => this.checkAlive(), this.checkEveryMs);
    this.lagTimer = setInterval(() => void this.refreshPending(), this.options.lagRefreshMs ?? 2000);
  }

  /** A consumer exists and a message or heartbeat arrived recently, over a connected client. */
  get live(): boolean {
    return this.liveState;
  }

  private get checkEveryMs(): number {
    return this.heartbeatMs / 2;
  }

  private get staleAfterMs(): number {
    return this.heartbeatMs * 2.5;
  }

  private async open(): Promise<Session> {
    // a short API timeout: a request sent while the server is still coming back fails fast and is retried
    const js = jetstream(this.options.nc, { timeout: 2000 });
    const consumer = await js.consumers.get(this.options.stream, {
      ...(this.options.filterSubjects === undefined ? {} : { filter_subjects: this.options.filterSubjects }),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, this.options.nextSeq()),
    });
    const messages = await consumer.consume({
      max_messages: this.options.maxMessages ?? 512,
      idle_heartbeat: this.heartbeatMs,
      expires: Math.max(5000, this.heartbeatMs * 5),
    });
    const session: Session = { generation: ++this.generation, consumer, messages, handed: 0 };
    this.lastActivity = Date.now();
    void this.followMessages(session);
    void this.followStatus(session);
    return session;
  }

  private async followMessages(session: Session): Promise<void> {
    let handlerError: unknown = undefined;
    try {
      for await (const msg of session.messages) {
        // settled either way: its failure is its own session's to report
        if (this.inFlight !== null) await this.inFlight.then(noop, noop);
        if (this.stopped || session.generation !== this.generation) break;
        this.lastActivity = Date.now();
        if (msg.seq <= this.lastHanded) continue;
        this.lastHanded = msg.seq;
        session.handed++;
        // msg.info parses the reply subject (6 % of a worker's CPU when read on every message):
        // sampled, the timer's consumer info refreshes it anyway; msg.seq stays exact per message
        if ((session.handed & PENDING_SAMPLE_MASK) === 1) this.pending = msg.info.pending;
        try {
          const handled = this.options.onMessage(msg);
          if (handled !== undefined) {
            this.inFlight = handled;
            try {
              await handled;
            } finally {
              if (this.inFlight === handled) this.inFlight = null;
            }
          }
        } catch (error) {
          handlerError = error ?? new Error('message handler failed');
          this.options.logger.fatal({ stream: this.options.stream, seq: msg.seq, err: error }, 'message handler failed; consumer stopped');
          break;
        }
      }
    } catch (error) {
      if (!this.stopped && session.generation === this.generation) {
        this.options.logger.warn({ stream: this.options.stream, err: (error as Error).message }, 'consumer ended; recreating it');
      }
    }
    if (handlerError !== undefined) {
      // a handler that throws is a bug: recreating would skip or repeat the message, so stop and
      // fail loudly (an unhandled rejection): the process restarts from its checkpoint instead of
      // going quiet
      void this.stop();
      throw handlerError;
    }
    // whatever ended the current session's messages (an error, the library giving up), recreate
    if (!this.stopped && session.generation === this.generation) void this.recreate('consumer ended');
  }

  private async followStatus(session: Session): Promise<void> {
    try {
      for await (const s of session.messages.status()) {
        if (this.stopped || session.generation !== this.generation) break;
        if (s.type === 'heartbeat') {
          this.lastActivity = Date.now();
          if (this.connected) this.setLive(true);
        }
        // 'heartbeats_missed' is left to the watchdog, which does not mistake a blocked event
        // loop for a silent server
      }
    } catch {
      // the status iterator ends with its consumer
    }
  }

  private async followConnection(status: AsyncIterable<Status>): Promise<void> {
    try {
      for await (const s of status) {
        if (this.stopped) break;
        if (s.type === 'disconnect') {
          this.connected = false;
          this.setLive(false);
        } else if (s.type === 'reconnect') {
          this.connected = true;
          void this.recreate('reconnected');
        }
      }
    } catch {
      // ends with the connection
    }
  }

  private checkAlive(): void {
    const now = Date.now();
    const late = now - this.lastCheck - this.checkEveryMs;
    this.lastCheck = now;
    if (this.stopped || this.recreating !== null) return;
    // a handler still at work draws no message, so the server may go quiet (its pull expires):
    // that is the handler's time, not a dead consumer
    if (this.inFlight !== null) {
      this.lastActivity = now;
      return;
    }
    // after the event loop was blocked, timers run before the socket is read: heartbeats may be
    // waiting there, so judge on the next tick, once they had a chance to arrive
    if (late > this.checkEveryMs) return;
    if (now - this.lastActivity > this.staleAfterMs) {
      this.setLive(false);
      void this.recreate(`no message or heartbeat for ${this.staleAfterMs} ms`);
    }
  }

  /** Replaces the consumer by one starting after the last applied sequence, retrying until it works. */
  private recreate(reason: string): Promise<void> {
    if (this.recreating !== null) return this.recreating;
    this.recreating = (async () => {
      const old = this.session;
      this.session = null;
      this.generation++;
      this.setLive(false);
      if (old !== null) void old.messages.close().catch(() => undefined);
      this.options.logger.warn({ stream: this.options.stream, reason, nextSeq: this.options.nextSeq() }, 'recreating consumer');
      while (!this.stopped) {
        try {
          this.session = await this.open();
          this.recreations++;
          this.setLive(this.connected);
          this.options.logger.info({ stream: this.options.stream, nextSeq: this.options.nextSeq() }, 'consumer recreated');
          return;
        } catch (error) {
          this.options.logger.debug({ stream: this.options.stream, err: (error as Error).message }, 'consumer recreation failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        }
      }
    })().finally(() => {
      this.recreating = null;
    });
    return this.recreating;
  }

  /** num_pending (not yet delivered) + delivered but not yet handed on (buffered in the client). */
  private async refreshPending(): Promise<void> {
    const session = this.session;
    if (session === null || this.stopped) return;
    try {
      const info = await session.consumer.info(false);
      if (session !== this.session) return;
      const buffered = Math.max(0, info.delivered.consumer_seq - session.handed);
      this.pending = info.num_pending + buffered;
    } catch {
      // unreachable for now: the watchdog deals with it; the last figure stays
    }
  }

  private setLive(live: boolean): void {
    if (live === this.liveState) return;
    this.liveState = live;
    this.options.onLiveChange?.(live);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.connectionStatus?.stop?.();
    const session = this.session;
    this.session = null;
    this.generation++;
    if (session !== null) await session.messages.close().catch(() => undefined);
    await this.recreating?.catch(() => undefined);
    this.setLive(false);
    await this.statusLoop?.catch(() => undefined);
  }
}
