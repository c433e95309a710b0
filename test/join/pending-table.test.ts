import { describe, expect, it } from 'vitest';
import { IdKey } from '../../src/join/id-key.ts';
import {
  AddPredictionStatus as P,
  LabelJoinStatus as L,
  OTHER_CLASS,
  OTHER_SEGMENT,
  PendingJoinTable,
} from '../../src/join/pending-table.ts';
import { JoinSnapshotError, SnapshotWriter } from '../../src/join/snapshot-bytes.ts';

const HOUR = 3_600_000;
const T0 = 1_700_000_000_000;

function lastJoin(t: PendingJoinTable) {
  return {
    ts: t.lastTs,
    groupKey: t.lastGroupKey,
    output: t.lastOutputIsClass ? t.lastOutputClass : t.lastOutput,
    score: t.lastScore,
    segment: t.lastSegmentName,
    label: t.lastLabelString ?? t.lastLabel,
    labelTs: t.lastLabelTs,
  };
}

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uuid(next: () => number): string {
  const hex = '0123456789abcdef';
  let s = '';
  for (let i = 0; i < 32; i++) {
    if (i === 8 || i === 12 || i === 16 || i === 20) s += '-';
    s += hex[Math.floor(next() * 16)];
  }
  return s;
}

/** Recomputes the trailing checksum so a deliberately edited snapshot reaches the field checks. */
function resealed(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  let h = 0x811c9dc5;
  for (let i = 0; i < copy.length - 4; i++) h = Math.imul(h ^ copy[i], 0x01000193);
  new DataView(copy.buffer).setUint32(copy.length - 4, h >>> 0, true);
  return copy;
}

describe('PendingJoinTable: joins', () => {
  it('joins a label with its pending prediction and hands back the stored fields', () => {
    const t = new PendingJoinTable();
    expect(t.addPrediction('req-1', T0, 'fraud:v3', 0.87, 0.87, 'country=FR', T0)).toBe(P.Added);
    expect(t.size).toBe(1);
    expect(t.addLabel('req-1', 1, T0 + 5000, T0 + 5000)).toBe(L.Joined);
    expect(lastJoin(t)).toEqual({
      ts: T0,
      groupKey: 'fraud:v3',
      output: 0.87,
      score: 0.87,
      segment: 'country=FR',
      label: 1,
      labelTs: T0 + 5000,
    });
    expect(t.size).toBe(0);
    expect(t.hasPending('req-1')).toBe(false);
    expect(t.stats.joined).toBe(1);
  });

  it('keeps categorical outputs as class indices and resolves a string label to the same index', () => {
    const t = new PendingJoinTable();
    t.addPrediction('a', T0, 'churn:v1', 'stay', NaN, null, T0);
    t.addPrediction('b', T0, 'churn:v1', 'leave', 0.7, null, T0);
    expect(t.addLabel('b', 'leave', T0 + 1, T0 + 1)).toBe(L.Joined);
    expect(t.lastOutputIsClass).toBe(true);
    expect(t.lastOutputClass).toBe('leave');
    expect(t.lastLabelString).toBe('leave');
    expect(t.lastLabel).toBeNaN();
    expect(t.lastLabelClass).toBe(t.lastOutput);
    expect(t.lastSegmentName).toBeNull();
    expect(t.addLabel('a', 'leave', T0 + 2, T0 + 2)).toBe(L.Joined);
    expect(t.lastOutputClass).toBe('stay');
    expect(t.lastScore).toBeNaN();
    expect(t.lastLabelClass).not.toBe(t.lastOutput);
    expect(t.addLabel('nobody', 'unseen-class', T0 + 3, T0 + 3)).toBe(L.BufferedEarly);
  });

  it('buffers a label that arrives before its prediction and joins when the prediction comes', () => {
    const t = new PendingJoinTable();
    expect(t.addLabel('x', 0, T0 + 10, T0 + 10)).toBe(L.BufferedEarly);
    expect(t.earlySize).toBe(1);
    expect(t.hasEarly('x')).toBe(true);
    expect(t.addPrediction('x', T0, 'm:v', 0.2, 0.2, 'tier=gold', T0 + 20)).toBe(P.MatchedEarlyLabel);
    expect(lastJoin(t)).toEqual({ ts: T0, groupKey: 'm:v', output: 0.2, score: 0.2, segment: 'tier=gold', label: 0, labelTs: T0 + 10 });
    expect(t.size).toBe(0);
    expect(t.earlySize).toBe(0);
    expect(t.stats).toMatchObject({ joined: 1, joinedEarly: 1, early: 1 });
  });

  it('keeps the first of duplicate predictions and counts the duplicate', () => {
    const t = new PendingJoinTable();
    expect(t.addPrediction('d', T0, 'm:v', 1, NaN, null, T0)).toBe(P.Added);
    expect(t.addPrediction('d', T0 + 1, 'm:v', 2, NaN, null, T0)).toBe(P.Duplicate);
    expect(t.size).toBe(1);
    expect(t.stats.duplicatePredictions).toBe(1);
    t.addLabel('d', 1, T0 + 2, T0 + 2);
    expect(t.lastOutput).toBe(1);
    expect(t.lastTs).toBe(T0);
  });

  it('keeps the first of duplicate early labels; a copy of a label that already joined is a duplicate, not an unmatched label', () => {
    const t = new PendingJoinTable({ horizonMs: 1000 });
    expect(t.addLabel('e', 'yes', T0, T0)).toBe(L.BufferedEarly);
    expect(t.addLabel('e', 'no', T0, T0)).toBe(L.DuplicateEarly);
    expect(t.stats.duplicateLabels).toBe(1);
    t.addPrediction('e', T0, 'm:v', 'yes', NaN, null, T0);
    expect(t.lastLabelString).toBe('yes');

    t.addPrediction('j', T0, 'm:v', 'no', NaN, null, T0);
    expect(t.addLabel('j', 'no', T0 + 1, T0 + 1)).toBe(L.Joined);
    // The joined id is remembered: a second label is a duplicate, neither buffered nor expired later.
    expect(t.addLabel('j', 'no', T0 + 2, T0 + 2)).toBe(L.DuplicateJoined);
    expect(t.addLabel('e', 'no', T0 + 2, T0 + 2)).toBe(L.DuplicateJoined);
    expect(t.earlySize).toBe(0);
    expect(t.expire(T0 + 1003)).toEqual({ predictions: 0, earlyLabels: 0 });
    expect(t.stats).toMatchObject({ joined: 2, expiredLabels: 0, early: 1, duplicateLabels: 3, duplicateLabelsAfterJoin: 2 });
  });

  it('counts a copy of a prediction that arrives after its label joined once, in both join orders, until the horizon', () => {
    const t = new PendingJoinTable({ horizonMs: HOUR });
    expect(t.addPrediction('late-copy', T0, 'm:v', 0.7, 0.7, null, T0, 'm')).toBe(P.Added);
    expect(t.addLabel('late-copy', 1, T0 + 5000, T0 + 5000, 'm')).toBe(L.Joined);
    // the copy arrives ten minutes later (after JetStream's 2-minute duplicate window)
    expect(t.addPrediction('late-copy', T0, 'm:v', 0.7, 0.7, null, T0 + 600_000, 'm')).toBe(P.DuplicateJoined);
    expect(t.size).toBe(0);
    // label first, then the prediction, then its copy
    expect(t.addLabel('label-first', 0, T0 + 1, T0 + 1, 'm')).toBe(L.BufferedEarly);
    expect(t.addPrediction('label-first', T0 + 2, 'm:v', 0.2, 0.2, null, T0 + 2, 'm')).toBe(P.MatchedEarlyLabel);
    expect(t.addPrediction('label-first', T0 + 2, 'm:v', 0.2, 0.2, null, T0 + 900_000, 'm')).toBe(P.DuplicateJoined);
    expect(t.stats).toMatchObject({ joined: 2, duplicatePredictions: 2, duplicatePredictionsAfterJoin: 2 });
    expect(t.hasJoined('late-copy', 'm')).toBe(true);

    // past the horizon (plus one bucket) the memory lets go; such a copy is too late anyway
    t.expire(T0 + HOUR + t.joinedBucketMs + 10);
    expect(t.joinedSize).toBe(0);
    expect(t.hasJoined('late-copy', 'm')).toBe(false);
    expect(t.addPrediction('late-copy', T0, 'm:v', 0.7, 0.7, null, T0 + HOUR + t.joinedBucketMs + 10, 'm')).toBe(P.TooLate);
  });

  it('keys on model and id: two models with the same ids each join their own predictions', () => {
    const t = new PendingJoinTable();
    expect(t.addPrediction('req-1', T0, 'fraud\u0000v1', 0.9, 0.9, null, T0, 'fraud')).toBe(P.Added);
    expect(t.addPrediction('req-1', T0 + 1, 'churn\u0000v1', 'stay', NaN, null, T0 + 1, 'churn')).toBe(P.Added);
    expect(t.size).toBe(2);
    expect(t.hasPending('req-1', 'fraud')).toBe(true);
    expect(t.hasPending('req-1', 'other')).toBe(false);
    expect(t.addLabel('req-1', 'stay', T0 + 5, T0 + 5, 'churn')).toBe(L.Joined);
    expect(lastJoin(t)).toMatchObject({ groupKey: 'churn\u0000v1', output: 'stay', label: 'stay', ts: T0 + 1 });
    expect(t.addLabel('req-1', 1, T0 + 6, T0 + 6, 'fraud')).toBe(L.Joined);
    expect(lastJoin(t)).toMatchObject({ groupKey: 'fraud\u0000v1', output: 0.9, label: 1, ts: T0 });
    // a label for a third model waits for that model's prediction
    expect(t.addLabel('req-1', 1, T0 + 7, T0 + 7, 'spam')).toBe(L.BufferedEarly);
    expect([...t.earlyEntries()].map((e) => [e.id, e.model])).toEqual([['req-1', 'spam']]);
    expect(t.stats).toMatchObject({ joined: 2, duplicatePredictions: 0, duplicateLabels: 0 });
  });
});

describe('PendingJoinTable: expiry', () => {
  it('expires unlabelled predictions and unknown early labels after the horizon, with a callback per prediction', () => {
    const t = new PendingJoinTable({ horizonMs: HOUR });
    t.addPrediction('p1', T0, 'm:v1', 1, NaN, 'seg=a', T0);
    t.addPrediction('p2', T0 + 1000, 'm:v2', 2, NaN, null, T0 + 1000);
    t.addLabel('ghost', 1, T0 + 500, T0 + 500);
    const seen: [string, number, string | null][] = [];
    const onExpired = (g: string, ts: number, s: string | null) => seen.push([g, ts, s]);
    expect(t.expire(T0 + HOUR, onExpired)).toEqual({ predictions: 0, earlyLabels: 0 });
    expect(t.expire(T0 + HOUR + 1, onExpired)).toEqual({ predictions: 1, earlyLabels: 0 });
    expect(t.expire(T0 + HOUR + 501, onExpired)).toEqual({ predictions: 0, earlyLabels: 1 });
    expect(t.expire(T0 + HOUR + 1001, onExpired)).toEqual({ predictions: 1, earlyLabels: 0 });
    expect(seen).toEqual([
      ['m:v1', T0, 'seg=a'],
      ['m:v2', T0 + 1000, null],
    ]);
    expect(t.size).toBe(0);
    expect(t.earlySize).toBe(0);
    expect(t.stats).toMatchObject({ expiredPredictions: 2, expiredLabels: 1 });
    // A label after expiry does not find its prediction.
    expect(t.addLabel('p1', 1, T0 + 2 * HOUR, T0 + 2 * HOUR)).toBe(L.BufferedEarly);
  });

  it('expires oldest-inserted first and stops at the first entry inside the horizon', () => {
    const t = new PendingJoinTable({ horizonMs: 100 });
    t.addPrediction('a', 1000, 'g', 0, NaN, null, 1000);
    t.addPrediction('b', 1050, 'g', 0, NaN, null, 1050);
    t.addPrediction('late', 1010, 'g', 0, NaN, null, 1050); // out of order: older ts behind a younger one
    t.addPrediction('c', 1060, 'g', 0, NaN, null, 1060);
    t.addLabel('b', 1, 1070, 1070); // removes b from the middle of the order
    const order: number[] = [];
    expect(t.expire(1120, (_g, ts) => order.push(ts)).predictions).toBe(2); // a, then late (b is gone)
    expect(order).toEqual([1000, 1010]);
    expect([...t.pendingEntries()].map((e) => e.id)).toEqual(['c']);

    const u = new PendingJoinTable({ horizonMs: 100 });
    u.addPrediction('young', 1050, 'g', 0, NaN, null, 1050);
    u.addPrediction('old', 1000, 'g', 0, NaN, null, 1050);
    // 'old' is past the horizon but waits behind 'young': late, never early.
    expect(u.expire(1101).predictions).toBe(0);
    expect(u.hasPending('old')).toBe(true);
    expect(u.expire(1151).predictions).toBe(2);
  });

  it('does not store a prediction already older than the horizon unless its label waits', () => {
    const t = new PendingJoinTable({ horizonMs: 100 });
    expect(t.addPrediction('old', 1000, 'g', 0, NaN, null, 1101)).toBe(P.TooLate);
    expect(t.addPrediction('edge', 1000, 'g', 0, NaN, null, 1100)).toBe(P.Added);
    t.addLabel('waiting', 1, 1100, 1100);
    expect(t.addPrediction('waiting', 900, 'g', 0, NaN, null, 1150)).toBe(P.MatchedEarlyLabel);
    expect(t.stats.tooLate).toBe(1);
    expect(t.size).toBe(1);
  });
});

describe('PendingJoinTable: bounds', () => {
  it('never holds more than capacity predictions: the oldest is evicted and reported', () => {
    const t = new PendingJoinTable({ capacity: 1000, earlyCapacity: 10 });
    for (let i = 0; i < 1000; i++) expect(t.addPrediction(`id-${i}`, T0 + i, 'g', i, NaN, null, T0 + i)).toBe(P.Added);
    const filled = t.memoryBytes();
    let wrong = 0;
    for (let i = 1000; i < 50_000; i++) {
      const status = t.addPrediction(`id-${i}`, T0 + i, 'g', i, NaN, `s${i % 3}`, T0 + i);
      if (status !== P.AddedEvictedOldest || t.evictedTs !== T0 + i - 1000 || t.size !== 1000) wrong++;
    }
    expect(wrong).toBe(0);
    expect(t.memoryBytes()).toBe(filled);
    expect(t.stats.evicted).toBe(49_000);
    expect(t.hasPending('id-48999')).toBe(false);
    expect(t.hasPending('id-49000')).toBe(true);
  });

  it('drops the oldest early label when the buffer is full and counts it as expired', () => {
    const t = new PendingJoinTable({ earlyCapacity: 3 });
    for (const id of ['l1', 'l2', 'l3']) expect(t.addLabel(id, 1, T0, T0)).toBe(L.BufferedEarly);
    expect(t.addLabel('l4', 1, T0, T0)).toBe(L.BufferedEarlyDroppedOldest);
    expect(t.earlySize).toBe(3);
    expect(t.hasEarly('l1')).toBe(false);
    expect(t.stats).toMatchObject({ expiredLabels: 1, earlyDropped: 1 });
    expect(t.addPrediction('l1', T0, 'g', 0, NaN, null, T0)).toBe(P.Added);
  });

  it('keeps memory flat under join churn: id bytes of joined entries are reclaimed', () => {
    const t = new PendingJoinTable({ capacity: 5000 });
    const next = rng(7);
    const live: string[] = [];
    let peak = 0;
    let notJoined = 0;
    for (let i = 0; i < 200_000; i++) {
      const id = `order-${i}-${'x'.repeat(i % 40)}`;
      t.addPrediction(id, T0 + i, 'g', 1, NaN, null, T0 + i);
      live.push(id);
      if (live.length > 2000) {
        const k = Math.floor(next() * live.length);
        const victim = live[k];
        live[k] = live[live.length - 1];
        live.pop();
        if (t.addLabel(victim, 1, T0 + i, T0 + i) !== L.Joined) notJoined++;
      }
      if (i > 10_000) peak = Math.max(peak, t.memoryBytes());
    }
    expect(notJoined).toBe(0);
    expect(t.size).toBe(2000);
    // 2000 live ids of up to 56 bytes: slots (4096 max), buckets and a compacted arena.
    expect(peak).toBeLessThan(4096 * 80 + 2000 * 56 * 3);
    for (const id of live) expect(t.hasPending(id)).toBe(true);
  });

  it('rejects ids longer than maxIdBytes and non-finite times', () => {
    const t = new PendingJoinTable({ maxIdBytes: 32 });
    expect(t.addPrediction('x'.repeat(33), T0, 'g', 0, NaN, null, T0)).toBe(P.Rejected);
    expect(t.addPrediction('é'.repeat(17), T0, 'g', 0, NaN, null, T0)).toBe(P.Rejected); // 34 bytes
    expect(t.addPrediction('x'.repeat(32), T0, 'g', 0, NaN, null, T0)).toBe(P.Added);
    expect(t.addPrediction('y', NaN, 'g', 0, NaN, null, T0)).toBe(P.Rejected);
    expect(t.addLabel('x'.repeat(33), 1, T0, T0)).toBe(L.Rejected);
    expect(t.addLabel('z', 1, Infinity, T0)).toBe(L.Rejected);
    expect(t.stats.rejected).toBe(5);
  });

  it('caps groups, classes and segments', () => {
    const t = new PendingJoinTable({ maxGroups: 2, maxClassesPerGroup: 3, maxSegments: 2 });
    expect(t.addPrediction('1', T0, 'g1', 'a', NaN, 's1', T0)).toBe(P.Added);
    expect(t.addPrediction('2', T0, 'g2', 'a', NaN, 's2', T0)).toBe(P.Added);
    expect(t.addPrediction('3', T0, 'g3', 'a', NaN, null, T0)).toBe(P.Rejected);
    t.addPrediction('4', T0, 'g1', 'b', NaN, 's3', T0);
    t.addPrediction('5', T0, 'g1', 'c', NaN, null, T0);
    t.addPrediction('6', T0, 'g1', 'd', NaN, null, T0);
    const byId = new Map([...t.pendingEntries()].map((e) => [e.id, e]));
    expect(byId.get('4')).toMatchObject({ output: 'b', segment: OTHER_SEGMENT });
    expect(byId.get('2')).toMatchObject({ segment: OTHER_SEGMENT });
    expect(byId.get('5')?.output).toBe(OTHER_CLASS);
    expect(byId.get('6')?.output).toBe(OTHER_CLASS);
    expect(t.groupCount).toBe(2);
  });

  it('validates its options with a clear message', () => {
    expect(() => new PendingJoinTable({ capacity: 0 })).toThrow(/capacity must be an integer/);
    expect(() => new PendingJoinTable({ horizonMs: -1 })).toThrow(/horizonMs/);
  });
});

describe('PendingJoinTable: hashing', () => {
  function hashOf(id: string): number {
    const key = new IdKey(1024);
    key.set(id);
    return key.hash;
  }

  it('finds every id when hundreds share one bucket, through inserts and removals', () => {
    // capacity 512 -> at most 1024 buckets: ids with the same low 10 hash bits share a home bucket.
    const key = new IdKey(1024);
    const target = hashOf('seed') & 0x3ff;
    const ids: string[] = [];
    for (let n = 0; ids.length < 250; n++) {
      key.set(`c${n}`);
      if ((key.hash & 0x3ff) === target) ids.push(`c${n}`);
    }
    const t = new PendingJoinTable({ capacity: 512 });
    ids.forEach((id, i) => expect(t.addPrediction(id, T0, 'g', i, NaN, null, T0)).toBe(P.Added));
    for (let i = 0; i < 250; i++) t.addPrediction(`filler-${i}`, T0, 'g', -1, NaN, null, T0); // grows the table
    const next = rng(3);
    const remaining = new Set(ids);
    for (const id of [...ids].sort(() => next() - 0.5)) {
      if (next() < 0.5) continue;
      expect(t.addLabel(id, 1, T0, T0)).toBe(L.Joined);
      expect(t.lastOutput).toBe(ids.indexOf(id));
      remaining.delete(id);
      for (const other of ids) expect(t.hasPending(other)).toBe(remaining.has(other));
    }
    expect(t.size).toBe(remaining.size + 250);
  });

  it('tells apart ids whose 32-bit hashes are equal', () => {
    const seen = new Map<number, string>();
    let pair: [string, string] | null = null;
    for (let n = 0; pair === null; n++) {
      const id = `k${n}`;
      const h = hashOf(id);
      const before = seen.get(h);
      if (before !== undefined) pair = [before, id];
      else seen.set(h, id);
    }
    const [a, b] = pair;
    expect(hashOf(a)).toBe(hashOf(b));
    const t = new PendingJoinTable({ capacity: 16 });
    t.addPrediction(a, T0, 'g', 1, NaN, null, T0);
    expect(t.hasPending(b)).toBe(false);
    expect(t.addPrediction(b, T0, 'g', 2, NaN, null, T0)).toBe(P.Added);
    expect(t.addLabel(b, 0, T0, T0)).toBe(L.Joined);
    expect(t.lastOutput).toBe(2);
    expect(t.hasPending(a)).toBe(true);
  });

  it('stores non-ASCII, astral, lone-surrogate and UUID ids exactly, and keeps them distinct', () => {
    const ids = [
      'café-42',
      '日本語のid',
      '🙂-emoji-id',
      'lone-\uD800',
      'lone-\uDFFF',
      'lone-\uFFFD',
      '',
      'f47ac10b-58cc-4372-a567-0e02b2c3d479',
      'F47AC10B-58CC-4372-A567-0E02B2C3D479',
      'f47ac10b-58cc-4372-a567-0e02b2c3d47g', // not hex: stored as text
    ];
    const t = new PendingJoinTable();
    ids.forEach((id, i) => expect(t.addPrediction(id, T0 + i, 'g', i, NaN, null, T0)).toBe(P.Added));
    expect(t.size).toBe(ids.length);
    expect([...t.pendingEntries()].map((e) => e.id)).toEqual(ids);
    const restored = PendingJoinTable.fromBytes(t.toBytes());
    expect([...restored.pendingEntries()].map((e) => e.id)).toEqual(ids);
    ids.forEach((id, i) => {
      expect(restored.addLabel(id, 1, T0, T0)).toBe(L.Joined);
      expect(restored.lastOutput).toBe(i);
    });
  });
});

/**
 * A format-1 snapshot (before keys carried the model), written field by field as the format-1
 * writer did: pending entries and early labels with text ids, no model table, no joined ids.
 */
function formatOneSnapshot(pending: Array<{ id: string; ts: number; output: number; group: number }>, early: Array<{ id: string; label: number; labelTs: number; arrivedAt: number }>, groups: string[]): Uint8Array {
  const w = new SnapshotWriter(256);
  w.u32(0x544a5744);
  w.u16(1);
  w.u16(0);
  for (const option of [1000, 100]) w.u32(option); // capacity, earlyCapacity
  w.f64(HOUR);
  for (const option of [1024, 4096, 1024, 4096]) w.u32(option); // maxIdBytes, maxGroups, maxClassesPerGroup, maxSegments
  for (let k = 0; k < 11; k++) w.f64(k === 0 ? 5 : 0); // stats: joined = 5
  w.u32(groups.length);
  for (const g of groups) {
    w.str(g);
    w.u32(0);
  }
  w.u32(0); // segments
  const id = (text: string): void => {
    const bytes = new TextEncoder().encode(text);
    w.u16(bytes.length);
    for (const b of bytes) w.u8(b);
  };
  w.u32(pending.length);
  for (const p of pending) {
    id(p.id);
    w.f64(p.ts);
    w.f64(p.output);
    w.f64(NaN);
    w.u16(p.group);
    w.u16(0);
    w.u8(0);
  }
  w.u32(early.length);
  for (const e of early) {
    id(e.id);
    w.u8(0);
    w.f64(e.label);
    w.f64(e.labelTs);
    w.f64(e.arrivedAt);
  }
  return resealed(new Uint8Array([...w.finish(), 0, 0, 0, 0]));
}

describe('PendingJoinTable: format-1 snapshots (keys without the model)', () => {
  it('restore, and their entries join with any model until the last of them is gone', () => {
    const bytes = formatOneSnapshot(
      [
        { id: 'old-1', ts: T0, output: 0.25, group: 0 },
        { id: 'old-2', ts: T0 + 1, output: 0.75, group: 1 },
      ],
      [{ id: 'early-1', label: 1, labelTs: T0, arrivedAt: T0 }],
      ['fraud\u0000v1', 'churn\u0000v1'],
    );
    const t = PendingJoinTable.fromBytes(bytes);
    expect(t.stats.joined).toBe(5);
    expect([...t.pendingEntries()].map((e) => [e.id, e.model, e.groupKey])).toEqual([
      ['old-1', '', 'fraud\u0000v1'],
      ['old-2', '', 'churn\u0000v1'],
    ]);
    // a label of the new kind (with its model) finds the restored prediction
    expect(t.addLabel('old-1', 1, T0 + 10, T0 + 10, 'fraud')).toBe(L.Joined);
    expect(lastJoin(t)).toMatchObject({ groupKey: 'fraud\u0000v1', output: 0.25, label: 1 });
    // its copy is then a duplicate under the label's model
    expect(t.addLabel('old-1', 1, T0 + 11, T0 + 11, 'fraud')).toBe(L.DuplicateJoined);
    // a new prediction meets the restored early label
    expect(t.addPrediction('early-1', T0 + 2, 'fraud\u0000v1', 0.9, 0.9, null, T0 + 12, 'fraud')).toBe(P.MatchedEarlyLabel);
    expect(t.lastLabel).toBe(1);
    // and the table writes format 2 from now on, which restores to the same state
    const again = PendingJoinTable.fromBytes(t.toBytes());
    expect(again.toBytes()).toEqual(t.toBytes());
    expect(again.addLabel('old-2', 0, T0 + 20, T0 + 20, 'churn')).toBe(L.Joined);
    expect(again.size).toBe(0);
    // with no restored entry left, keys are strictly per model
    again.addPrediction('shared', T0 + 30, 'fraud\u0000v1', 0.5, 0.5, null, T0 + 30, 'fraud');
    expect(again.addLabel('shared', 1, T0 + 31, T0 + 31, 'churn')).toBe(L.BufferedEarly);
  });
});

describe('PendingJoinTable: snapshots', () => {
  function drive(t: PendingJoinTable, seed: number, steps: number, log: unknown[]): void {
    const next = rng(seed);
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) ids.push(i % 3 === 0 ? `ü-${i}` : uuid(next));
    let now = T0;
    const groups = ['a:v1', 'a:v2', 'b:default'];
    for (let s = 0; s < steps; s++) {
      now += Math.floor(next() * 50);
      const id = ids[Math.floor(next() * ids.length)];
      const r = next();
      if (r < 0.5) {
        const cat = next() < 0.5;
        const status = t.addPrediction(
          id,
          now - Math.floor(next() * 300),
          groups[Math.floor(next() * 3)],
          cat ? ['x', 'y', 'z'][Math.floor(next() * 3)] : next(),
          next() < 0.3 ? NaN : next(),
          next() < 0.5 ? null : `seg${Math.floor(next() * 4)}`,
          now,
        );
        log.push(['p', status, status === P.MatchedEarlyLabel ? lastJoin(t) : null]);
      } else if (r < 0.95) {
        const status = t.addLabel(id, next() < 0.5 ? Math.floor(next() * 2) : 'y', now, now);
        log.push(['l', status, status === L.Joined ? lastJoin(t) : null]);
      } else {
        const expired: unknown[] = [];
        t.expire(now, (g, ts, seg) => expired.push([g, ts, seg]));
        log.push(['e', expired]);
      }
    }
    log.push(['stats', { ...t.stats }, t.size, t.earlySize]);
  }

  it('round-trips mid-stream: the restored table behaves exactly like its un-serialized twin', () => {
    const original = new PendingJoinTable({ capacity: 120, earlyCapacity: 40, horizonMs: 2000 });
    drive(original, 1, 3000, []);
    const bytes = original.toBytes();
    const restored = PendingJoinTable.fromBytes(bytes);
    expect(restored.toBytes()).toEqual(bytes);
    expect([...restored.pendingEntries()]).toEqual([...original.pendingEntries()]);
    expect([...restored.earlyEntries()]).toEqual([...original.earlyEntries()]);
    expect(restored.stats).toEqual(original.stats);

    const logOriginal: unknown[] = [];
    const logRestored: unknown[] = [];
    drive(original, 2, 5000, logOriginal);
    drive(restored, 2, 5000, logRestored);
    expect(logRestored).toEqual(logOriginal);
    expect(restored.toBytes()).toEqual(original.toBytes());
    expect(original.stats.joined).toBeGreaterThan(100);
    expect(original.stats.joinedEarly).toBeGreaterThan(10);
    expect(original.stats.evicted + original.stats.expiredPredictions).toBeGreaterThan(10);
  });

  it('snapshot size follows the entries, not the capacity', () => {
    const t = new PendingJoinTable({ capacity: 1_000_000 });
    expect(t.toBytes().length).toBeLessThan(200);
    t.addPrediction('f47ac10b-58cc-4372-a567-0e02b2c3d479', T0, 'g', 1, NaN, null, T0);
    const one = t.toBytes().length;
    t.addPrediction('0f47ac10-58cc-4372-a567-0e02b2c3d479', T0, 'g', 1, NaN, null, T0);
    // tag, model, packed UUID, ts/output/score, group, segment, flags
    expect(t.toBytes().length - one).toBe(2 + 2 + 16 + 8 * 3 + 2 + 2 + 1);
  });

  it('rejects corrupted input with a message saying what is wrong', () => {
    const t = new PendingJoinTable({ capacity: 10 });
    t.addPrediction('abc', T0, 'g', 'cls', NaN, 's', T0);
    t.addLabel('early', 'x', T0, T0);
    const bytes = t.toBytes();
    const flipped = bytes.slice();
    flipped[flipped.length - 10] ^= 0x40;
    expect(() => PendingJoinTable.fromBytes(flipped)).toThrow(/checksum mismatch/);
    expect(() => PendingJoinTable.fromBytes(bytes.subarray(0, bytes.length - 7))).toThrow(JoinSnapshotError);
    expect(() => PendingJoinTable.fromBytes(new Uint8Array(3))).toThrow(/too short/);
    const badMagic = bytes.slice();
    badMagic[0] = 0;
    expect(() => PendingJoinTable.fromBytes(badMagic)).toThrow(/bad magic/);
    const badVersion = bytes.slice();
    badVersion[4] = 9;
    expect(() => PendingJoinTable.fromBytes(badVersion)).toThrow(/unsupported format version 9/);

    // A well-sealed snapshot whose pending entry points at a group that does not exist.
    const groupAt = bytes.length - 4 /* checksum */ - 4 /* joined bucket count */ - 4 /* early count */ - (2 + 2 + 5 + 1 + 4 + 1 + 8 + 8) /* early label */ - 5;
    const badGroup = bytes.slice();
    badGroup[groupAt] = 7;
    expect(() => PendingJoinTable.fromBytes(resealed(badGroup))).toThrow(/pending entry 0: group 7 does not exist/);
    // Truncated body, resealed: the reader names the field it could not read.
    const short = resealed(new Uint8Array([...bytes.subarray(0, 60), 0, 0, 0, 0]));
    expect(() => PendingJoinTable.fromBytes(short)).toThrow(/truncated/);
  });
});
