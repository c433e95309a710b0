/**
 * Partitions center their panes' feature sketches on the model's reference (WorkerReferences.
 * centersFor): every partition's panes then land on the gateway's window buckets as they are,
 * where panes centered on each partition's own first values were rebinned one by one.
 */
import { describe, expect, it } from 'vitest';
import { EventEncoder } from '../../src/events/encode.ts';
import type { PredictionEvent } from '../../src/events/types.ts';
import { PartitionProcessor } from '../../src/partition/processor.ts';
import type { ProcessorOptions } from '../../src/partition/processor.ts';
import { predictionSubject } from '../../src/cluster/subjects.ts';
import { decodePaneMessage } from '../../src/contract/pane-codec.ts';
import type { PaneInputWire } from '../../src/contract/pane-wire.ts';
import { ReferenceRegistry } from '../../src/gateway/reference-registry.ts';
import { WindowStore } from '../../src/gateway/window-store.ts';
import { profileFromRows } from '../../src/reference/profile.ts';
import type { ReferenceProfile, TrainingRow } from '../../src/reference/profile.ts';
import { WorkerReferences } from '../../src/reference/worker-references.ts';
import { mulberry32 } from '../../src/sketch/random.ts';
import { DEFAULT_PANE_LIMITS, inputFromWire } from '../../src/window/pane.ts';
import { recordingLogger } from '../gateway/panes.ts';
import { PANE_MS, processorOptions } from '../contract/pane-stream.ts';

/** Stream sequences, increasing across every feed of a test file (a processor takes each once). */
let sequence = 0;
const START = 1_000_000;

function options(partition: number, references?: WorkerReferences): ProcessorOptions {
  return { ...processorOptions, partition, references, now: () => START + 600_000 };
}

/** Normal values around 50 (sd 10) from `seed`: each partition's first values, hence its own median, differ. */
function normals(seed: number, mean = 50): () => number {
  const random = mulberry32(seed);
  return () => mean + 10 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function referenceOf(id: string, createdAt: number, version: string | null = null, mean = 50): ReferenceProfile {
  const next = normals(99, mean);
  const rows: TrainingRow[] = Array.from({ length: 2000 }, () => ({ output: 0.5, features: { x: next(), y: next() } }));
  return { ...profileFromRows(id, 'm', version, rows), createdAt };
}

/** Feeds `count` events of model m into `processor` from `ts`, and returns its pane messages. */
function feed(processor: PartitionProcessor, seed: number, ts: number, count: number, encoder = new EventEncoder()): Uint8Array[] {
  const next = normals(seed);
  const partition = processor.partition;
  for (let i = 0; i < count; i++) {
    const event: PredictionEvent = { id: `e${seed}-${ts}-${i}`, model: 'm', version: 'v1', ts: ts + i, output: 0.5, features: { x: next(), y: next() } };
    expect(processor.process(++sequence, predictionSubject(partition, 'm'), encoder.encodePrediction(event))).toBeNull();
  }
  return processor.drainDirty().map((update) => update.payload);
}

function centerOf(payload: Uint8Array, feature: string): number | undefined {
  const message = decodePaneMessage(payload);
  return inputFromWire(message.state as PaneInputWire, DEFAULT_PANE_LIMITS).features.get(feature)?.numeric?.center;
}

function centers(reference: ReferenceProfile, feature: string): number | undefined {
  const summary = reference.features[feature];
  return summary?.type === 'numeric' ? (summary.summary as { center: number }).center : undefined;
}

describe('WorkerReferences.centersFor', () => {
  it("gives the model reference's centers, else the version's own, and none once the profile goes", () => {
    const references = new WorkerReferences();
    expect(references.centersFor('m', 'v1')).toBeNull();
    const own = referenceOf('own', 1, 'v1');
    references.setReference(own);
    expect(references.centersFor('m', 'v1')?.id).toBe('own');
    expect(references.centersFor('m', 'v2')).toBeNull();
    const model = referenceOf('model', 2);
    references.setReference(model);
    // the gateway holds a model's windows (all versions) on its model reference's buckets
    expect(references.centersFor('m', 'v1')?.id).toBe('model');
    expect(references.centersFor('m', 'v2')?.centers.get('x')).toBe(centers(model, 'x'));
    references.removeReference('model');
    expect(references.centersFor('m', 'v1')?.id).toBe('own');
    references.removeReference('own');
    expect(references.centersFor('m', 'v1')).toBeNull();
  });
});

describe("partitions following the model's reference", () => {
  const reference = referenceOf('ref', 1);

  /** Two partitions' panes of the same traffic into a gateway window store holding the reference. */
  function gateway(followReference: boolean): { store: WindowStore; payloads: Uint8Array[] } {
    const references = new WorkerReferences();
    if (followReference) references.setReference(reference);
    const payloads = [0, 1].flatMap((partition) => feed(new PartitionProcessor(options(partition, references)), 10 + partition, START, 300));
    const registry = new ReferenceRegistry({ autoCaptureMs: 0, logger: recordingLogger().logger });
    registry.setReference(reference);
    const store = new WindowStore({ windows: ['1m'], limits: DEFAULT_PANE_LIMITS, maxModels: 10, referenceBuckets: (model, feature) => registry.featureBuckets(model, feature) });
    for (const payload of payloads) store.applyPaneMessage(decodePaneMessage(payload));
    return { store, payloads };
  }

  it("center their panes on the reference's centers, so the gateway rebins none of their sketches", () => {
    const following = gateway(true);
    expect(following.payloads.length).toBe(2);
    for (const payload of following.payloads) {
      expect(centerOf(payload, 'x')).toBe(centers(reference, 'x'));
      expect(centerOf(payload, 'y')).toBe(centers(reference, 'y'));
    }
    expect(following.store.rebinnedSketches).toBe(0);
    expect(following.store.windowsOf('m')?.get('1m')?.input.features.get('x')?.numeric?.count).toBe(600);

    // on centers of their own (each partition's first values), every sketch of theirs was rebinned
    const own = gateway(false);
    const ownCenters = own.payloads.map((payload) => centerOf(payload, 'x'));
    expect(ownCenters[0]).not.toBe(ownCenters[1]);
    expect(own.store.rebinnedSketches).toBe(4);
    // the same window either way, to the sketches' accuracy
    const quantile = (store: WindowStore) => store.windowsOf('m')?.get('1m')?.input.features.get('x')?.numeric?.quantile(0.5) ?? NaN;
    expect(quantile(following.store)).toBeCloseTo(quantile(own.store), 0);
  });

  it('a reference arriving mid-pane: the open pane keeps its centers, the next pane takes the reference\'s', () => {
    const references = new WorkerReferences();
    const processor = new PartitionProcessor(options(0, references));
    const encoder = new EventEncoder();
    const [first] = feed(processor, 3, START, 100, encoder);
    const ownCenter = centerOf(first, 'x');
    expect(ownCenter).not.toBe(centers(reference, 'x'));
    references.setReference(reference);
    const [same] = feed(processor, 4, START + 200, 100, encoder);
    expect(decodePaneMessage(same).paneStart).toBe(START);
    expect(centerOf(same, 'x')).toBe(ownCenter);
    const [next] = feed(processor, 5, START + PANE_MS, 100, encoder);
    expect(decodePaneMessage(next).paneStart).toBe(START + PANE_MS);
    expect(centerOf(next, 'x')).toBe(centers(reference, 'x'));
    // a newer reference is taken by the pane after it
    const newer = referenceOf('newer', 2, null, 80);
    expect(centers(newer, 'x')).not.toBe(centers(reference, 'x'));
    references.setReference(newer);
    const [later] = feed(processor, 6, START + 2 * PANE_MS, 100, encoder);
    expect(centerOf(later, 'x')).toBe(centers(newer, 'x'));
  });
});
