/**
 * Incremental checkpoints in the object store: a base (the whole state, object `partition-<p>`,
 * written by compare-and-set under the lease as before) followed by deltas (what changed since the
 * previous checkpoint, objects `partition-<p>.delta.<baseId>.<index>`, each created only if absent).
 *
 * Why it is safe:
 * - A delta names its base (baseId), its place (index) and the sequence it follows (fromSeq); the
 *   restore applies deltas 1, 2, ... of the base it read while each follows the state it has, and
 *   stops at the first missing or refused one. Any prefix of a chain is a state the partition was
 *   in at a known sequence, so the restore resumes exactly after that sequence and replays the rest.
 * - A crash between delta writes loses only the deltas not yet written (replayed from the stream);
 *   a crash during compaction leaves the old base and its deltas in place (the new base replaces
 *   the base object atomically, and the old deltas are deleted only after it is stored).
 * - Fencing: every owner starts its own chain with a base written by compare-and-set over the
 *   revision it restored (deltas are only ever appended to a base the same runner wrote), and a
 *   delta is applied only when written by the base's own worker and epoch. A fenced-out owner's
 *   deltas name its own base, which the newer owner's base has replaced: they are never read.
 */
import type { ProcessorOptions } from './processor.ts';
import { PartitionProcessor } from './processor.ts';
import { CheckpointError } from './checkpoint.ts';

/** The part of an object store the chain uses (NATS's ObjectStore, or a Map in tests). */
export interface CheckpointObjects {
  info(name: string): Promise<{ revision: number; size: number; metadata?: Record<string, string> } | null>;
  getBlob(name: string): Promise<Uint8Array | null>;
  putBlob(meta: { name: string; metadata?: Record<string, string> }, data: Uint8Array | null, opts?: { previousRevision?: number }): Promise<{ revision: number }>;
  delete(name: string): Promise<unknown>;
}

/** When a runner compacts its chain into a new base. */
export interface CompactionPolicy {
  /** Deltas after which the next checkpoint is a base (bounds restore work and objects per partition). */
  maxDeltas: number;
  /** Sum of the deltas' bytes, as a share of the base's, beyond which the next checkpoint is a base. */
  maxDeltaShare: number;
}

export const DEFAULT_COMPACTION: CompactionPolicy = { maxDeltas: 60, maxDeltaShare: 0.5 };

/** A chain a runner is appending to: the base it wrote and the deltas written since. */
export interface ChainPosition {
  baseId: string;
  /** Deltas written after the base. */
  index: number;
  baseBytes: number;
  deltaBytes: number;
}

/** Longest chain a restore follows (a guard against a runaway chain; writers compact far sooner). */
const MAX_CHAIN_READ = 100_000;

export function baseCheckpointName(partition: number): string {
  return `partition-${partition}`;
}

export function deltaCheckpointName(partition: number, baseId: string, index: number): string {
  return `partition-${partition}.delta.${baseId}.${index}`;
}

/** Whether the next checkpoint should be a new base rather than one more delta. */
export function shouldCompact(chain: ChainPosition | null, policy: CompactionPolicy): boolean {
  return chain === null || chain.index >= policy.maxDeltas || chain.deltaBytes >= chain.baseBytes * policy.maxDeltaShare;
}

/**
 * Reads the base and the deltas of its chain, in order, up to the first missing one. The chain is
 * named by the base object's metadata (baseId); the processor checks each delta against the base's
 * own content, so a base replaced between the two reads only costs the deltas (refused, the base
 * alone is restored). `deadline` wraps each read (see PartitionRunner.readCheckpoint).
 */
export async function readCheckpointChain(
  store: CheckpointObjects,
  partition: number,
  read: (name: string) => Promise<Uint8Array | null> = (name) => store.getBlob(name),
): Promise<{ base: Uint8Array; deltas: Uint8Array[] } | null> {
  const info = await store.info(baseCheckpointName(partition));
  const base = await read(baseCheckpointName(partition));
  if (base === null) return null;
  const baseId = info?.metadata?.baseId;
  const deltas: Uint8Array[] = [];
  if (baseId === undefined) return { base, deltas };
  for (let index = 1; index <= MAX_CHAIN_READ; index++) {
    const delta = await read(deltaCheckpointName(partition, baseId, index));
    if (delta === null) break;
    deltas.push(delta);
  }
  return { base, deltas };
}

/**
 * Restores a processor from a base and its deltas. A refused delta (damaged, of another chain or
 * owner, not following the state) ends the chain there: the processor is the base + the deltas
 * before it (a consistent earlier state, the stream replays the rest), and `refused` says why. A
 * refused base throws, as before: the operator decides.
 */
export function restoreCheckpointChain(
  base: Uint8Array,
  deltas: readonly Uint8Array[],
  options: ProcessorOptions,
): { processor: PartitionProcessor; applied: number; refused: CheckpointError | null } {
  let processor = PartitionProcessor.restore(base, options);
  for (const [k, delta] of deltas.entries()) {
    try {
      processor.applyCheckpointDelta(delta);
    } catch (error) {
      if (!(error instanceof CheckpointError)) throw error;
      // the failed delta may have changed part of the state: rebuild without it
      processor = PartitionProcessor.restore(base, options, deltas.slice(0, k));
      return { processor, applied: k, refused: error };
    }
  }
  return { processor, applied: deltas.length, refused: null };
}
