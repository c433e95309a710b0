import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { labelMsgId, msgIdToken, predictionMsgId } from '../../src/client/msg-id.ts';

describe('Nats-Msg-Id of an event', () => {
  it('is <model>:<id>:pred / :label, the id unchanged when it is visible ASCII', () => {
    expect(predictionMsgId('fraud_v2', 'req-8f3a')).toBe('fraud_v2:req-8f3a:pred');
    expect(labelMsgId('fraud_v2', 'req-8f3a')).toBe('fraud_v2:req-8f3a:label');
    expect(msgIdToken('550e8400-e29b-41d4-a716-446655440000')).toBe('550e8400-e29b-41d4-a716-446655440000');
    expect(msgIdToken('a:b/c?d=e')).toBe('a:b/c?d=e');
  });

  it('percent-encodes the UTF-8 bytes of spaces, control characters, non-ASCII and % itself', () => {
    expect(msgIdToken(' a b ')).toBe('%20a%20b%20');
    expect(msgIdToken('x\r\ny')).toBe('x%0D%0Ay');
    expect(msgIdToken('é')).toBe('%C3%A9');
    expect(msgIdToken('日本')).toBe('%E6%97%A5%E6%9C%AC');
    expect(msgIdToken('100%')).toBe('100%25');
    // a lone surrogate is encoded as U+FFFD, as the partition hash does
    expect(msgIdToken('a\uD800')).toBe('a%EF%BF%BD');
  });

  it('gives distinct well-formed ids distinct tokens that a header can carry unchanged', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }), (a, b) => {
        const ta = msgIdToken(a);
        expect(ta).toMatch(/^[\x21-\x7e]*$/);
        expect(decodeURIComponent(ta.replace(/[^%]+/g, (plain) => encodeURIComponent(plain)))).toBe(a);
        if (a !== b) expect(msgIdToken(b)).not.toBe(ta);
      }),
      { numRuns: 2000 },
    );
  });
});
