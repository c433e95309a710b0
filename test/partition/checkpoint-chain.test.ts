import { describe, expect, it } from 'vitest';
import { PartitionProcessor } from '../../src/partition/processor.ts';
import type { PartitionOwner, ProcessorOptions } from '../../src/partition/processor.ts';
import { baseCheckpointName, deltaCheckpointName, readCheckpointChain, restoreCheckpointChain } from '../../src/partition/checkpoint-chain.ts';
import type { CheckpointObjects } from '../../src/partition/checkpoint-chain.ts';
import { decodePaneMessage } from '../../src/contract/pane-codec.ts';
import { feed, mixedStream, processorOptions } from '../contract/pane-stream.ts';

const messages = mixedStream(1500);

/** An object store in memory, with the object store's compare-and-set on the revision (0: must not exist). */
class MemoryObjects implements CheckpointObjects {
  readonly objects = new Map<string, { data: Uint8Array; revision: number; metadata: Record<string, string> }>();
  private revision = 0;
  async info(name: string) {
    const o = this.objects.get(name);
    return o === undefined ? null : { revision: o.revision, size: o.data.length, metadata: o.metadata };
  }
  async getBlob(name: string) {
    return this.objects.get(name)?.data ?? null;
  }
  async putBlob(meta: { name: string; metadata?: Record<string, string> }, data: Uint8Array | null, opts?: { previousRevision?: number }) {
    const current = this.objects.get(meta.name)?.revision ?? 0;
    if (opts?.previousRevision !== undefined && opts.previousRevision !== current) throw new Error(`wrong last sequence: ${current}`);
    const revision = ++this.revision;
    this.objects.set(meta.name, { data: data ?? new Uint8Array(0), revision, metadata: meta.metadata ?? {} });
    return { revision };
  }
  async delete(name: string) {
    this.objects.delete(name);
  }
}

/**
 * What PartitionRunner writes, step by step: a base by compare-and-set (baseId in its metadata),
 * then deltas created only if absent; `steps` says after which message each checkpoint is taken.
 */
class ChainWriter {
  baseId = '';
  index = 0;
  lastSeq = 0;
  revision = 0;
  constructor(
    readonly store: MemoryObjects,
    readonly processor: PartitionProcessor,
    readonly owner: PartitionOwner,
  ) {}
  async base(baseId: string): Promise<void> {
    const bytes = this.processor.snapshot(baseId);
    const written = await this.store.putBlob({ name: baseCheckpointName(0), metadata: { worker: this.owner.worker, epoch: String(this.owner.epoch), baseId } }, bytes, { previousRevision: this.revision });
    this.revision = written.revision;
    this.baseId = baseId;
    this.index = 0;
    this.lastSeq = this.processor.seq;
  }
  async delta(): Promise<void> {
    const index = this.index + 1;
    const bytes = this.processor.snapshotDelta({ baseId: this.baseId, index, fromSeq: this.lastSeq });
    await this.store.putBlob({ name: deltaCheckpointName(0, this.baseId, index), metadata: { baseId: this.baseId } }, bytes, { previousRevision: 0 });
    this.index = index;
    this.lastSeq = this.processor.seq;
  }
}

function leased(owner: PartitionOwner): ProcessorOptions {
  return { ...processorOptions, owner };
}

/** Everything a restored processor will publish and hold. */
function stateOf(p: PartitionProcessor): unknown {
  return {
    seq: p.seq,
    watermark: p.watermark,
    counters: structuredClone(p.counters),
    join: p.join.toBytes(),
    pending: [...p.join.pendingEntries()],
    panes: p
      .drainDirty()
      .map((u) => ({ subject: u.subject, message: decodePaneMessage(u.payload) }))
      .sort((a, b) => (a.subject + a.message.paneStart + a.message.part).localeCompare(b.subject + b.message.paneStart + b.message.part)),
  };
}

/** The state a processor reaches from a full snapshot of `p` (what a restore must equal). */
function expectedOf(p: PartitionProcessor, options: ProcessorOptions): unknown {
  return stateOf(PartitionProcessor.restore(p.snapshot(), options));
}

async function restoreFrom(store: MemoryObjects, options: ProcessorOptions) {
  const chain = await readCheckpointChain(store, 0);
  if (chain === null) throw new Error('no checkpoint');
  return { chain, ...restoreCheckpointChain(chain.base, chain.deltas, options) };
}

const A: PartitionOwner = { worker: 'worker-a', epoch: 1 };
const B: PartitionOwner = { worker: 'worker-b', epoch: 2 };

describe('incremental checkpoints (base + deltas)', () => {
  it('a restore from base + deltas, then a replay from its sequence, goes on exactly like a restore from a full checkpoint at that point, at every crash point', async () => {
    const options = leased(A);
    // checkpoints every 150 messages: a base, then deltas; crash after each checkpoint in turn
    for (let crashAfter = 1; crashAfter <= 9; crashAfter++) {
      const store = new MemoryObjects();
      const live = new PartitionProcessor(options);
      const writer = new ChainWriter(store, live, A);
      // the same run checkpointed in full each time (taking a checkpoint settles the panes' sketch
      // centers, so the reference takes its checkpoints at the same points)
      const reference = new PartitionProcessor(options);
      let fullCheckpoint: Uint8Array = new Uint8Array(0);
      for (let k = 0; k < crashAfter; k++) {
        feed(live, messages, k * 150, (k + 1) * 150);
        feed(reference, messages, k * 150, (k + 1) * 150);
        fullCheckpoint = reference.snapshot();
        if (k === 0) await writer.base('b1');
        else await writer.delta();
      }
      // the crashed worker consumed 70 more messages it never checkpointed: they are replayed
      feed(live, messages, crashAfter * 150, crashAfter * 150 + 70);
      const { processor, applied, refused, chain } = await restoreFrom(store, options);
      expect(refused).toBeNull();
      expect(applied).toBe(crashAfter - 1);
      expect(chain.deltas.length).toBe(crashAfter - 1);
      expect(processor.seq).toBe(crashAfter * 150);
      // the same point reached by a full checkpoint (the format before deltas)
      const full = PartitionProcessor.restore(fullCheckpoint, options);
      expect(stateOf(PartitionProcessor.restore(processor.snapshot(), options))).toEqual(stateOf(PartitionProcessor.restore(full.snapshot(), options)));
      feed(processor, messages, processor.seq);
      feed(full, messages, full.seq);
      expect(processor.seq).toBe(messages.length);
      expect(stateOf(processor)).toEqual(stateOf(full));
    }
  });

  it('deltas are small next to the base once the join table holds many pending predictions', async () => {
    const options = leased(A);
    const live = feed(new PartitionProcessor(options), messages, 0, 1400);
    const base = live.snapshot('b');
    feed(live, messages, 1400, 1420);
    const delta = live.snapshotDelta({ baseId: 'b', index: 1, fromSeq: 1400 });
    expect(delta.length).toBeLessThan(base.length / 3);
  });

  it('a crash during compaction restores the old base and its deltas; one after it, the new base alone', async () => {
    const options = leased(A);
    const store = new MemoryObjects();
    const live = new PartitionProcessor(options);
    const writer = new ChainWriter(store, live, A);
    feed(live, messages, 0, 300);
    await writer.base('b1');
    for (let k = 1; k <= 3; k++) {
      feed(live, messages, 300 * k, 300 * k + 300);
      await writer.delta();
    }
    const expectedAtOld = expectedOf(live, options);
    // compaction begins: the new base's bytes are taken, the worker dies before they are stored
    feed(live, messages, 1200, 1300);
    live.snapshot('b2');
    let restored = await restoreFrom(store, options);
    expect(restored.applied).toBe(3);
    expect(stateOf(restored.processor)).toEqual(expectedAtOld);

    // this time the new base is stored, and the worker dies before deleting the old deltas
    const again = restored.processor;
    const writer2 = new ChainWriter(store, again, A);
    writer2.revision = (await store.info(baseCheckpointName(0)))?.revision ?? 0;
    feed(again, messages, again.seq, 1300);
    const expectedAtNew = expectedOf(again, options);
    await writer2.base('b2');
    expect(store.objects.has(deltaCheckpointName(0, 'b1', 3))).toBe(true);
    restored = await restoreFrom(store, options);
    expect(restored.chain.deltas).toEqual([]);
    expect(stateOf(restored.processor)).toEqual(expectedAtNew);
  });

  it("never applies a fenced-out owner's delta: the newer owner's base starts its own chain", async () => {
    const store = new MemoryObjects();
    const old = new PartitionProcessor(leased(A));
    const writerA = new ChainWriter(store, old, A);
    feed(old, messages, 0, 300);
    await writerA.base('chain-a');
    feed(old, messages, 300, 400);
    await writerA.delta();

    // B takes the lease: restores A's chain, and writes its own base over the revision it read
    const takeover = await restoreFrom(store, leased(B));
    expect(takeover.processor.seq).toBe(400);
    const writerB = new ChainWriter(store, takeover.processor, B);
    writerB.revision = (await store.info(baseCheckpointName(0)))?.revision ?? 0;
    feed(takeover.processor, messages, 400, 500);
    await writerB.base('chain-b');
    const expected = expectedOf(takeover.processor, leased(B));

    // A has not noticed yet: its next delta lands in its own chain, which nothing reads any more
    feed(old, messages, 400, 900);
    await writerA.delta();
    expect(store.objects.has(deltaCheckpointName(0, 'chain-a', 2))).toBe(true);
    // and its base write is refused by the compare-and-set
    await expect(writerA.base('chain-a2')).rejects.toThrow(/wrong last sequence/);

    // a delta forged into B's chain under A's epoch is refused, and the chain ends before it
    const forged = old.snapshotDelta({ baseId: 'chain-b', index: 1, fromSeq: 500 });
    await store.putBlob({ name: deltaCheckpointName(0, 'chain-b', 1), metadata: { baseId: 'chain-b' } }, forged, { previousRevision: 0 });
    const restored = await restoreFrom(store, leased(B));
    expect(restored.chain.deltas.length).toBe(1);
    expect(restored.applied).toBe(0);
    expect(restored.refused?.message).toMatch(/delta 1: (written by .*worker-a.*the base by .*worker-b|it follows sequence)/);
    expect(stateOf(restored.processor)).toEqual(expected);
  });

  it('a delta that does not follow the state (a gap in the chain) ends the restore there', async () => {
    const options = leased(A);
    const store = new MemoryObjects();
    const live = new PartitionProcessor(options);
    const writer = new ChainWriter(store, live, A);
    feed(live, messages, 0, 200);
    await writer.base('b');
    feed(live, messages, 200, 300);
    await writer.delta();
    const expected = expectedOf(live, options);
    // a delta whose previous one was never stored: it follows 400, the chain is at 300
    feed(live, messages, 300, 400);
    live.snapshotDelta({ baseId: 'b', index: 2, fromSeq: 300 });
    writer.lastSeq = 400;
    feed(live, messages, 400, 500);
    await writer.delta();
    const restored = await restoreFrom(store, options);
    expect(restored.applied).toBe(1);
    expect(restored.refused?.message).toMatch(/delta 2: it follows sequence 400, the state is at 300/);
    expect(stateOf(restored.processor)).toEqual(expected);
  });

  it('a full checkpoint written before deltas existed (no baseId) still restores, alone', async () => {
    const options = leased(A);
    const store = new MemoryObjects();
    const live = feed(new PartitionProcessor(options), messages, 0, 600);
    await store.putBlob({ name: baseCheckpointName(0), metadata: { worker: A.worker, epoch: '1' } }, live.snapshot(), { previousRevision: 0 });
    const restored = await restoreFrom(store, options);
    expect(restored.chain.deltas).toEqual([]);
    expect(restored.processor.seq).toBe(600);
    expect(stateOf(restored.processor)).toEqual(expectedOf(live, options));
    // and a delta cannot follow it
    const delta = live.snapshotDelta({ baseId: 'x', index: 1, fromSeq: 600 });
    expect(restoreCheckpointChain(live.snapshot(), [delta], options).refused?.message).toMatch(/delta 1: it follows base x, not \(a base without deltas\)/);
  });
});
