import { describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import {
  EventDecoder,
  decodeLabel,
  decodePrediction,
  encodeJson,
  encodeLabel,
  encodePrediction,
  INVALID_FEATURES,
  REJECT_REASONS,
  validatePrediction,
  WIRE_LIMITS,
} from '../../src/events/index.ts';
import type { DecodeOptions, DecodeResult, LabelEvent, PredictionEvent, RejectReason } from '../../src/events/index.ts';

const basePrediction = {
  id: 'pred-0001',
  model: 'fraud_v2',
  version: 'v7',
  ts: 1_717_171_717_171,
  output: 0.83,
  features: { amount: 120.5, country: 'FR', age: 41, merchant: null },
  latencyMs: 12.5,
  segment: { region: 'eu', tier: 'gold' },
};

const baseLabel = { id: 'pred-0001', model: 'fraud_v2', ts: 1_717_171_800_000, label: 1 };

const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
const msgpack = (value: unknown): Uint8Array => encode(value);

function expectRejected<T>(result: DecodeResult<T>, reason: RejectReason, detail: RegExp | string): void {
  if (result.ok) throw new Error(`expected a '${reason}' rejection, got an accepted event: ${JSON.stringify(result.event)}`);
  expect(result.reason).toBe(reason);
  if (typeof detail === 'string') expect(result.detail).toBe(detail);
  else expect(result.detail).toMatch(detail);
}

function predictionWith(patch: Record<string, unknown>): Record<string, unknown> {
  return { ...basePrediction, ...patch };
}

function predictionWithout(field: string): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...basePrediction };
  delete copy[field];
  return copy;
}

/** Runs the same payload through MessagePack and (when JSON can express it) JSON. */
function bothFormats(value: unknown): Uint8Array[] {
  return [msgpack(value), json(value)];
}

describe('decodePrediction: accepted events', () => {
  it('decodes MessagePack and JSON to the same event', () => {
    const fromMsgpack = decodePrediction(encodePrediction(basePrediction));
    const fromJson = decodePrediction(encodeJson(basePrediction));
    expect(fromMsgpack).toEqual({ ok: true, event: basePrediction });
    expect(fromJson).toEqual({ ok: true, event: basePrediction });
  });

  it("defaults version to 'default' and accepts a minimal event", () => {
    for (const payload of bothFormats({ id: 'x', model: 'm', ts: 5, output: 'cat' })) {
      expect(decodePrediction(payload)).toEqual({ ok: true, event: { id: 'x', model: 'm', ts: 5, output: 'cat', version: 'default' } });
    }
  });

  it('accepts float timestamps, array outputs and string/number/null features', () => {
    const value = { id: 'é-1', model: 'm-1', ts: 1717171717171.25, output: [0.1, 0.7, 0.2], features: { a: 'x', b: -3, c: null } };
    for (const payload of bothFormats(value)) {
      const result = decodePrediction(payload);
      expect(result.ok && result.event.output).toEqual([0.1, 0.7, 0.2]);
      expect(result.ok && result.event.ts).toBe(1717171717171.25);
    }
  });

  it('ignores unknown fields', () => {
    for (const payload of bothFormats(predictionWith({ extra: { nested: [1, 2] }, traceId: 'abc' }))) {
      const result = decodePrediction(payload);
      expect(result.ok).toBe(true);
      expect(result.ok && result.event.id).toBe('pred-0001');
    }
  });

  it('treats null optional fields as absent (Python None)', () => {
    const value = predictionWith({ version: null, features: null, latencyMs: null, error: null, segment: null });
    for (const payload of bothFormats(value)) {
      const result = decodePrediction(payload);
      if (!result.ok) throw new Error(result.detail);
      expect(result.event.version).toBe('default');
      expect(result.event.features).toBeUndefined();
      expect(result.event.latencyMs).toBeUndefined();
      expect(result.event.error).toBeUndefined();
      expect(result.event.segment).toBeUndefined();
    }
  });

  it('accepts JSON after leading whitespace', () => {
    const payload = new TextEncoder().encode(` \n\t${JSON.stringify(basePrediction)}`);
    expect(decodePrediction(payload).ok).toBe(true);
  });

  it('accepts an error field and a latency of 0', () => {
    const result = decodePrediction(msgpack(predictionWith({ error: 'timeout', latencyMs: 0 })));
    expect(result.ok && [result.event.error, result.event.latencyMs]).toEqual(['timeout', 0]);
  });

  it('keeps an event whose feature has a type no feature can have, without that feature, and names it', () => {
    const patch = { features: { amount: 120.5, flag: true, nested: { x: 1 }, list: [1, 2], country: 'FR' } };
    for (const payload of bothFormats(predictionWith(patch))) {
      const result = decodePrediction(payload);
      if (!result.ok) throw new Error(`expected the event to be kept, got ${result.reason}: ${result.detail}`);
      expect(result.event.features).toEqual({ amount: 120.5, country: 'FR' });
      expect(result.event[INVALID_FEATURES]).toEqual(['flag', 'nested', 'list']);
      expect(result.event.output).toBe(0.83);
    }
    // an event without such values carries no list
    const clean = decodePrediction(msgpack(basePrediction));
    expect(clean.ok && clean.event[INVALID_FEATURES]).toBeUndefined();
  });

  it('validatePrediction (a publisher checking its own event) still refuses such a feature, leaving the event as it was', () => {
    const value = predictionWith({ features: { a: 1, flag: true } });
    expectRejected(validatePrediction(value), 'wrong_type', "field 'features.flag': expected a number, a string or null, got boolean true");
    expect(value.features).toEqual({ a: 1, flag: true });
  });

  it('returns the decoded object itself (validatePrediction does not copy)', () => {
    const value = { id: 'a', model: 'm', ts: 1, output: 1 };
    const result = validatePrediction(value);
    expect(result.ok && result.event).toBe(value);
  });
});

describe('decodePrediction: a failed inference', () => {
  it('accepts a prediction without output when error is present (output null is the same as absent)', () => {
    for (const value of [{ id: 'f1', model: 'm', ts: 5, error: 'timeout' }, { id: 'f1', model: 'm', ts: 5, error: 'timeout', output: null }]) {
      for (const payload of bothFormats(value)) {
        const result = decodePrediction(payload);
        if (!result.ok) throw new Error(result.detail);
        expect(result.event.output).toBeUndefined();
        expect(result.event).toMatchObject({ id: 'f1', model: 'm', ts: 5, error: 'timeout', version: 'default' });
      }
    }
  });

  it('keeps features, latency and segment of a failed inference', () => {
    const value = { id: 'f2', model: 'm', ts: 5, error: 'OOM', features: { amount: 3 }, latencyMs: 900, segment: { region: 'eu' } };
    for (const payload of bothFormats(value)) expect(decodePrediction(payload)).toEqual({ ok: true, event: { ...value, version: 'default' } });
  });

  it('still requires output without an error, and still checks an output sent with an error', () => {
    for (const value of [{ id: 'f3', model: 'm', ts: 5 }, { id: 'f3', model: 'm', ts: 5, error: null }]) {
      for (const payload of bothFormats(value)) expectRejected(decodePrediction(payload), 'missing_field', "field 'output' is missing");
    }
    for (const payload of bothFormats({ id: 'f4', model: 'm', ts: 5, error: 'x', output: true })) {
      expectRejected(decodePrediction(payload), 'wrong_type', "field 'output': expected a number, a string or an array of numbers, got boolean true");
    }
    // a wrong-typed error does not excuse a missing output: the error is named
    expectRejected(decodePrediction(msgpack({ id: 'f5', model: 'm', ts: 5, error: 500 })), 'wrong_type', "field 'error': expected a string, got number 500");
  });
});

describe('decodePrediction: content type', () => {
  it('honours an explicit JSON content type', () => {
    expect(decodePrediction(json(basePrediction), { contentType: 'application/json; charset=utf-8' }).ok).toBe(true);
    expectRejected(decodePrediction(msgpack(basePrediction), { contentType: 'application/json' }), 'undecodable', /^not valid JSON: /);
  });

  it('honours an explicit MessagePack content type, even when the payload starts with "{"', () => {
    expect(decodePrediction(msgpack(basePrediction), { contentType: 'application/msgpack' }).ok).toBe(true);
    expectRejected(decodePrediction(json(basePrediction), { contentType: 'application/x-msgpack' }), 'undecodable', /^not valid MessagePack: /);
  });

  it('falls back to sniffing for an unknown content type', () => {
    expect(decodePrediction(json(basePrediction), { contentType: 'text/plain' }).ok).toBe(true);
    expect(decodePrediction(msgpack(basePrediction), { contentType: 'text/plain' }).ok).toBe(true);
  });
});

describe('decodePrediction: rejections', () => {
  it('undecodable: truncated MessagePack, broken JSON, invalid UTF-8 JSON, empty payload', () => {
    const full = msgpack(basePrediction);
    expectRejected(decodePrediction(full.subarray(0, full.length - 5)), 'undecodable', /^not valid MessagePack: /);
    expectRejected(decodePrediction(new TextEncoder().encode('{"id": "a",')), 'undecodable', /^not valid JSON: /);
    expectRejected(decodePrediction(Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])), 'undecodable', /^not valid JSON: /);
    expectRejected(decodePrediction(new Uint8Array(0)), 'undecodable', 'payload is empty');
    // 0x7b then garbage is not a msgpack document either when forced
    expectRejected(decodePrediction(Uint8Array.from([0xc1])), 'undecodable', /^not valid MessagePack: /);
  });

  it('not_an_object: arrays, scalars and nil at the top level', () => {
    expectRejected(decodePrediction(msgpack([1, 2])), 'not_an_object', 'expected a map/object at the top level, got array of length 2');
    expectRejected(decodePrediction(msgpack(42)), 'not_an_object', 'expected a map/object at the top level, got number 42');
    expectRejected(decodePrediction(msgpack(null)), 'not_an_object', 'expected a map/object at the top level, got null');
    expectRejected(decodePrediction(msgpack('pred')), 'not_an_object', 'expected a map/object at the top level, got string "pred"');
  });

  it('missing_field: id, model, ts and output', () => {
    for (const field of ['id', 'model', 'ts', 'output']) {
      for (const payload of bothFormats(predictionWithout(field))) {
        expectRejected(decodePrediction(payload), 'missing_field', `field '${field}' is missing`);
      }
    }
  });

  it('wrong_type: each field with a value of the wrong type names the field and the value', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ id: 42 }, "field 'id': expected a string, got number 42"],
      [{ id: null }, "field 'id': expected a string, got null"],
      [{ model: ['m'] }, "field 'model': expected a string, got array of length 1"],
      [{ ts: '2024-06-01T00:00:00Z' }, `field 'ts': expected a finite number (epoch milliseconds), got string "2024-06-01T00:00:00Z"`],
      [{ version: 3 }, "field 'version': expected a string, got number 3"],
      [{ output: true }, "field 'output': expected a number, a string or an array of numbers, got boolean true"],
      [{ output: { p: 1 } }, "field 'output': expected a number, a string or an array of numbers, got object"],
      [{ output: [0.5, 'x'] }, `field 'output[1]': expected a finite number, got string "x"`],
      [{ features: [1, 2] }, "field 'features': expected a map of name to number, string or null, got array of length 2"],
      [{ latencyMs: '12' }, `field 'latencyMs': expected a finite number, got string "12"`],
      [{ error: 500 }, "field 'error': expected a string, got number 500"],
      [{ segment: 'eu' }, `field 'segment': expected a map of name to string, got string "eu"`],
      [{ segment: { region: 3 } }, "field 'segment.region': expected a string, got number 3"],
    ];
    for (const [patch, detail] of cases) {
      for (const payload of bothFormats(predictionWith(patch))) {
        expectRejected(decodePrediction(payload), 'wrong_type', detail);
      }
    }
  });

  it('wrong_type: MessagePack-only values (binary, timestamp extension)', () => {
    expectRejected(decodePrediction(msgpack(predictionWith({ id: Uint8Array.from([1, 2, 3]) }))), 'wrong_type', "field 'id': expected a string, got binary (3 bytes)");
    expectRejected(
      decodePrediction(msgpack(predictionWith({ ts: new Date(1_717_171_717_171) }))),
      'wrong_type',
      "field 'ts': expected a finite number (epoch milliseconds), got a MessagePack timestamp",
    );
  });

  it('non_finite: NaN and infinities in every numeric field (MessagePack can carry them)', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ts: NaN }, "field 'ts': expected a finite number, got NaN"],
      [{ ts: Infinity }, "field 'ts': expected a finite number, got number Infinity"],
      [{ output: -Infinity }, "field 'output': expected a finite number, got number -Infinity"],
      [{ output: [0.1, 0.2, NaN] }, "field 'output[2]': expected a finite number, got NaN"],
      [{ features: { amount: NaN } }, "field 'features.amount': expected a finite number, got NaN"],
      [{ latencyMs: Infinity }, "field 'latencyMs': expected a finite number, got number Infinity"],
    ];
    for (const [patch, detail] of cases) {
      expectRejected(decodePrediction(msgpack(predictionWith(patch))), 'non_finite', detail);
    }
  });

  it('invalid_value: values of the right type outside their limits', () => {
    const longId = 'x'.repeat(WIRE_LIMITS.maxIdLength + 1);
    const cases: Array<[Record<string, unknown>, string | RegExp]> = [
      [{ id: '' }, "field 'id': expected a non-empty string, got an empty string"],
      [{ id: longId }, `field 'id': expected at most 256 characters, got 257`],
      [{ model: 'fraud.v2' }, `field 'model': expected 1-128 letters, digits, '_' or '-' (it is a subject token), got string "fraud.v2"`],
      [{ model: '' }, /^field 'model': expected 1-128 letters/],
      [{ version: '' }, "field 'version': expected 1 to 64 characters, got 0"],
      [{ version: 'v'.repeat(65) }, "field 'version': expected 1 to 64 characters, got 65"],
      [{ output: [] }, "field 'output': expected an array of 1 to 1024 numbers, got 0 elements"],
      [{ output: new Array<number>(1025).fill(0.5) }, "field 'output': expected an array of 1 to 1024 numbers, got 1025 elements"],
      [{ output: 'c'.repeat(257) }, "field 'output': expected at most 256 characters, got 257"],
      [{ latencyMs: -1 }, "field 'latencyMs': expected a number >= 0, got number -1"],
      [{ features: { ['f'.repeat(129)]: 1 } }, /^field 'features': feature name string "f{40}…" \(129 chars\) is longer than 128 characters$/],
      [{ segment: { region: 'r'.repeat(300) } }, "field 'segment.region': expected at most 256 characters, got 300"],
    ];
    for (const [patch, detail] of cases) {
      for (const payload of bothFormats(predictionWith(patch))) {
        expectRejected(decodePrediction(payload), 'invalid_value', detail);
      }
    }
  });

  it('invalid_value: more features than maxFeatures', () => {
    const features: Record<string, number> = {};
    for (let i = 0; i < 12; i++) features[`f${i}`] = i;
    const payload = msgpack(predictionWith({ features }));
    expect(decodePrediction(payload, { maxFeatures: 12 }).ok).toBe(true);
    expectRejected(decodePrediction(payload, { maxFeatures: 10 }), 'invalid_value', "field 'features': at most 10 features are accepted, got 12");
    const many: Record<string, number> = {};
    for (let i = 0; i < 257; i++) many[`f${i}`] = i;
    expectRejected(decodePrediction(msgpack(predictionWith({ features: many }))), 'invalid_value', "field 'features': at most 256 features are accepted, got 257");
  });

  it('oversized: rejected before decoding, against the default 64 KiB and a custom limit', () => {
    const payload = msgpack(basePrediction);
    expectRejected(decodePrediction(payload, { maxBytes: 50 }), 'oversized', `payload is ${payload.length} bytes, the limit is 50`);
    // not even decodable, yet the size check wins: nothing is parsed
    const garbage = new Uint8Array(WIRE_LIMITS.maxBytes + 1).fill(0xc1);
    expectRejected(decodePrediction(garbage), 'oversized', `payload is 65537 bytes, the limit is 65536`);
    const big = msgpack(predictionWith({ error: 'e'.repeat(70_000) }));
    expectRejected(decodePrediction(big), 'oversized', /^payload is 7\d{4} bytes, the limit is 65536$/);
    expect(decodePrediction(big, { maxBytes: 100_000 }).ok).toBe(true);
  });

  it("model_mismatch: the payload's model differs from the subject's", () => {
    expect(decodePrediction(msgpack(basePrediction), { expectedModel: 'fraud_v2' }).ok).toBe(true);
    expectRejected(
      decodePrediction(msgpack(basePrediction), { expectedModel: 'churn' }),
      'model_mismatch',
      `field 'model' is "fraud_v2" but the subject names model "churn"`,
    );
  });

  it('produces every payload-level reject reason (subject and limit checks belong to the worker)', () => {
    const produced = new Set<RejectReason>();
    const samples: Array<[Uint8Array, DecodeOptions?]> = [
      [new Uint8Array(0)],
      [msgpack([1])],
      [msgpack(predictionWithout('id'))],
      [msgpack(predictionWith({ id: 1 }))],
      [msgpack(predictionWith({ ts: NaN }))],
      [msgpack(basePrediction), { maxBytes: 10 }],
      [msgpack(basePrediction), { expectedModel: 'other' }],
      [msgpack(predictionWith({ id: '' }))],
    ];
    for (const [payload, opts] of samples) {
      const result = decodePrediction(payload, opts);
      if (!result.ok) produced.add(result.reason);
    }
    const decoderReasons: RejectReason[] = ['invalid_value', 'missing_field', 'model_mismatch', 'non_finite', 'not_an_object', 'oversized', 'undecodable', 'wrong_type'];
    expect([...produced].sort()).toEqual(decoderReasons);
    for (const reason of decoderReasons) expect(REJECT_REASONS).toContain(reason);
  });
});

describe('decodeLabel', () => {
  it('decodes MessagePack and JSON labels, numeric and string', () => {
    expect(decodeLabel(encodeLabel(baseLabel))).toEqual({ ok: true, event: baseLabel });
    const stringLabel: LabelEvent = { ...baseLabel, label: 'fraud' };
    expect(decodeLabel(encodeJson(stringLabel))).toEqual({ ok: true, event: stringLabel });
  });

  it('ignores unknown fields', () => {
    expect(decodeLabel(msgpack({ ...baseLabel, source: 'chargeback-feed' })).ok).toBe(true);
  });

  it('rejects a missing, boolean, non-finite or oversized label and a missing ts', () => {
    const { label: _label, ...noLabel } = baseLabel;
    expectRejected(decodeLabel(msgpack(noLabel)), 'missing_field', "field 'label' is missing");
    expectRejected(decodeLabel(json({ ...baseLabel, label: true })), 'wrong_type', "field 'label': expected a number or a string, got boolean true (send 1/0 for a binary label)");
    expectRejected(decodeLabel(msgpack({ ...baseLabel, label: [1] })), 'wrong_type', "field 'label': expected a number or a string, got array of length 1");
    expectRejected(decodeLabel(msgpack({ ...baseLabel, label: NaN })), 'non_finite', "field 'label': expected a finite number, got NaN");
    expectRejected(decodeLabel(msgpack({ ...baseLabel, label: 'l'.repeat(257) })), 'invalid_value', "field 'label': expected at most 256 characters, got 257");
    const { ts: _ts, ...noTs } = baseLabel;
    expectRejected(decodeLabel(json(noTs)), 'missing_field', "field 'ts' is missing");
    expectRejected(decodeLabel(msgpack({ ...baseLabel, model: 'a b' })), 'invalid_value', /^field 'model': expected 1-128 letters/);
    expectRejected(decodeLabel(msgpack(baseLabel), { expectedModel: 'x' }), 'model_mismatch', `field 'model' is "fraud_v2" but the subject names model "x"`);
  });
});

describe('EventDecoder', () => {
  it('decodes many events with one reusable decoder, and keeps state out of the results', () => {
    const decoder = new EventDecoder();
    const results: PredictionEvent[] = [];
    for (let i = 0; i < 1000; i++) {
      const result = decoder.decodePrediction(encodePrediction({ ...basePrediction, id: `p-${i}`, output: i / 1000 }));
      if (!result.ok) throw new Error(result.detail);
      results.push(result.event);
    }
    expect(results[0].id).toBe('p-0');
    expect(results[999]).toEqual({ ...basePrediction, id: 'p-999', output: 0.999 });
    // a bad payload in the middle does not poison the decoder
    expectRejected(decoder.decodePrediction(Uint8Array.from([0x92, 0x01])), 'undecodable', /^not valid MessagePack: /);
    expect(decoder.decodeLabel(encodeLabel(baseLabel))).toEqual({ ok: true, event: baseLabel });
  });

  it('applies constructor defaults, overridden per call', () => {
    const decoder = new EventDecoder({ maxBytes: 64, maxFeatures: 2 });
    const payload = msgpack(basePrediction);
    expectRejected(decoder.decodePrediction(payload), 'oversized', `payload is ${payload.length} bytes, the limit is 64`);
    expectRejected(decoder.decodePrediction(payload, { maxBytes: 1024 }), 'invalid_value', "field 'features': at most 2 features are accepted, got 4");
    expect(decoder.decodePrediction(payload, { maxBytes: 1024, maxFeatures: 4 }).ok).toBe(true);
  });
});
