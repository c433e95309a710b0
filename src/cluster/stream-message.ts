import type { Msg, MsgHdrs } from '@nats-io/nats-core';
import type { SlabCopy } from './message-slabs.ts';

/**
 * Where a JetStream delivery's reply subject holds its sequences, read in one scan without
 * splitting it. The subject is `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<delivery
 * seq>.<timestamp ns>.<pending>` (9 tokens), or with `<domain>.<account hash>` after `$JS.ACK`
 * and a random token at the end (11 or 12 tokens, servers from 2.10 on).
 *
 * Why not the client's `JsMsg.info`: it splits the subject into strings and parses every token
 * into a new object, ~19 % of what the library's ordered consumer spends per message (a profile
 * of `bench/ingest.ts`'s raw consumers); a partition reads the two sequences of every message and
 * the rest of the subject rarely.
 */
export interface AckReplyPosition {
  /** Stream sequence of the message. */
  streamSeq: number;
  /** The consumer's delivery sequence: 1, 2, 3... without gaps while nothing was lost. */
  deliverySeq: number;
  /** Index in the subject of the '.' before the timestamp token. */
  timestampDot: number;
  /**
   * Index in the subject where the delivery count starts: what comes before is the same for every
   * message of one consumer (`$JS.ACK.<stream>.<consumer>.`, or with the domain and account hash),
   * so a consumer reads the rest alone once it knows that prefix (`readAckTail`).
   */
  tailFrom: number;
}

const DOT = 46;
const ZERO = 48;
/** A delivery subject has at most 12 tokens: 11 dots. */
const MAX_DOTS = 11;

/**
 * Reads `reply`'s sequences into `into`; false when it is not a JetStream delivery subject
 * (`into` is then left partly written). `dots` is scratch room for 12 indexes.
 */
export function readAckReply(reply: string, into: AckReplyPosition, dots: Int32Array): boolean {
  if (!reply.startsWith('$JS.ACK.')) return false;
  let count = 0;
  for (let i = 0; i < reply.length; i++) {
    if (reply.charCodeAt(i) === DOT) {
      if (count === MAX_DOTS) return false;
      dots[count++] = i;
    }
  }
  // 9 tokens: the stream sequence is token 5; 11 or 12 tokens: token 7
  let seqToken: number;
  if (count === 8) seqToken = 5;
  else if (count === 10 || count === 11) seqToken = 7;
  else return false;
  const tailFrom = dots[seqToken - 2]! + 1;
  if (!readAckTail(reply, tailFrom, into) || into.timestampDot !== dots[seqToken + 1]) return false;
  into.tailFrom = tailFrom;
  return true;
}

/**
 * Reads the sequences of a delivery subject from `from`, where its delivery count starts
 * (`<delivered>.<stream seq>.<delivery seq>.` and the rest); false when they are not there. For a
 * consumer that checked the subject's prefix (`tailFrom` of its first message): scanning ~90
 * characters for dots cost ~6 % of a worker's CPU per event (`readAckReply` in a profile of
 * `bench/ingest.ts`'s processors), ~650 ns a subject on a slow day against ~110 for the tail
 * alone. `into.tailFrom` is left as it is.
 */
export function readAckTail(reply: string, from: number, into: AckReplyPosition): boolean {
  // each token's end found once: `digits` refuses an end of -1 (no dot) as an empty token
  const deliveredEnd = reply.indexOf('.', from);
  if (digits(reply, from, deliveredEnd) < 0) return false;
  const seqEnd = reply.indexOf('.', deliveredEnd + 1);
  const streamSeq = digits(reply, deliveredEnd + 1, seqEnd);
  if (streamSeq < 0) return false;
  const deliveryEnd = reply.indexOf('.', seqEnd + 1);
  const deliverySeq = digits(reply, seqEnd + 1, deliveryEnd);
  if (deliverySeq < 0) return false;
  into.streamSeq = streamSeq;
  into.deliverySeq = deliverySeq;
  into.timestampDot = deliveryEnd;
  return true;
}

/** The decimal number in `s[from, to)`, or -1 when it is empty, not all digits, or past 2^53. */
function digits(s: string, from: number, to: number): number {
  if (to <= from || to - from > 16) return -1;
  let value = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return Number.isSafeInteger(value) ? value : -1;
}

/** The token of `s` that starts after the dot at `dot`. */
function tokenAfter(s: string, dot: number): string {
  const end = s.indexOf('.', dot + 1);
  return s.slice(dot + 1, end < 0 ? s.length : end);
}

/**
 * One stream message as a LiveConsumer hands it on: its stream sequence read already, the rest of
 * its delivery subject read when asked. `msg` is the client's message (its headers decoded only
 * when `headers` is read).
 */
export class StreamMessage {
  constructor(
    readonly msg: Msg,
    readonly seq: number,
    private readonly timestampDot: number,
  ) {}

  get subject(): string {
    return this.msg.subject;
  }

  get data(): Uint8Array {
    return this.msg.data;
  }

  get headers(): MsgHdrs | undefined {
    return this.msg.headers;
  }

  /** When the stream stored the message (ms since the epoch). */
  get storedAtMs(): number {
    const reply = this.msg.reply ?? '';
    // nanoseconds past 2^53: the double is within ~256 ns, far below a millisecond
    return Math.floor(Number(tokenAfter(reply, this.timestampDot)) / 1e6);
  }

  /** Messages of the consumer's filter after this one, when the server sent it. */
  get pending(): number {
    const reply = this.msg.reply ?? '';
    const pendingDot = reply.indexOf('.', this.timestampDot + 1);
    const pending = Number(tokenAfter(reply, pendingDot));
    return Number.isFinite(pending) ? pending : 0;
  }

  json<T>(): T {
    return this.msg.json<T>();
  }
}

/**
 * A received message whose bytes were copied into a slab (MessageSlabs), holding nothing of the
 * client's message: its subject, reply and headers read (as strings) when it arrived, its data
 * the copy. So the socket read it came in is let go once the client has parsed it. `release`
 * gives the copy's room back, after which `data` may be overwritten (LiveConsumer's
 * `copyIntoSlabs`).
 */
export class CopiedMsg implements Msg {
  readonly subject: string;
  readonly sid: number;
  readonly reply: string | undefined;
  readonly headers: MsgHdrs | undefined;

  constructor(
    msg: Msg,
    private readonly copy: SlabCopy,
  ) {
    this.subject = msg.subject;
    this.sid = msg.sid;
    this.reply = msg.reply;
    this.headers = msg.headers;
  }

  get data(): Uint8Array {
    return this.copy.bytes;
  }

  release(): void {
    this.copy.release();
  }

  respond(): boolean {
    throw new Error('a message copied out of the client cannot be answered: its consumer acknowledges nothing');
  }

  json<T>(): T {
    return JSON.parse(this.string()) as T;
  }

  string(): string {
    return this.copy.bytes.toString('utf8');
  }
}
