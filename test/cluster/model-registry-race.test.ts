/**
 * The model registry's decisions under the interleavings a loaded machine produces, made
 * deterministic with an in-memory KV whose operations can be held at a gate or delayed, and whose
 * watch delivers nothing (or only some keys): a mirror as far behind as it can be.
 *
 * What is checked is the README's promise "a model is counted in full or refused in full, never
 * split": whatever the order of the processes' KV operations, every answer a model ever gets is
 * the same one, also when refusals overflow `maxRefusalRecords` and are given without a record.
 */
import { describe, expect, it } from 'vitest';
import type { KV, KvEntry } from '@nats-io/kv';
import { ModelRegistry, modelKey } from '../../src/cluster/model-registry.ts';
import type { ModelRegistryOptions } from '../../src/cluster/model-registry.ts';

interface Stored {
  value: Uint8Array;
  revision: number;
  operation: 'PUT' | 'DEL';
}

type Op = 'get' | 'create' | 'update' | 'delete';

/** One bucket shared by every "process". */
class FakeBucket {
  readonly entries = new Map<string, Stored>();
  revision = 0;
  readonly watchers = new Set<(key: string, stored: Stored) => void>();

  write(key: string, value: Uint8Array, operation: 'PUT' | 'DEL'): number {
    const stored = { value, revision: ++this.revision, operation };
    this.entries.set(key, stored);
    for (const watcher of this.watchers) watcher(key, stored);
    return stored.revision;
  }
}

interface Gate {
  matches: (op: Op, key: string) => boolean;
  reached: Promise<void>;
  open: () => void;
}

/** One process's handle on the bucket: its operations can be held at gates, delayed, and counted. */
class FakeKv {
  private readonly gates: Array<Gate & { arrive: () => void; opened: Promise<void> }> = [];
  readonly ops: Array<{ op: Op; key: string }> = [];

  constructor(
    private readonly bucket: FakeBucket,
    /** Keys the watch delivers (default none: the mirror learns only from its own reads and writes). */
    private readonly watched: (key: string) => boolean = () => false,
    /** Extra latency before each operation reaches the bucket. */
    private readonly latency: () => number = () => 0,
  ) {}

  /** Holds the next operation matching `matches` until `open()` is called. */
  gate(matches: (op: Op, key: string) => boolean): Gate {
    let arrive = (): void => undefined;
    let open = (): void => undefined;
    const reached = new Promise<void>((resolve) => (arrive = resolve));
    const opened = new Promise<void>((resolve) => (open = resolve));
    const gate = { matches, reached, open, arrive, opened };
    this.gates.push(gate);
    return gate;
  }

  private readonly failures: Array<(op: Op, key: string) => boolean> = [];

  /** Fails the next operation matching `matches` (as a timeout on a loaded server would), without touching the bucket. */
  failNext(matches: (op: Op, key: string) => boolean): void {
    this.failures.push(matches);
  }

  private async pass(op: Op, key: string): Promise<void> {
    this.ops.push({ op, key });
    const failure = this.failures.findIndex((matches) => matches(op, key));
    if (failure >= 0) {
      this.failures.splice(failure, 1);
      throw new Error(`TIMEOUT (injected): ${op} ${key}`);
    }
    const delay = this.latency();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const index = this.gates.findIndex((gate) => gate.matches(op, key));
    if (index >= 0) {
      const [gate] = this.gates.splice(index, 1);
      gate.arrive();
      await gate.opened;
    }
  }

  private entry(key: string, stored: Stored): KvEntry {
    return { key, value: stored.value, revision: stored.revision, operation: stored.operation, delta: 0, isUpdate: true } as unknown as KvEntry;
  }

  async get(key: string): Promise<KvEntry | null> {
    await this.pass('get', key);
    const stored = this.bucket.entries.get(key);
    return stored === undefined ? null : this.entry(key, stored);
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    await this.pass('create', key);
    if (this.bucket.entries.get(key)?.operation === 'PUT') throw new Error(`wrong last sequence: ${key} exists`);
    return this.bucket.write(key, value, 'PUT');
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    await this.pass('update', key);
    if (this.bucket.entries.get(key)?.revision !== revision) throw new Error(`wrong last sequence: ${key}`);
    return this.bucket.write(key, value, 'PUT');
  }

  async delete(key: string, options?: { previousSeq?: number }): Promise<void> {
    await this.pass('delete', key);
    const stored = this.bucket.entries.get(key);
    if (options?.previousSeq !== undefined && stored?.revision !== options.previousSeq) throw new Error(`wrong last sequence: ${key}`);
    this.bucket.write(key, new Uint8Array(), 'DEL');
  }

  async status(): Promise<{ values: number }> {
    return { values: 0 };
  }

  async watch(): Promise<AsyncIterable<KvEntry> & { stop(): void }> {
    const queue: KvEntry[] = [];
    let wake: (() => void) | null = null;
    let stopped = false;
    const watcher = (key: string, stored: Stored): void => {
      if (!this.watched(key)) return;
      queue.push(this.entry(key, stored));
      wake?.();
    };
    this.bucket.watchers.add(watcher);
    const bucket = this.bucket;
    return {
      stop() {
        stopped = true;
        bucket.watchers.delete(watcher);
        wake?.();
      },
      async *[Symbol.asyncIterator]() {
        while (!stopped) {
          const next = queue.shift();
          if (next !== undefined) yield next;
          else await new Promise<void>((resolve) => (wake = resolve));
        }
      },
    };
  }
}

const open = (kv: FakeKv, options: ModelRegistryOptions): Promise<ModelRegistry> => ModelRegistry.openOn(kv as unknown as KV, options);

/** Settled within a few turns of the event loop? */
async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  return settled;
}

/** A small seeded generator (mulberry32): the same interleavings on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One model slot, no refusal records, records released after 10 s of a test clock (`advance`);
 * `slotsOnly`: a watch that delivers slots (what each process learns of the others' claims and frees).
 */
function oneSlot(): { bucket: FakeBucket; options: ModelRegistryOptions; advance: (ms: number) => void } {
  const bucket = new FakeBucket();
  let now = 1_000_000;
  const advance = (ms: number): void => {
    now += ms;
  };
  return { bucket, options: { maxModels: 1, maxVersionsPerModel: 1, idleMs: 10_000, maxRefusalRecords: 0, now: () => now }, advance };
}
const slotsOnly = (key: string): boolean => key.startsWith('ms.');

describe('ModelRegistry under delayed KV operations (never split)', () => {
  it('a process that finds every slot taken does not refuse, without a record, a model another process is admitting: it waits for that decision', async () => {
    const bucket = new FakeBucket();
    const [kvA, kvB] = [new FakeKv(bucket), new FakeKv(bucket)];
    // one slot, no refusal records: every refusal is one without a record
    const options = { maxModels: 1, maxVersionsPerModel: 1, idleMs: 60_000, maxRefusalRecords: 0 };
    const [a, b] = await Promise.all([open(kvA, options), open(kvB, options)]);

    // A has taken the slot for 'x' and its record write is in flight (a loaded process)
    const recordWrite = kvA.gate((op, key) => op === 'create' && key === modelKey('x'));
    const fromA = a.resolve('x', null);
    await recordWrite.reached;
    expect(bucket.entries.get('ms.0')?.operation).toBe('PUT');

    // B sees the slot taken and no record of 'x': before the fix it refused 'x' without a record
    // here, while A went on to admit it (B's partitions dead-letter 'x', A's count it)
    const fromB = b.resolve('x', null);
    expect(await settledSoon(fromB)).toBe(false);
    recordWrite.open();
    const [resolvedA, resolvedB] = await Promise.all([fromA, fromB]);
    expect(resolvedA.decision).toBe('admitted');
    expect(resolvedB.decision).toBe('admitted');
    expect(resolvedA.decidedHere && !resolvedB.decidedHere).toBe(true);
    a.close();
    b.close();
  });

  it('a model refused without a record stays refused while it keeps being refused, even when a slot frees up; it is admitted once it has been quiet', async () => {
    // the watches deliver slots (the records each process learns by reading them)
    const { bucket, options, advance } = oneSlot();
    const [a, b] = await Promise.all([open(new FakeKv(bucket, slotsOnly), options), open(new FakeKv(bucket, slotsOnly), options)]);

    expect((await a.resolve('w', null)).decision).toBe('admitted');
    // 'z' finds the only slot taken and no room for a refusal record
    expect(await b.resolve('z', null)).toMatchObject({ decision: 'refused', recorded: false });
    advance(6_000);
    // its events go on arriving: asked again after a touch interval, by any process
    expect(await a.resolve('z', null)).toMatchObject({ decision: 'refused', recorded: false });
    advance(6_000);
    // 'w' has been idle for idleMs: released with its slot
    expect(await a.sweep()).toEqual([modelKey('w')]);
    // before the fix 'z' took the free slot here: its first events refused, the rest counted
    expect(await b.resolve('z', null)).toMatchObject({ decision: 'refused', recorded: false });
    expect(await a.resolve('z', null)).toMatchObject({ decision: 'refused', recorded: false });
    // the free slot is there for a model that was never refused
    expect((await a.resolve('newcomer', null)).decision).toBe('admitted');
    expect(await a.sweep()).toEqual([]);

    // 'z' quiet for two filter generations (2 × idleMs), and 'newcomer' idle: 'z' is admitted anew
    advance(25_000);
    expect(await a.sweep()).toEqual([modelKey('newcomer')]);
    expect(await b.resolve('z', null)).toMatchObject({ decision: 'admitted', recorded: true });
    a.close();
    b.close();
  });

  it('the sweep does not free a slot as orphaned while its record is missing only from its own lagging mirror', async () => {
    const bucket = new FakeBucket();
    let now = 1_000_000;
    const options = { maxModels: 1, maxVersionsPerModel: 1, idleMs: 3_600_000, now: () => now };
    const a = await open(new FakeKv(bucket), options);
    // B's watch delivers the slots but is behind on the records
    const b = await open(new FakeKv(bucket, (key) => key.startsWith('ms.')), options);
    expect((await a.resolve('x', null)).decision).toBe('admitted');
    await new Promise((resolve) => setTimeout(resolve, 10));
    now += 31_000;
    await b.sweep();
    expect(bucket.entries.get('ms.0')?.operation).toBe('PUT');
    expect((await b.resolve('y', null)).decision).toBe('refused');
    a.close();
    b.close();
  });

  it('a slot whose free failed at the sweep is freed at the next sweep, not left to the orphan check 30 s later', async () => {
    const { bucket, options, advance } = oneSlot();
    const kv = new FakeKv(bucket);
    const registry = await open(kv, options);
    expect((await registry.resolve('x', null)).decision).toBe('admitted');
    advance(11_000);
    kv.failNext((op, key) => op === 'delete' && key === 'ms.0');
    expect(await registry.sweep()).toEqual([modelKey('x')]);
    // the record is gone, its slot is not: before, every model was refused for want of it until the orphan check
    expect(bucket.entries.get('ms.0')?.operation).toBe('PUT');
    advance(1_000);
    await registry.sweep();
    expect(bucket.entries.get('ms.0')?.operation).toBe('DEL');
    expect((await registry.resolve('z', null)).decision).toBe('admitted');
    registry.close();
  });

  it('a record and slot released by another process, whose delete markers were purged before this mirror heard of them, do not keep their place here for good', async () => {
    const { bucket, options, advance } = oneSlot();
    // A's watch delivers nothing: it misses the release, as a watch behind a loaded process or one
    // being made again misses delete markers purged meanwhile
    const a = await open(new FakeKv(bucket), options);
    expect((await a.resolve('x', null)).decision).toBe('admitted');
    // another process released 'x' and its slot, and purged the markers
    bucket.write(modelKey('x'), new Uint8Array(), 'DEL');
    bucket.write('ms.0', new Uint8Array(), 'DEL');
    bucket.entries.delete(modelKey('x'));
    bucket.entries.delete('ms.0');
    expect((await a.resolve('y', null)).decision).toBe('refused');
    advance(31_000);
    await a.sweep();
    // the slot is free in A's eyes again: a newcomer is admitted (before, every model was refused for good)
    expect((await a.resolve('z', null)).decision).toBe('admitted');
    expect(bucket.entries.get('ms.0')?.operation).toBe('PUT');
    a.close();
  });

  it('a slot whose failed free landed after all, and was claimed again by another process, is not freed again', async () => {
    // the watches deliver slots: each mirror sees the other's claims and frees
    const { bucket, options, advance } = oneSlot();
    const kvA = new FakeKv(bucket, slotsOnly);
    const [a, b] = await Promise.all([open(kvA, options), open(new FakeKv(bucket, slotsOnly), options)]);
    expect((await a.resolve('x', null)).decision).toBe('admitted');
    advance(11_000);
    kvA.failNext((op, key) => op === 'delete' && key === 'ms.0');
    await a.sweep();
    // the delete that "timed out" landed after all, and B claims the slot for another model
    bucket.write('ms.0', new Uint8Array(), 'DEL');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await b.resolve('y', null)).decision).toBe('admitted');
    await new Promise((resolve) => setTimeout(resolve, 10));
    const claimed = bucket.entries.get('ms.0');
    expect(claimed?.operation).toBe('PUT');
    await a.sweep();
    expect(bucket.entries.get('ms.0')).toBe(claimed);
    a.close();
    b.close();
  });

  it('property: three processes with random KV latencies, one slot-starved cap and refusals without records; every model gets one answer, and the cap holds', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const random = seeded(seed);
      const bucket = new FakeBucket();
      const options = { maxModels: 4, maxVersionsPerModel: 1, idleMs: 3_600_000, maxRefusalRecords: 3 };
      const processes = await Promise.all(
        [0, 1, 2].map((i) => open(new FakeKv(bucket, (key) => key.startsWith('ms.') && i !== 2, () => Math.floor(random() * 4)), options)),
      );
      const models = Array.from({ length: 24 }, (_, i) => `m${i}`);
      // each model asked 6 times, by random processes, all at once
      const asks = models.flatMap((model) => Array.from({ length: 6 }, () => ({ model, process: processes[Math.floor(random() * processes.length)] })));
      const answers = await Promise.all(asks.map(async ({ model, process }) => ({ model, decision: (await process.resolve(model, null)).decision })));
      const byModel = new Map<string, Set<string>>();
      for (const { model, decision } of answers) byModel.set(model, (byModel.get(model) ?? new Set()).add(decision));
      for (const [model, decisions] of byModel) expect([...decisions], `seed ${seed}, ${model}`).toHaveLength(1);
      const admitted = [...byModel].filter(([, decisions]) => decisions.has('admitted')).length;
      expect(admitted, `seed ${seed}`).toBeLessThanOrEqual(4);
      expect(admitted, `seed ${seed}`).toBeGreaterThan(0);
      for (const process of processes) process.close();
    }
  });
});
