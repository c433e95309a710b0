/**
 * The publisher SDK: what a TypeScript model service uses to send predictions and labels.
 *
 * It validates each event with the same rules as the worker (so a bad event fails in the
 * caller, with the field named, instead of landing in the dead-letter subject), encodes it,
 * routes it to its partition subject and publishes it to JetStream with an asynchronous ack.
 * Up to `maxInFlight` acks may be outstanding; past that, a publish waits for the oldest ack:
 * that is the backpressure a service feels when JetStream cannot keep up.
 *
 * Acks come back on one wildcard subscription (a reply subject per publish under the
 * publisher's own inbox), as the Go client's PublishAsync does, rather than through one
 * `nc.request` per event: the NATS JavaScript client (3.4) builds an Error with its stack trace
 * for every request, even a successful one (nats-io/nats.deno#614), which took about half of a
 * publisher's CPU (`npm run bench -- publish`).
 */
import { createInbox, headers as natsHeaders } from '@nats-io/transport-node';
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import { readClusterMetadata, validatePartitionCount } from '../cluster/metadata.ts';
import { labelSubject, predictionSubject, SCHEMA_VERSION } from '../cluster/subjects.ts';
import { partitionOf } from '../partition/hash.ts';
import { EventEncoder } from '../events/encode.ts';
import { checkLabel, checkPrediction, DEFAULT_VERSION, WIRE_LIMITS } from '../events/validate.ts';
import type { LabelEvent, PredictionEvent } from '../events/types.ts';
import { labelMsgId, predictionMsgId } from './msg-id.ts';

/**
 * A prediction as a caller writes it: `version` defaults to 'default', `ts` to Date.now().
 * `output` is required unless `error` is present (checked when published): a failed inference
 * may have none, and then counts in volume and error rate only.
 */
export type PredictionInput = Omit<PredictionEvent, 'version' | 'ts'> & { version?: string; ts?: number };

/** A label as a caller writes it: `ts` defaults to Date.now(). */
export type LabelInput = Omit<LabelEvent, 'ts'> & { ts?: number };

/**
 * Names callers give an event time that the contract does not read (it is `ts`). The publisher
 * sends the contract's fields only, so such an event went out stamped with the publish time, its
 * own time dropped without a word: a backfill of 5 minutes of predictions published in a few
 * seconds landed in one minute, and no automatic reference was ever due.
 */
const EVENT_TIME_NAMES = ['timestamp', 'time', 'eventTime', 'event_time'] as const;

/** Throws a TypeError naming the field when an event without `ts` gives its time under another name. */
function refuseMisnamedEventTime(kind: 'prediction' | 'label', ev: object): void {
  if ((ev as { ts?: unknown }).ts !== undefined) return;
  const name = EVENT_TIME_NAMES.find((candidate) => Object.hasOwn(ev, candidate));
  if (name !== undefined) throw new TypeError(`invalid ${kind}: field '${name}' is not read: the event time goes in 'ts' (epoch milliseconds; publish time when absent)`);
}

export interface PublisherOptions {
  /** Outstanding JetStream acks before a publish waits for the oldest (default 1024). */
  maxInFlight?: number;
  /** Partition count; read from the cluster metadata in KV when omitted (recommended). */
  partitions?: number;
  /** Payload encoding (default 'msgpack'). */
  format?: 'msgpack' | 'json';
  /** Milliseconds to wait for each JetStream ack (default 5000, as the NATS JetStream client). */
  timeoutMs?: number;
  /**
   * How long a publish keeps retrying while NATS is unreachable or JetStream does not answer
   * (a server restart, a stream leader election), with backoff, before it counts as failed
   * (default 30000; 0 = no retry). A retry whose first attempt was stored (only the ack was lost)
   * carries the same `Nats-Msg-Id`, so JetStream drops it; keep retryForMs below the stream's
   * duplicate window (2 minutes) for that to hold.
   */
  retryForMs?: number;
  /**
   * Set `Nats-Msg-Id` to `<model>:<id>:pred` / `<model>:<id>:label` (default true), so that
   * JetStream stores a retried or re-published event once within the stream's duplicate window
   * (2 minutes). JetStream keeps each id of the window in memory: at very high rates you may turn
   * this off and rely on the worker, which counts a prediction id that is still pending once. Off,
   * a publish retried after its ack was lost (a loaded server) may be stored twice: the worker
   * applies a copy of a prediction or label once (counted in drift_events_consumed_total and in
   * drift_events_duplicate_total), but dead-letters both copies of a refused model's event.
   */
  deduplicate?: boolean;
}

/** Failures that a server restart or a leader election causes, and that a retry can outlive. */
function isTransient(error: unknown): boolean {
  const text = `${(error as Error)?.name ?? ''} ${(error as Error)?.message ?? ''}`.toLowerCase();
  return /timeout|no responders|disconnect|closed|reconnect|not enabled|unavailable|leader/.test(text);
}

/** Thrown by flush()/close() when some publishes since the previous flush were not acknowledged. */
export class PublishError extends AggregateError {
  override readonly name = 'PublishError';
  constructor(
    /** How many publishes failed since the previous flush. */
    readonly failed: number,
    errors: Error[],
  ) {
    super(
      errors,
      `${failed} publish${failed === 1 ? '' : 'es'} to JetStream failed since the last flush` +
        (errors.length > 0 ? `; first: ${errors[0].message}` : ''),
    );
  }
}

export const NOT_PROVISIONED_MESSAGE =
  'driftwatch is not provisioned on this NATS: start a worker (`npm run worker`, or `npm start`) against it ' +
  'once so that it creates the streams and the cluster metadata, or pass `partitions` explicitly';

const DEFAULT_MAX_IN_FLIGHT = 1024;
/** Failures kept with their message for the aggregated error; the rest are only counted. */
const MAX_KEPT_ERRORS = 10;

const DEFAULT_ACK_TIMEOUT_MS = 5000;

/** One publish attempt waiting for its ack on the publisher's inbox. */
interface AckWait {
  resolve(): void;
  reject(error: Error): void;
  expiresAt: number;
}

/** A JetStream publish ack, or its refusal (the fields driftwatch reads). */
interface PubAckBody {
  stream?: string;
  seq?: number;
  error?: { code?: number; err_code?: number; description?: string };
}

/** One outstanding publish: settles (never rejects) when its ack or its failure arrives. */
interface PendingAck {
  settled: boolean;
  readonly done: Promise<void>;
}

function checkPositiveInteger(value: number | undefined, name: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new RangeError(`DriftPublisher: ${name} must be a positive integer, got ${String(value)}`);
  }
}

export class DriftPublisher {
  readonly partitions: number;
  readonly #nc: NatsConnection;
  readonly #encoder = new EventEncoder();
  readonly #json: boolean;
  readonly #maxInFlight: number;
  readonly #timeoutMs: number;
  readonly #retryForMs: number;
  /** Reply subjects are `<inbox>.<token>`; one subscription on `<inbox>.*` receives every ack. */
  readonly #inbox: string;
  readonly #acks = new Map<string, AckWait>();
  #nextToken = 0;
  readonly #ackSubscription: Subscription;
  /** Expires attempts whose ack did not come in time (they are in publish order in #acks). */
  readonly #sweeper: ReturnType<typeof setInterval>;
  /** An expiry is waiting for this turn's I/O (see #expireAcks). */
  #expiring = false;
  readonly #deduplicate: boolean;
  /** Ring buffer of pending acks in publish order; its length is the in-flight window. */
  readonly #window: Array<PendingAck | undefined>;
  #head = 0;
  #size = 0;
  /** Publishes whose ack has not arrived yet (acks can settle out of order, e.g. timeouts). */
  #unsettled = 0;
  #failed = 0;
  #errors: Error[] = [];
  #closed = false;

  private constructor(nc: NatsConnection, partitions: number, opts: PublisherOptions) {
    this.#nc = nc;
    this.partitions = partitions;
    this.#json = opts.format === 'json';
    this.#maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    this.#retryForMs = opts.retryForMs ?? 30_000;
    this.#deduplicate = opts.deduplicate ?? true;
    this.#window = new Array<PendingAck | undefined>(this.#maxInFlight);
    // under the connection's inbox prefix, which its permissions may require for replies
    this.#inbox = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    this.#ackSubscription = nc.subscribe(`${this.#inbox}.*`, { callback: (error, msg) => this.#onAck(error, msg) });
    this.#sweeper = setInterval(() => this.#expireAcks(), Math.max(20, Math.min(1000, Math.floor(this.#timeoutMs / 5))));
    this.#sweeper.unref();
  }

  /**
   * Creates a publisher on the caller's connection (which it never closes). Reads the partition
   * count from the cluster metadata unless `opts.partitions` is given.
   */
  static async connect(nc: NatsConnection, opts: PublisherOptions = {}): Promise<DriftPublisher> {
    checkPositiveInteger(opts.maxInFlight, 'maxInFlight');
    checkPositiveInteger(opts.timeoutMs, 'timeoutMs');
    if (opts.retryForMs !== undefined && !(Number.isInteger(opts.retryForMs) && opts.retryForMs >= 0)) {
      throw new TypeError(`DriftPublisher: retryForMs must be an integer >= 0, got ${String(opts.retryForMs)}`);
    }
    if (opts.format !== undefined && opts.format !== 'msgpack' && opts.format !== 'json') {
      throw new RangeError(`DriftPublisher: format must be 'msgpack' or 'json', got ${JSON.stringify(opts.format)}`);
    }
    let partitions = opts.partitions;
    if (partitions !== undefined) {
      validatePartitionCount(partitions, 'DriftPublisher');
    } else {
      const meta = await readClusterMetadata(nc);
      if (meta === null) throw new Error(NOT_PROVISIONED_MESSAGE);
      if (meta.schemaVersion > SCHEMA_VERSION) {
        throw new Error(
          `driftwatch on this NATS uses schema version ${meta.schemaVersion}, this publisher knows ${SCHEMA_VERSION}: upgrade the driftwatch client`,
        );
      }
      partitions = meta.partitions;
    }
    return new DriftPublisher(nc, partitions, opts);
  }

  /** Publishes whose ack is outstanding. */
  get inFlight(): number {
    return this.#unsettled;
  }

  /**
   * Validates, encodes and publishes one prediction to `drift.in.<partition>.<model>.pred`.
   * Rejects with a TypeError naming the field when the event breaks the wire contract.
   * Resolves once the publish is in the in-flight window (not when it is acknowledged: use
   * flush() for that).
   */
  async publishPrediction(ev: PredictionInput): Promise<void> {
    this.#checkOpen();
    if (typeof ev !== 'object' || ev === null) throw new TypeError(`invalid prediction: expected an object, got ${ev === null ? 'null' : typeof ev}`);
    refuseMisnamedEventTime('prediction', ev);
    // A fresh object with the contract's fields only: the caller's object is neither mutated
    // nor sent with its unrelated properties.
    const event = {
      id: ev.id,
      model: ev.model,
      version: ev.version ?? DEFAULT_VERSION,
      ts: ev.ts ?? Date.now(),
      output: ev.output,
      features: ev.features,
      latencyMs: ev.latencyMs,
      error: ev.error,
      segment: ev.segment,
    };
    const checked = checkPrediction(event, WIRE_LIMITS.maxFeatures, undefined);
    if (!checked.ok) throw new TypeError(`invalid prediction: ${checked.detail}`);
    const payload = this.#json ? this.#encoder.encodeJson(event) : this.#encoder.encodePrediction(event);
    const msgId = this.#deduplicate ? predictionMsgId(event.model, event.id) : undefined;
    await this.#publish(predictionSubject(partitionOf(event.id, this.partitions), event.model), payload, msgId, event.id, 'prediction');
  }

  /** Validates, encodes and publishes one label to `drift.in.<partition>.<model>.label`. */
  async publishLabel(ev: LabelInput): Promise<void> {
    this.#checkOpen();
    if (typeof ev !== 'object' || ev === null) throw new TypeError(`invalid label: expected an object, got ${ev === null ? 'null' : typeof ev}`);
    refuseMisnamedEventTime('label', ev);
    const event = { id: ev.id, model: ev.model, ts: ev.ts ?? Date.now(), label: ev.label };
    const checked = checkLabel(event, undefined);
    if (!checked.ok) throw new TypeError(`invalid label: ${checked.detail}`);
    const payload = this.#json ? this.#encoder.encodeJson(event) : this.#encoder.encodeLabel(event);
    const msgId = this.#deduplicate ? labelMsgId(event.model, event.id) : undefined;
    await this.#publish(labelSubject(partitionOf(event.id, this.partitions), event.model), payload, msgId, event.id, 'label');
  }

  /**
   * Waits for every outstanding ack. Rejects with a PublishError (an AggregateError) naming how
   * many publishes failed since the previous flush; the failure count then starts again at 0.
   */
  async flush(): Promise<void> {
    while (this.#size > 0) {
      await this.#window[this.#head]!.done;
      this.#dropSettledHead();
    }
    if (this.#failed > 0) {
      const error = new PublishError(this.#failed, this.#errors);
      this.#failed = 0;
      this.#errors = [];
      throw error;
    }
  }

  /** Flushes and refuses further publishes. The NATS connection stays open: it is the caller's. */
  async close(): Promise<void> {
    this.#closed = true;
    try {
      await this.flush();
    } finally {
      clearInterval(this.#sweeper);
      if (!this.#nc.isClosed()) this.#ackSubscription.unsubscribe();
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('DriftPublisher is closed');
  }

  async #publish(subject: string, payload: Uint8Array, msgId: string | undefined, id: string, kind: string): Promise<void> {
    if (payload.byteLength > WIRE_LIMITS.maxBytes) {
      throw new TypeError(`invalid ${kind}: it encodes to ${payload.byteLength} bytes, the limit is ${WIRE_LIMITS.maxBytes}`);
    }
    // Backpressure: wait while the window is full. The check and the push below run in the
    // same synchronous step, so concurrent callers cannot overfill the window.
    while (this.#size >= this.#maxInFlight) {
      await this.#window[this.#head]!.done;
      this.#dropSettledHead();
    }
    this.#unsettled++;
    const pending: PendingAck = {
      settled: false,
      done: this.#publishRetrying(subject, payload, msgId).then(
        () => {
          pending.settled = true;
          this.#unsettled--;
        },
        (err: unknown) => {
          pending.settled = true;
          this.#unsettled--;
          this.#failed++;
          if (this.#errors.length < MAX_KEPT_ERRORS) {
            const message = err instanceof Error ? err.message : String(err);
            this.#errors.push(new Error(`${kind} id=${JSON.stringify(id)} on ${subject}: ${message}`, { cause: err }));
          }
        },
      ),
    };
    this.#window[(this.#head + this.#size) % this.#maxInFlight] = pending;
    this.#size++;
    this.#dropSettledHead();
  }

  /**
   * One JetStream publish, retried with backoff while the failure looks transient. Every attempt
   * carries the same message id: when an earlier attempt was stored and only its ack was lost,
   * JetStream answers the retry with a duplicate ack instead of storing the event again.
   */
  async #publishRetrying(subject: string, payload: Uint8Array, msgId: string | undefined): Promise<void> {
    const deadline = Date.now() + this.#retryForMs;
    let messageHeaders: MsgHdrs | undefined;
    if (msgId !== undefined) {
      messageHeaders = natsHeaders();
      messageHeaders.set('Nats-Msg-Id', msgId);
    }
    for (let wait = 100; ; wait = Math.min(2000, wait * 2)) {
      try {
        await this.#attempt(subject, payload, messageHeaders);
        return;
      } catch (error) {
        if (Date.now() + wait > deadline || !isTransient(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** Publishes once with a reply subject of its own; settles when its ack arrives or times out. */
  #attempt(subject: string, payload: Uint8Array, messageHeaders: MsgHdrs | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const token = (this.#nextToken++).toString(36);
      this.#acks.set(token, { resolve, reject, expiresAt: Date.now() + this.#timeoutMs });
      try {
        this.#nc.publish(subject, payload, { reply: `${this.#inbox}.${token}`, headers: messageHeaders });
      } catch (error) {
        this.#acks.delete(token);
        reject(error as Error);
      }
    });
  }

  #onAck(error: Error | null, msg: Msg): void {
    if (error !== null) return; // the subscription itself failed (connection closed): attempts time out
    const token = msg.subject.slice(this.#inbox.length + 1);
    const wait = this.#acks.get(token);
    if (wait === undefined) return; // an ack after its attempt timed out (and was retried)
    this.#acks.delete(token);
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      wait.reject(new Error('no responders: no JetStream stream takes this subject (is driftwatch provisioned, is JetStream up?)'));
      return;
    }
    let ack: PubAckBody;
    try {
      ack = msg.json<PubAckBody>();
    } catch {
      wait.reject(new Error(`invalid JetStream ack: ${JSON.stringify(msg.string().slice(0, 200))}`));
      return;
    }
    if (ack.error !== undefined) {
      wait.reject(new Error(`JetStream refused the publish: ${ack.error.description ?? 'no description'} (code ${ack.error.code ?? '?'}, err_code ${ack.error.err_code ?? '?'})`));
    } else if (typeof ack.stream !== 'string' || ack.stream === '') {
      wait.reject(new Error(`invalid JetStream ack: ${JSON.stringify(msg.string().slice(0, 200))}`));
    } else wait.resolve();
  }

  #expireAcks(): void {
    if (this.#expiring || this.#acks.size === 0) return;
    const now = Date.now();
    if ((this.#acks.values().next().value as AckWait).expiresAt > now) return;
    // Judged after this turn's I/O: timers run before sockets are read, so after a stalled event
    // loop (a GC pause, a long synchronous task) acks that came in meanwhile would still be unread,
    // and a retry without Nats-Msg-Id would store the event twice
    this.#expiring = true;
    setImmediate(() => {
      this.#expiring = false;
      for (const [token, wait] of this.#acks) {
        if (wait.expiresAt > now) return;
        this.#acks.delete(token);
        wait.reject(new Error(`timeout: no JetStream ack within ${this.#timeoutMs} ms`));
      }
    });
  }

  /** Removes acknowledged entries from the front, so the window only spans unacked publishes. */
  #dropSettledHead(): void {
    while (this.#size > 0) {
      const head = this.#window[this.#head]!;
      if (!head.settled) return;
      this.#window[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.#maxInFlight;
      this.#size--;
    }
  }
}
