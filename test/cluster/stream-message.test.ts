import { describe, expect, it } from 'vitest';
import type { Msg } from '@nats-io/nats-core';
import { readAckReply, readAckTail, StreamMessage, type AckReplyPosition } from '../../src/cluster/stream-message.ts';

function read(reply: string): AckReplyPosition | null {
  const into: AckReplyPosition = { streamSeq: -1, deliverySeq: -1, timestampDot: -1, tailFrom: -1 };
  return readAckReply(reply, into, new Int32Array(12)) ? into : null;
}

function messageOf(reply: string): StreamMessage {
  const position = read(reply);
  if (position === null) throw new Error(`not a delivery subject: ${reply}`);
  const msg = { reply, subject: 'drift.in.0.m', data: new Uint8Array(0), headers: undefined } as unknown as Msg;
  return new StreamMessage(msg, position.streamSeq, position.timestampDot);
}

describe('readAckReply (a JetStream delivery subject read in one scan)', () => {
  it('reads the 9-token form of servers before 2.10', () => {
    // as nats-server 2.9.10 sends it to a pull consumer
    const reply = '$JS.ACK.DRIFT_EVENTS.raw_L132w0Hf0M4PpBHZLH2xat.1.75127.2.1796510291839913412.4';
    expect(read(reply)).toEqual({
      streamSeq: 75127,
      deliverySeq: 2,
      timestampDot: reply.lastIndexOf('.', reply.lastIndexOf('.') - 1),
      tailFrom: '$JS.ACK.DRIFT_EVENTS.raw_L132w0Hf0M4PpBHZLH2xat.'.length,
    });
    const message = messageOf(reply);
    expect(message.seq).toBe(75127);
    expect(message.pending).toBe(4);
    expect(message.storedAtMs).toBe(1796510291839);
  });

  it('reads the 12-token form (domain, account hash, a random token at the end) and the 11-token form', () => {
    const twelve = '$JS.ACK._.AHASH.DRIFT_PANES.lc_x_3.1.9007199254740991.17.1796510291839913412.0.Zx1';
    expect(read(twelve)).toMatchObject({ streamSeq: 9007199254740991, deliverySeq: 17 });
    expect(messageOf(twelve).pending).toBe(0);
    expect(messageOf(twelve).storedAtMs).toBe(1796510291839);
    const eleven = '$JS.ACK.hub.AHASH.S.c.2.40.39.1796510291000000000.12';
    expect(read(eleven)).toMatchObject({ streamSeq: 40, deliverySeq: 39 });
    expect(messageOf(eleven).pending).toBe(12);
    expect(messageOf(eleven).storedAtMs).toBe(1796510291000);
  });

  it('refuses what is not a delivery subject: another prefix, a token count of neither form, sequences that are not numbers', () => {
    expect(read('')).toBeNull();
    expect(read('_INBOX.abc.def')).toBeNull();
    expect(read('$JS.API.CONSUMER.MSG.NEXT.S.c')).toBeNull();
    expect(read('$JS.ACK.S.c.1.2.3.4')).toBeNull(); // 8 tokens
    expect(read('$JS.ACK.S.c.1.2.3.4.5.6')).toBeNull(); // 10 tokens
    expect(read('$JS.ACK.a.b.S.c.1.2.3.4.5.6.7')).toBeNull(); // 13 tokens
    expect(read('$JS.ACK.S.c.1.x2.3.4.5')).toBeNull();
    expect(read('$JS.ACK.S.c.1..3.4.5')).toBeNull();
    expect(read('$JS.ACK.S.c.1.2.-3.4.5')).toBeNull();
    expect(read('$JS.ACK.S.c.1.99999999999999999.3.4.5')).toBeNull(); // past 2^53
  });

  it('refuses a tail without its three numbers, each ended by a dot', () => {
    const prefix = '$JS.ACK.S.c.';
    const tail = (rest: string): boolean => readAckTail(prefix + rest, prefix.length, { streamSeq: 0, deliverySeq: 0, timestampDot: 0, tailFrom: 0 });
    expect(tail('1.2.3.4.5')).toBe(true);
    expect(tail('1.2.3')).toBe(false); // no dot after the delivery sequence
    expect(tail('.2.3.4.5')).toBe(false);
    expect(tail('1.x.3.4.5')).toBe(false);
    expect(tail('1.2..4.5')).toBe(false);
    expect(tail('1.2.3a.4.5')).toBe(false);
    expect(tail('1.99999999999999999.3.4.5')).toBe(false);
    expect(tail('')).toBe(false);
  });

  it('reads what the library reads, over generated subjects of both forms', () => {
    let state = 12345;
    const next = (n: number): number => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % n;
    };
    for (let i = 0; i < 500; i++) {
      const streamSeq = next(2 ** 31) * (next(2) === 0 ? 1 : 4096) + 1;
      const deliverySeq = next(1e6) + 1;
      const pending = next(1e7);
      const nanosAt = `17965${String(next(1e9)).padStart(9, '0')}${String(next(1e5)).padStart(5, '0')}`;
      const tokens = [String(next(3) + 1), String(streamSeq), String(deliverySeq), nanosAt, String(pending)];
      const reply =
        i % 2 === 0 ? ['$JS', 'ACK', 'S_1', `c${i}`, ...tokens].join('.') : ['$JS', 'ACK', '_', 'HASH', 'S_1', `c${i}`, ...tokens, 'r4nd'].join('.');
      // the library's own reading (JsMsg.info): split on dots, parseInt each token
      const split = reply.split('.');
      if (split.length === 9) split.splice(2, 0, '_', '');
      const position = read(reply);
      expect(position).not.toBeNull();
      expect(position!.streamSeq).toBe(parseInt(split[7]!, 10));
      expect(position!.deliverySeq).toBe(parseInt(split[8]!, 10));
      // the part before the delivery count is the consumer's, and the tail alone reads the same
      expect(reply.slice(0, position!.tailFrom)).toBe(i % 2 === 0 ? `$JS.ACK.S_1.c${i}.` : `$JS.ACK._.HASH.S_1.c${i}.`);
      const tail: AckReplyPosition = { streamSeq: -1, deliverySeq: -1, timestampDot: -1, tailFrom: -1 };
      expect(readAckTail(reply, position!.tailFrom, tail)).toBe(true);
      expect(tail).toEqual({ ...position!, tailFrom: -1 });
      const message = messageOf(reply);
      expect(message.pending).toBe(parseInt(split[10]!, 10));
      expect(message.storedAtMs).toBe(Math.floor(parseInt(split[9]!, 10) / 1e6));
    }
  });
});
