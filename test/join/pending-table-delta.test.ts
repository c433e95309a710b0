import { describe, expect, it } from 'vitest';
import { PendingJoinTable } from '../../src/join/pending-table.ts';
import { JoinSnapshotError } from '../../src/join/snapshot-bytes.ts';

const T0 = 1_700_000_000_000;

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

/** Everything a user of the table can observe, decoded. */
function observable(t: PendingJoinTable) {
  return {
    stats: { ...t.stats },
    pending: [...t.pendingEntries()],
    early: [...t.earlyEntries()],
    joinedSize: t.joinedSize,
  };
}

/**
 * Random traffic over a small id space (so duplicates, joins in both orders, evictions, expiry and
 * re-inserted ids all happen), checkpointed every `every` events: a base, then deltas, compacted
 * into a new base every `compactEvery` checkpoints.
 */
function run(seed: number, events: number, every: number, compactEvery: number) {
  const next = rng(seed);
  const table = new PendingJoinTable({ capacity: 300, earlyCapacity: 60, horizonMs: 20_000, joinedCapacity: 400 });
  let base: Uint8Array | null = null;
  let deltas: Uint8Array[] = [];
  let now = T0;
  const checkpoints: Array<{ base: Uint8Array; deltas: Uint8Array[]; state: ReturnType<typeof observable> }> = [];
  for (let i = 1; i <= events; i++) {
    now += Math.floor(next() * 40);
    const id = `id-${Math.floor(next() * 900)}`;
    const model = next() < 0.5 ? 'a' : 'b';
    const r = next();
    if (r < 0.55) {
      const output = next() < 0.5 ? Math.round(next() * 100) / 10 : `class-${Math.floor(next() * 4)}`;
      table.addPrediction(id, now - Math.floor(next() * 5_000), `${model}\u0000v1`, output, next(), next() < 0.3 ? `seg-${Math.floor(next() * 3)}` : null, now, model);
    } else if (r < 0.95) {
      table.addLabel(id, next() < 0.5 ? 1 : 'class-1', now, now, model);
    } else {
      table.expire(now);
    }
    if (i % every === 0) {
      if (base === null || deltas.length >= compactEvery) {
        base = table.toBytes();
        deltas = [];
      } else {
        deltas.push(table.deltaBytes());
      }
      table.markCheckpoint();
      checkpoints.push({ base, deltas: [...deltas], state: observable(table) });
    }
  }
  return { table, checkpoints };
}

function restore(base: Uint8Array, deltas: readonly Uint8Array[]): PendingJoinTable {
  const table = PendingJoinTable.fromBytes(base);
  for (const delta of deltas) table.applyDelta(delta);
  return table;
}

describe('PendingJoinTable incremental checkpoints', () => {
  it('base + deltas restores exactly the state at every checkpoint, through joins, evictions, expiry and compaction', () => {
    for (const seed of [1, 2, 3]) {
      const { checkpoints } = run(seed, 6_000, 97, 8);
      expect(checkpoints.length).toBeGreaterThan(50);
      for (const checkpoint of checkpoints) {
        expect(observable(restore(checkpoint.base, checkpoint.deltas))).toEqual(checkpoint.state);
      }
    }
  });

  it('a restored table goes on like the original: the same events give the same results and state', () => {
    const { table, checkpoints } = run(7, 3_000, 50, 1_000);
    const last = checkpoints[checkpoints.length - 1];
    expect(last.deltas.length).toBeGreaterThan(10);
    const restored = restore(last.base, last.deltas);
    const next = rng(99);
    let now = T0 + 10_000_000;
    for (let i = 0; i < 2_000; i++) {
      now += 25;
      const id = `id-${Math.floor(next() * 900)}`;
      const model = next() < 0.5 ? 'a' : 'b';
      if (next() < 0.5) {
        const ts = now - 1_000;
        expect(restored.addPrediction(id, ts, `${model}\u0000v1`, 1, 0.5, null, now, model)).toBe(table.addPrediction(id, ts, `${model}\u0000v1`, 1, 0.5, null, now, model));
      } else {
        expect(restored.addLabel(id, 1, now, now, model)).toBe(table.addLabel(id, 1, now, now, model));
      }
      // the remembered joined ids are the same set: copies are recognised alike
      expect(restored.hasJoined(id, model)).toBe(table.hasJoined(id, model));
    }
    expect(observable(restored)).toEqual(observable(table));
  });

  it('a delta is O(change): at 20,000 pending entries, 100 new ones and 100 joins make a delta under 5 % of the base', () => {
    const table = new PendingJoinTable({ capacity: 100_000 });
    for (let i = 0; i < 20_000; i++) table.addPrediction(`p-${i}`, T0 + i, 'm\u0000v', 1, 0.5, null, T0 + i, 'm');
    const base = table.toBytes();
    table.markCheckpoint();
    for (let i = 0; i < 100; i++) {
      table.addPrediction(`q-${i}`, T0 + 30_000 + i, 'm\u0000v', 1, 0.5, null, T0 + 30_000, 'm');
      table.addLabel(`p-${i * 7}`, 1, T0 + 30_000, T0 + 30_000, 'm');
    }
    const delta = table.deltaBytes();
    expect(delta.length).toBeLessThan(base.length * 0.05);
    const restored = restore(base, [delta]);
    expect(restored.size).toBe(20_000);
    expect(restored.hasPending('p-7', 'm')).toBe(false);
    expect(restored.hasJoined('p-7', 'm')).toBe(true);
    expect(restored.hasPending('q-99', 'm')).toBe(true);
  });

  it('refuses a delta applied to a state it does not follow, or damaged, saying what is wrong', () => {
    const table = new PendingJoinTable();
    table.addPrediction('x', T0, 'm\u0000v', 1, 0.5, null, T0, 'm');
    const base = table.toBytes();
    table.markCheckpoint();
    table.addLabel('x', 1, T0, T0, 'm');
    const first = table.deltaBytes();
    table.markCheckpoint();
    table.addPrediction('y', T0, 'm\u0000v', 1, 0.5, null, T0, 'm');
    const second = table.deltaBytes();
    // the second delta alone: fine for names, but the first one's removal of x is missing, and
    // applying the first twice removes an id that is no longer pending
    const twice = PendingJoinTable.fromBytes(base);
    twice.applyDelta(first);
    expect(() => twice.applyDelta(first)).toThrow(/removed pending 0: the id is not pending/);
    const damaged = second.slice();
    damaged[20] ^= 0xff;
    expect(() => PendingJoinTable.fromBytes(base).applyDelta(damaged)).toThrow(JoinSnapshotError);
    expect(() => PendingJoinTable.fromBytes(base).applyDelta(base)).toThrow(/not a driftwatch join table delta/);
    expect(() => new PendingJoinTable().deltaBytes()).toThrow(/markCheckpoint\(\) was never called/);
  });
});
