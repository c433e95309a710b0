/**
 * The processor's side of model admission, with a gate the test controls: events of a model not
 * yet decided are held (in order, and in the checkpoint) while other models go on; a decision
 * applies or dead-letters them all; refusals are counted by model; an idle model version leaves
 * memory and the checkpoint.
 */
import { describe, expect, it } from 'vitest';
import { PartitionProcessor } from '../../src/partition/processor.ts';
import { AllowList, LocalAdmission } from '../../src/partition/model-admission.ts';
import type { AdmissionGate, AdmissionVerdict } from '../../src/partition/model-admission.ts';
import { encodeLabel, encodePrediction } from '../../src/events/encode.ts';
import { decodeCheckpointDelta } from '../../src/partition/checkpoint.ts';
import { T0, processorOptions } from '../contract/pane-stream.ts';

/** A gate whose decisions the test sets; undecided models are pending. */
class ScriptedGate implements AdmissionGate {
  readonly decisions = new Map<string, AdmissionVerdict>();
  readonly asked: string[] = [];
  private readonly listeners = new Set<(model: string) => void>();
  verdict(model: string, version: string | null): AdmissionVerdict {
    const key = version === null ? model : `${model}@${version}`;
    this.asked.push(key);
    return this.decisions.get(key) ?? this.decisions.get(model) ?? 'pending';
  }
  onResolved(listener: (model: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  decide(model: string, verdict: AdmissionVerdict): void {
    this.decisions.set(model, verdict);
    for (const listener of this.listeners) listener(model);
  }
}

const pred = (id: string, model: string, ts = T0, version = 'v1') => ({ subject: `drift.in.0.${model}.pred`, data: encodePrediction({ id, model, version, ts, output: 0.7 }) });
const label = (id: string, model: string) => ({ subject: `drift.in.0.${model}.label`, data: encodeLabel({ id, model, ts: T0 + 1000, label: 1 }) });

function countOf(processor: PartitionProcessor, model: string): number {
  let count = 0;
  for (const update of processor.drainDirty()) {
    if (update.groupKey.startsWith(`${model}\u0000`) && update.part === 'in') count += 1;
  }
  return count;
}

describe('model admission in the processor', () => {
  it('holds a pending model\'s events in order while other models are applied, then applies them when admitted', () => {
    const gate = new ScriptedGate();
    gate.decisions.set('known', 'admitted');
    const processor = new PartitionProcessor({ ...processorOptions, admission: gate });
    const messages = [pred('a1', 'fresh'), pred('k1', 'known'), label('a1', 'fresh'), pred('a2', 'fresh'), pred('k2', 'known')];
    messages.forEach((m, i) => expect(processor.process(i + 1, m.subject, m.data)).toBeNull());
    expect(processor.seq).toBe(5);
    expect(processor.counters.predictions).toBe(2);
    expect(processor.heldCount).toBe(3);
    // behind a held event later ones of the same model wait, but their version is asked about at
    // once (its decision starts now, not when the queue reaches it); labels name no version
    expect(gate.asked.filter((k) => k.startsWith('fresh'))).toEqual(['fresh@v1', 'fresh@v1']);

    gate.decide('fresh', 'admitted');
    expect(processor.releaseHeld('fresh')).toEqual([]);
    expect(processor.heldCount).toBe(0);
    expect(processor.counters.predictions).toBe(4);
    // the label applied after its prediction, as in the stream: joined, not early
    expect(processor.join.stats.joined).toBe(1);
    expect(countOf(processor, 'fresh')).toBe(1);
  });

  it('dead-letters every held event of a refused model as limit_exceeded, and counts them by model', () => {
    const gate = new ScriptedGate();
    const processor = new PartitionProcessor({ ...processorOptions, admission: gate });
    for (let i = 0; i < 4; i++) processor.process(i + 1, pred(`r${i}`, 'refused').subject, pred(`r${i}`, 'refused').data);
    gate.decide('refused', 'refused');
    const rejected = processor.releaseHeld('refused');
    expect(rejected.map((r) => [r.seq, r.reason])).toEqual([[1, 'limit_exceeded'], [2, 'limit_exceeded'], [3, 'limit_exceeded'], [4, 'limit_exceeded']]);
    expect(rejected[0].detail).toMatch(/model 'refused' version 'v1' is refused: limits.maxModels/);
    // later events are refused at once
    expect(processor.process(5, pred('r5', 'refused').subject, pred('r5', 'refused').data)?.reason).toBe('limit_exceeded');
    expect(processor.counters.rejected.limit_exceeded).toBe(5);
    expect([...processor.refusedByModel]).toEqual([['limit_exceeded|refused', 5]]);
    expect(processor.counters.predictions).toBe(0);
  });

  it('keeps held events in its checkpoint: a restored processor holds them again and applies them once decided', () => {
    const gate = new ScriptedGate();
    gate.decisions.set('known', 'admitted');
    const processor = new PartitionProcessor({ ...processorOptions, admission: gate });
    processor.process(1, pred('h1', 'held').subject, pred('h1', 'held').data);
    processor.process(2, pred('k1', 'known').subject, pred('k1', 'known').data);
    processor.process(3, pred('h2', 'held').subject, pred('h2', 'held').data);
    const restoredGate = new ScriptedGate();
    const restored = PartitionProcessor.restore(processor.snapshot(), { ...processorOptions, admission: restoredGate });
    expect(restored.seq).toBe(3);
    expect(restored.heldCount).toBe(2);
    expect(restored.heldModels()).toEqual(['held']);
    expect(restored.heldEventsInOrder().map((e) => e.seq)).toEqual([1, 3]);
    restoredGate.decide('held', 'admitted');
    restored.releaseHeld('held');
    expect(restored.counters.predictions).toBe(3);
  });

  it('keeps its refusals by model in the checkpoint: all of them in a base, the changed ones in a delta', () => {
    const processor = new PartitionProcessor({ ...processorOptions, admission: new LocalAdmission(10, 10, new AllowList(['fraud'])) });
    const send = (seq: number, m: { subject: string; data: Uint8Array }) => processor.process(seq, m.subject, m.data);
    send(1, pred('a', 'stranger'));
    send(2, pred('b', 'stranger'));
    send(3, pred('c', 'other'));
    const base = processor.snapshot('base-1');
    send(4, pred('d', 'other'));
    send(5, pred('e', 'third'));
    const delta = processor.snapshotDelta({ baseId: 'base-1', index: 1, fromSeq: 3 });
    const fromBase = PartitionProcessor.restore(base, processorOptions);
    expect(new Map(fromBase.refusedByModel)).toEqual(new Map([['model_not_allowed|stranger', 2], ['model_not_allowed|other', 1]]));
    const fromChain = PartitionProcessor.restore(base, processorOptions, [delta]);
    expect(new Map(fromChain.refusedByModel)).toEqual(new Map(processor.refusedByModel));
    expect(fromChain.refusedByModel.get('model_not_allowed|other')).toBe(2);
    // the delta carries only the models refused since the base, with their totals
    expect(decodeCheckpointDelta(delta, 0, processorOptions.limits).counters.refusedByModel).toEqual([['model_not_allowed|other', 2], ['model_not_allowed|third', 1]]);
  });

  it('refuses a model off the allow-list with its own reason', () => {
    const processor = new PartitionProcessor({ ...processorOptions, admission: new LocalAdmission(10, 10, new AllowList(['fraud', 'churn-*', 'v?'])) });
    expect(processor.process(1, pred('a', 'fraud').subject, pred('a', 'fraud').data)).toBeNull();
    expect(processor.process(2, pred('b', 'churn-eu').subject, pred('b', 'churn-eu').data)).toBeNull();
    expect(processor.process(3, pred('c', 'v2').subject, pred('c', 'v2').data)).toBeNull();
    const refused = processor.process(4, pred('d', 'stranger').subject, pred('d', 'stranger').data);
    expect(refused?.reason).toBe('model_not_allowed');
    expect(refused?.detail).toBe("model 'stranger' is not on models.allow");
    expect(processor.process(5, label('d', 'stranger').subject, label('d', 'stranger').data)?.reason).toBe('model_not_allowed');
    expect([...processor.refusedByModel]).toEqual([['model_not_allowed|stranger', 2]]);
  });

  it('releases an idle model version from memory and from the checkpoint after the label horizon, freeing its place', () => {
    const options = { ...processorOptions, maxModels: 2, labelHorizonMs: 60_000, maxClockSkewMs: 300_000 };
    const processor = new PartitionProcessor(options);
    const send = (seq: number, m: { subject: string; data: Uint8Array }) => processor.process(seq, m.subject, m.data);
    expect(send(1, pred('o1', 'old'))).toBeNull();
    expect(send(2, pred('c1', 'clock'))).toBeNull();
    // both places taken: a third model is refused
    expect(send(3, pred('n1', 'new'))?.reason).toBe('limit_exceeded');
    // 'clock' keeps sending; 'old' goes quiet for longer than the clock skew plus the label horizon
    expect(send(4, pred('c2', 'clock', T0 + 10 * 60_000))).toBeNull();
    for (let i = 0; i < 3; i++) {
      processor.drainDirty();
      processor.dropClosed();
    }
    expect(processor.groupCount).toBe(1);
    expect(PartitionProcessor.restore(processor.snapshot(), options).groupCount).toBe(1);
    // its place is free again
    expect(send(5, pred('n2', 'new', T0 + 10 * 60_000))).toBeNull();
    expect(processor.groupCount).toBe(2);
  });
});
