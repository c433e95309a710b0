import { createInbox, nanos, nuid } from '@nats-io/nats-core';
import type { Msg, NatsConnection, Status, Subscription } from '@nats-io/nats-core';
import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import type { ConsumerConfig, JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { CopiedMsg, readAckReply, readAckTail, StreamMessage, type AckReplyPosition } from './stream-message.ts';
import type { MessageSlabs } from './message-slabs.ts';

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
 * The ordered consumer is this class's own, on the client's core API: an ephemeral consumer
 * (acknowledging nothing, in memory, one replica, as the library's ordered consumer makes it),
 * pulled on an inbox whose messages are handed on from the subscription's callback, as the socket
 * is read. A gap in the delivery sequence (a message lost between server and client) recreates it
 * from the caller's next sequence, as the library's does. What it saves per message: the library's
 * `JsMsg` and its `info` (the delivery subject split and parsed, 19 % of its raw consumer's CPU in
 * `bench/ingest.ts`), and the async iterator's queue and promises (12 %): the raw read of a
 * partition ~35 % cheaper (see the README's results table).
 *
 * `pending` is the consumer's own count of messages not yet delivered plus those delivered but not
 * yet handed on, refreshed every `lagRefreshMs` whether or not messages arrive, and from one
 * message in 256 between refreshes.
 */
export interface LiveConsumerOptions {
  nc: NatsConnection;
  stream: string;
  filterSubjects?: string | string[];
  /** The stream sequence to resume from (last applied + 1); asked at each (re)creation. */
  nextSeq: () => number;
  /** Handles one message; a returned promise is awaited before the next message is handed on. */
  onMessage: (msg: StreamMessage) => void | Promise<void>;
  /** Called whenever liveness changes (a consumer receiving, or not). */
  onLiveChange?: (live: boolean) => void;
  logger: Logger;
  /** Messages asked for ahead of those handed on (pulled and waiting together; default 512). */
  maxMessages?: number;
  /** Server idle heartbeat on the pull requests (default 1000 ms, at least 500). */
  heartbeatMs?: number;
  /** How often `pending` is refreshed from the consumer's info (default 2000 ms). */
  lagRefreshMs?: number;
  /**
   * Copies each message's bytes into these slabs as it arrives, and gives them back once
   * `onMessage` has returned (or the message is dropped): for a handler that reads a message's
   * bytes only until it returns, not in the promise it returns, and keeps no view of them. The
   * socket reads the messages came in are then let go as soon as the client has parsed them,
   * rather than outliving the young generation while the read-ahead waits (see MessageSlabs).
   */
  copyIntoSlabs?: MessageSlabs;
}

interface Session {
  generation: number;
  /** The server-side consumer's name. */
  name: string;
  inbox: string;
  subscription: Subscription | null;
  /** The pull subject of the consumer. */
  next: string;
  /** Messages asked for and neither delivered nor given up by the server (a pull's expiry). */
  outstanding: number;
  /** The last delivery sequence received: the next must be one more. */
  deliverySeq: number;
  /** Messages of this session handed on (to tell buffered from delivered). */
  handed: number;
  /** The delivery subjects' part before the delivery count, once a message showed it (see readAckTail). */
  replyPrefix: string | null;
  /** When the newest pull was sent (Date.now()): see checkAlive. */
  lastPullAt: number;
  /** A watchdog tick found the newest pull expired with messages still counted: the next one judges. */
  expiredUnreported: boolean;
}

const RETRY_MS = 250;
const noop = (): void => {};
/** `pending` is read from one message in 256 (the first of each run), between the timer's refreshes. */
const PENDING_SAMPLE_MASK = 255;
/** What a pull asks for once this share of the read-ahead is left outstanding (the library's 75 %). */
const REFILL_AT = 0.75;
const API_PREFIX = '$JS.API';
/** Status codes of a pull's end: no messages (no-wait), expired, or ended by the server. */
const STATUS_HEARTBEAT = 100;
const STATUS_NO_MESSAGES = 404;
const STATUS_EXPIRED = 408;
const STATUS_CONFLICT = 409;
const PENDING_MESSAGES_HEADER = 'Nats-Pending-Messages';

export class LiveConsumer {
  /** Messages behind the end of the filtered stream, as last reported by the consumer. */
  pending = 0;
  /** Consumers created after the first one (restarts, leader changes, stalls). */
  recreations = 0;
  /**
   * Times every pull sent had expired with messages still counted as asked for: the server ended
   * one without its 408 (see checkAlive), and the consumer asked again instead of going quiet.
   */
  pullsWrittenOff = 0;
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
   * The handler call in progress (whichever session's), until it settles. Messages received
   * meanwhile wait in `waiting` (at most the read-ahead: a pull counts them as outstanding): a
   * consumer recreated while a handler was still running (its pull expired, the heartbeats
   * stopped, the watchdog recreated it) handed the next messages on concurrently, out of order
   * with the one still being handled, until they were made to wait.
   */
  private inFlight: Promise<unknown> | null = null;
  private waiting: StreamMessage[] = [];
  private waitingHead = 0;
  private watchdog: NodeJS.Timeout | null = null;
  private lagTimer: NodeJS.Timeout | null = null;
  private statusLoop: Promise<void> | null = null;
  private connectionStatus: (AsyncIterable<Status> & { stop?: () => void }) | null = null;
  private manager: JetStreamManager | null = null;
  private readonly heartbeatMs: number;
  private readonly maxMessages: number;
  private readonly refillAt: number;
  private readonly namePrefix = `lc_${nuid.next()}`;
  private serial = 0;
  /** Scratch of the delivery subject's reading (one per consumer: no object per message). */
  private readonly reply: AckReplyPosition = { streamSeq: 0, deliverySeq: 0, timestampDot: 0, tailFrom: 0 };
  private readonly replyDots = new Int32Array(12);

  constructor(private readonly options: LiveConsumerOptions) {
    this.heartbeatMs = Math.max(500, options.heartbeatMs ?? 1000);
    this.maxMessages = Math.max(1, options.maxMessages ?? 512);
    this.refillAt = Math.max(0, Math.round(this.maxMessages * REFILL_AT));
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

  /** How long a pull waits at most (the server asks for at least twice the heartbeat). */
  private get pullExpiresMs(): number {
    return Math.max(5000, this.heartbeatMs * 5);
  }

  private async jsm(): Promise<JetStreamManager> {
    // a short API timeout: a request sent while the server is still coming back fails fast and is retried
    this.manager ??= await jetstreamManager(this.options.nc, { timeout: 2000, checkAPI: false });
    return this.manager;
  }

  private consumerConfig(name: string): Partial<ConsumerConfig> {
    const config: Partial<ConsumerConfig> = {
      name,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, this.options.nextSeq()),
      ack_policy: AckPolicy.None,
      inactive_threshold: nanos(5 * 60 * 1000),
      num_replicas: 1,
      max_deliver: 1,
      mem_storage: true,
    };
    const filter = this.options.filterSubjects;
    // one subject as `filter_subject`: servers before 2.10 know no other
    if (typeof filter === 'string') config.filter_subject = filter;
    else if (filter !== undefined && filter.length === 1) config.filter_subject = filter[0];
    else if (filter !== undefined && filter.length > 1) config.filter_subjects = filter;
    return config;
  }

  private async open(): Promise<Session> {
    const jsm = await this.jsm();
    const name = `${this.namePrefix}_${++this.serial}`;
    await jsm.consumers.add(this.options.stream, this.consumerConfig(name));
    const session: Session = {
      generation: ++this.generation,
      name,
      inbox: createInbox((this.options.nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix),
      subscription: null,
      next: `${API_PREFIX}.CONSUMER.MSG.NEXT.${this.options.stream}.${name}`,
      outstanding: 0,
      deliverySeq: 0,
      handed: 0,
      replyPrefix: null,
      lastPullAt: 0,
      expiredUnreported: false,
    };
    if (this.stopped) {
      void jsm.consumers.delete(this.options.stream, name).catch(noop);
      return session;
    }
    session.subscription = this.options.nc.subscribe(session.inbox, { callback: (error, msg) => this.receive(session, error, msg) });
    this.lastActivity = Date.now();
    this.refill(session);
    return session;
  }

  /** Asks for what the read-ahead leaves once enough of it was delivered (or given up). */
  private refill(session: Session): void {
    const owed = session.outstanding + this.waiting.length - this.waitingHead;
    if (owed > this.refillAt || this.stopped || session.generation !== this.generation) return;
    const batch = this.maxMessages - owed;
    session.outstanding += batch;
    const request = JSON.stringify({
      batch,
      expires: nanos(this.pullExpiresMs),
      idle_heartbeat: nanos(this.heartbeatMs),
    });
    try {
      this.options.nc.publish(session.next, request, { reply: session.inbox });
      session.lastPullAt = Date.now();
    } catch (error) {
      // a closed or draining connection: the watchdog or the reconnect recreates the consumer
      session.outstanding -= batch;
      this.options.logger.debug({ stream: this.options.stream, err: (error as Error).message }, 'pull request not sent');
    }
  }

  private receive(session: Session, error: Error | null, msg: Msg): void {
    if (this.stopped || session.generation !== this.generation) return;
    if (error !== null) {
      this.options.logger.warn({ stream: this.options.stream, err: error.message }, 'consumer subscription failed; recreating it');
      void this.recreate('subscription failed');
      return;
    }
    this.lastActivity = Date.now();
    if (msg.subject === session.inbox) {
      this.serverStatus(session, msg);
      return;
    }
    session.outstanding--;
    const reply = this.reply;
    const replySubject = msg.reply ?? '';
    const prefix = session.replyPrefix;
    // the prefix compared as a slice: startsWith took ~4x as long on these subjects (V8 12, Node 20)
    if (prefix === null || replySubject.slice(0, prefix.length) !== prefix || !readAckTail(replySubject, prefix.length, reply)) {
      if (!readAckReply(replySubject, reply, this.replyDots)) {
        void this.recreate(`a message on ${msg.subject} without a JetStream delivery subject (${msg.reply ?? 'none'})`);
        return;
      }
      session.replyPrefix = replySubject.slice(0, reply.tailFrom);
    }
    if (reply.deliverySeq !== session.deliverySeq + 1) {
      void this.recreate(`delivery sequence ${reply.deliverySeq} after ${session.deliverySeq}: messages lost on the way`);
      return;
    }
    session.deliverySeq = reply.deliverySeq;
    const copy = this.options.copyIntoSlabs?.copy(msg.data) ?? null;
    const message = new StreamMessage(copy === null ? msg : new CopiedMsg(msg, copy), reply.streamSeq, reply.timestampDot);
    if (this.inFlight !== null || this.waitingHead < this.waiting.length) this.waiting.push(message);
    else this.hand(session, message);
    this.refill(session);
  }

  /** A message of the server on the inbox: a heartbeat, or the end of a pull. */
  private serverStatus(session: Session, msg: Msg): void {
    const headers = msg.headers;
    const code = headers?.code ?? 0;
    if (code === STATUS_HEARTBEAT) {
      if (this.connected) this.setLive(true);
      return;
    }
    const description = headers?.description ?? '';
    const left = Number(headers?.get(PENDING_MESSAGES_HEADER) ?? '');
    // a pull that ended with messages still asked for: ask again for them (409s that end a pull
    // for a limit carry the count too; one without it, such as a deleted consumer, recreates)
    if ((code === STATUS_EXPIRED || code === STATUS_NO_MESSAGES || code === STATUS_CONFLICT) && Number.isFinite(left) && left > 0) {
      session.outstanding = Math.max(0, session.outstanding - left);
      this.refill(session);
      return;
    }
    if (code === STATUS_EXPIRED || code === STATUS_NO_MESSAGES) return;
    void this.recreate(`the server ended the pull: ${code} ${description}`);
  }

  /** Hands one message on (or drops it as already handed on), then those waiting behind it. */
  private hand(session: Session, message: StreamMessage): void {
    if (message.seq <= this.lastHanded) {
      release(message);
      return;
    }
    this.lastHanded = message.seq;
    session.handed++;
    if ((session.handed & PENDING_SAMPLE_MASK) === 1) this.pending = message.pending;
    let handled: void | Promise<void>;
    try {
      handled = this.options.onMessage(message);
    } catch (error) {
      release(message);
      this.fail(message, error);
      return;
    }
    release(message);
    if (handled === undefined) return;
    const inFlight: Promise<void> = handled;
    this.inFlight = inFlight;
    inFlight.then(
      () => {
        if (this.inFlight === inFlight) this.inFlight = null;
        this.handWaiting();
      },
      (error: unknown) => {
        if (this.inFlight === inFlight) this.inFlight = null;
        this.fail(message, error);
      },
    );
  }

  /** Hands on the messages that waited for a handler, until one returns a promise again. */
  private handWaiting(): void {
    const session = this.session;
    while (this.inFlight === null && this.waitingHead < this.waiting.length && !this.stopped && session !== null) {
      const message = this.waiting[this.waitingHead]!;
      this.waiting[this.waitingHead++] = undefined as unknown as StreamMessage;
      this.hand(session, message);
    }
    if (this.waitingHead === this.waiting.length) this.clearWaiting();
    if (session !== null) this.refill(session);
  }

  private clearWaiting(): void {
    for (let k = this.waitingHead; k < this.waiting.length; k++) release(this.waiting[k]!);
    this.waiting = [];
    this.waitingHead = 0;
  }

  /**
   * A handler that throws is a bug: recreating would skip or repeat the message, so stop and fail
   * loudly (an unhandled rejection): the process restarts from its checkpoint instead of going quiet.
   */
  private fail(message: StreamMessage, error: unknown): void {
    const failure = error ?? new Error('message handler failed');
    this.options.logger.fatal({ stream: this.options.stream, seq: message.seq, err: failure }, 'message handler failed; consumer stopped');
    void this.stop();
    void Promise.reject(failure);
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
    // The newest pull has expired, yet messages are still counted as asked for: the server ended a
    // pull without its 408 (nats-server before 2.9.16 drops a pull that expires just as a message
    // comes, silently). A pull is sent whenever a quarter of the read-ahead was delivered, so the
    // newest one is open until it has expired: none is left to deliver or to send heartbeats, and
    // the counted rest would keep the consumer from asking again until the watchdog recreated it.
    // Judged at the next tick, once the socket was read: a 408 may be waiting there behind a busy
    // event loop (timers run before the socket is read). Should the pull still be open after all (a
    // server that lags), the read-ahead is over by its rest until its 408 comes.
    const session = this.session;
    if (session !== null && this.connected && session.outstanding > 0 && now - session.lastPullAt > this.pullExpiresMs) {
      if (!session.expiredUnreported) {
        session.expiredUnreported = true;
      } else {
        session.expiredUnreported = false;
        session.outstanding = 0;
        this.pullsWrittenOff++;
        // the new pull's first heartbeat is a heartbeat away
        this.lastActivity = now;
        this.options.logger.info({ stream: this.options.stream, nextSeq: this.options.nextSeq() }, 'the newest pull expired unreported; pulling again');
        this.refill(session);
        return;
      }
    } else if (session !== null) session.expiredUnreported = false;
    if (now - this.lastActivity > this.staleAfterMs) {
      this.setLive(false);
      void this.recreate(`no message or heartbeat for ${this.staleAfterMs} ms`);
    }
  }

  /** Ends a session: its subscription, and its consumer on the server (which would expire anyway). */
  private close(session: Session): void {
    session.subscription?.unsubscribe();
    session.subscription = null;
    const manager = this.manager;
    if (manager !== null) void manager.consumers.delete(this.options.stream, session.name).catch(noop);
  }

  /** Replaces the consumer by one starting after the last applied sequence, retrying until it works. */
  private recreate(reason: string): Promise<void> {
    if (this.recreating !== null) return this.recreating;
    this.recreating = (async () => {
      const old = this.session;
      this.session = null;
      this.generation++;
      this.setLive(false);
      // not handed on: the next consumer delivers them again from the caller's next sequence
      this.clearWaiting();
      if (old !== null) this.close(old);
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
    if (session === null || this.stopped || this.manager === null) return;
    try {
      const info = await this.manager.consumers.info(this.options.stream, session.name);
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
    this.clearWaiting();
    if (session !== null) this.close(session);
    await this.recreating?.catch(() => undefined);
    this.setLive(false);
    await this.statusLoop?.catch(() => undefined);
  }
}

/** A message copied into slabs (`copyIntoSlabs`) gives its copy back; any other is left alone. */
function release(message: StreamMessage): void {
  if (message.msg instanceof CopiedMsg) message.msg.release();
}
