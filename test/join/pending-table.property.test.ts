import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddPredictionStatus as P, LabelJoinStatus as L, PendingJoinTable } from '../../src/join/pending-table.ts';
import { ModelJoinTable, modelKey, type ModelPrediction } from './model.ts';

const ID_POOL = [
  'a',
  'b',
  'c',
  'd',
  'e',
  'f',
  'ü',
  '日本',
  '🙂',
  'x\uD800',
  '',
  'f47ac10b-58cc-4372-a567-0e02b2c3d479',
  'F47AC10B-58CC-4372-A567-0E02B2C3D479',
  '00000000-0000-0000-0000-000000000000',
  'long-' + 'z'.repeat(100),
];
const GROUPS = ['m:v1', 'm:v2', 'n:default'];
const CLASSES = ['cat', 'dog', 'eel'];
const SEGMENTS = [null, 'region=eu', 'region=us'];
const HORIZON = 1000;
/** Two models sharing the id pool: keys are model + id. */
const MODELS = ['m', 'n'];

type Op =
  | { kind: 'pred'; id: number; model: number; age: number; group: number; output: number | string; score: number; segment: number; advance: number }
  | { kind: 'label'; id: number; model: number; recent: number; label: number | string; advance: number }
  | { kind: 'copy'; label: boolean; back: number; advance: number }
  | { kind: 'expire'; advance: number }
  | { kind: 'expireEdge'; delta: number }
  | { kind: 'snapshot' };

const idArb = fc.integer({ min: 0, max: ID_POOL.length - 1 });
const modelArb = fc.integer({ min: 0, max: MODELS.length - 1 });
const advanceArb = fc.integer({ min: 0, max: 300 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('pred' as const),
      id: idArb,
      model: modelArb,
      // ages around the horizon hit the TooLate boundary exactly
      age: fc.oneof(fc.integer({ min: -200, max: 1300 }), fc.constantFrom(HORIZON - 1, HORIZON, HORIZON + 1)),
      group: fc.integer({ min: 0, max: GROUPS.length - 1 }),
      output: fc.oneof(fc.double({ noNaN: true }), fc.constantFrom(...CLASSES)),
      score: fc.oneof(fc.constant(NaN), fc.double({ min: 0, max: 1, noNaN: true })),
      segment: fc.integer({ min: 0, max: SEGMENTS.length - 1 }),
      advance: advanceArb,
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('label' as const),
      id: idArb,
      model: modelArb,
      // -1: the id and model drawn above; else the key of one of the last predictions sent
      recent: fc.integer({ min: -1, max: 3 }),
      label: fc.oneof(fc.integer({ min: 0, max: 1 }), fc.constantFrom(...CLASSES)),
      advance: advanceArb,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('expire' as const), advance: advanceArb }) },
  // an exact copy of an earlier prediction (same ts), as a publisher retry delivers it
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('copy' as const), label: fc.boolean(), back: fc.integer({ min: 0, max: 3 }), advance: fc.integer({ min: 0, max: 100 }) }),
  },
  // jump the watermark to exactly the oldest pending prediction's horizon (delta 0) or just past it
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expireEdge' as const), delta: fc.constantFrom(0, 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const) }) },
);

function tableJoin(t: PendingJoinTable) {
  return {
    prediction: {
      ts: t.lastTs,
      groupKey: t.lastGroupKey,
      output: t.lastOutputIsClass ? t.lastOutputClass : t.lastOutput,
      score: t.lastScore,
      segment: t.lastSegmentName,
    },
    label: t.lastLabelString ?? t.lastLabel,
    labelTs: t.lastLabelTs,
  };
}

describe('PendingJoinTable against a Map-based model', () => {
  it('matches the model on every status, joined field, expiry, counter and content', () => {
    const seen = { predictionCopies: 0, labelCopies: 0 };
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 200, size: 'medium' }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 24 }),
        (ops, capacity, earlyCapacity, joinedCapacity) => {
          let table = new PendingJoinTable({ capacity, earlyCapacity, horizonMs: HORIZON, joinedCapacity });
          const model = new ModelJoinTable(capacity, earlyCapacity, HORIZON, joinedCapacity);
          let now = 10_000;
          const sent: Array<{ id: string; model: string; p: ModelPrediction }> = [];
          const labelsSent: Array<{ id: string; model: string; label: number | string }> = [];
          for (const op of ops) {
            if (op.kind === 'pred' || op.kind === 'label' || op.kind === 'expire' || op.kind === 'copy') now += op.advance;
            if (op.kind === 'expireEdge') {
              const oldest = model.pending.values().next().value;
              if (oldest !== undefined) now = Math.max(now, oldest.ts + HORIZON + op.delta);
            }
            if (op.kind === 'pred' || (op.kind === 'copy' && !op.label && sent.length > 0)) {
              let id: string;
              let modelName: string;
              let p: ModelPrediction;
              if (op.kind === 'pred') {
                id = ID_POOL[op.id];
                modelName = MODELS[op.model];
                p = { ts: now - op.age, groupKey: `${modelName}:${GROUPS[op.group]}`, output: op.output, score: op.score, segment: SEGMENTS[op.segment] };
                sent.push({ id, model: modelName, p });
              } else {
                ({ id, model: modelName, p } = sent[Math.max(0, sent.length - 1 - op.back)]);
              }
              const status = table.addPrediction(id, p.ts, p.groupKey, p.output, p.score, p.segment, now, modelName);
              expect(status).toBe(model.addPrediction(modelKey(modelName, id), p, now));
              if (status === P.MatchedEarlyLabel) expect(tableJoin(table)).toEqual(model.last);
              if (status === P.AddedEvictedOldest) {
                expect(table.evictedTs).toBe(model.evicted?.ts);
                expect(table.groupKeyOf(table.evictedGroup)).toBe(model.evicted?.groupKey);
                expect(table.segmentName(table.evictedSegment)).toBe(model.evicted?.segment);
              }
            } else if (op.kind === 'label' || (op.kind === 'copy' && op.label && labelsSent.length > 0)) {
              let sentLabel: { id: string; model: string; label: number | string };
              if (op.kind === 'label') {
                const target = op.recent >= 0 && sent.length > 0 ? sent[Math.max(0, sent.length - 1 - op.recent)] : { id: ID_POOL[op.id], model: MODELS[op.model] };
                sentLabel = { id: target.id, model: target.model, label: op.label };
              } else {
                sentLabel = labelsSent[Math.max(0, labelsSent.length - 1 - op.back)];
              }
              if (op.kind === 'label') labelsSent.push(sentLabel);
              const { id, label } = sentLabel;
              const status = table.addLabel(id, label, now - 5, now, sentLabel.model);
              expect(status).toBe(model.addLabel(modelKey(sentLabel.model, id), label, now - 5, now));
              if (status === L.Joined) expect(tableJoin(table)).toEqual(model.last);
            } else if (op.kind === 'expire' || op.kind === 'expireEdge') {
              const seen: unknown[] = [];
              const counts = table.expire(now, (groupKey, ts, segment) => seen.push({ groupKey, ts, segment }));
              const expected = model.expire(now);
              expect(counts).toEqual({ predictions: expected.predictions, earlyLabels: expected.earlyLabels });
              expect(seen).toEqual(expected.expired.map(({ groupKey, ts, segment }) => ({ groupKey, ts, segment })));
            } else if (op.kind === 'snapshot') {
              const bytes = table.toBytes();
              table = PendingJoinTable.fromBytes(bytes);
              expect(table.toBytes()).toEqual(bytes);
            }
            expect(table.size).toBe(model.pending.size);
            expect(table.earlySize).toBe(model.early.size);
            expect(table.size).toBeLessThanOrEqual(capacity);
            expect(table.earlySize).toBeLessThanOrEqual(earlyCapacity);
          }
          expect(table.stats).toEqual(model.stats);
          seen.predictionCopies += table.stats.duplicatePredictionsAfterJoin;
          seen.labelCopies += table.stats.duplicateLabelsAfterJoin;
          const split = (key: string) => ({ model: key.slice(0, key.indexOf('\u0000')), id: key.slice(key.indexOf('\u0000') + 1) });
          expect([...table.pendingEntries()]).toEqual([...model.pending].map(([key, p]) => ({ ...split(key), ...p })));
          expect([...table.earlyEntries()]).toEqual([...model.early].map(([key, l]) => ({ ...split(key), ...l })));
          for (const id of ID_POOL) {
            for (const m of MODELS) {
              expect(table.hasPending(id, m)).toBe(model.pending.has(modelKey(m, id)));
              expect(table.hasEarly(id, m)).toBe(model.early.has(modelKey(m, id)));
              expect(table.hasJoined(id, m)).toBe(model.hasJoined(modelKey(m, id)));
            }
          }
        },
      ),
      { numRuns: 300, seed: 20240611 },
    );
    // the runs did reach the copies-after-join paths
    expect(seen.predictionCopies).toBeGreaterThan(20);
    expect(seen.labelCopies).toBeGreaterThan(50);
  });
});
