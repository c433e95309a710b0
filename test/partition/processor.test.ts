import { describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import { decodePaneMessage } from '../../src/contract/pane-codec.ts';
import { PartitionProcessor } from '../../src/partition/processor.ts';
import type { ProcessorOptions } from '../../src/partition/processor.ts';
import type { PaneMessage } from '../../src/contract/pane-wire.ts';
import { encodePrediction, encodeLabel } from '../../src/events/encode.ts';
import { DEFAULT_PANE_LIMITS, inputFromWire, outcomeFromWire } from '../../src/window/pane.ts';
import type { PaneInputWire, PaneOutcomeWire } from '../../src/contract/pane-wire.ts';
import { T0, processorOptions } from '../contract/pane-stream.ts';

const options: ProcessorOptions = processorOptions;

interface Message {
  subject: string;
  data: Uint8Array;
}

/** A deterministic stream: predictions over 5 minutes, labels 3 s later for 3 of 4, one in 10 early. */
function stream(): Message[] {
  const out: Message[] = [];
  for (let i = 0; i < 3000; i++) {
    const ts = T0 + i * 100;
    const prediction = encodePrediction({ id: `p${i}`, model: 'm', version: i % 3 === 0 ? 'v2' : 'v1', ts, output: (i * 37) % 100 / 100, latencyMs: i % 97, features: { a: i % 13, c: i % 2 ? 'x' : 'y' }, segment: { group: i % 2 ? 'a' : 'b' } });
    const label = encodeLabel({ id: `p${i}`, model: 'm', ts: ts + 3000, label: i % 7 < 4 ? 1 : 0 });
    if (i % 10 === 0) out.push({ subject: 'drift.in.0.m.label', data: label });
    out.push({ subject: 'drift.in.0.m.pred', data: prediction });
    if (i % 4 !== 3 && i % 10 !== 0) out.push({ subject: 'drift.in.0.m.label', data: label });
  }
  return out;
}

/** The latest state of every pane subject, decoded, as a gateway would hold it. */
function changelog(updates: Map<string, PaneMessage>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [subject, message] of updates) {
    const state = message.part === 'in' ? inputFromWire(message.state as PaneInputWire, DEFAULT_PANE_LIMITS) : outcomeFromWire(message.state as PaneOutcomeWire, DEFAULT_PANE_LIMITS);
    out[subject] = JSON.parse(JSON.stringify({ ...message, seq: undefined, final: undefined, state }, (_k, v) => (v instanceof Float64Array ? Array.from(v) : v instanceof Map ? Object.fromEntries(v) : v)));
  }
  return out;
}

function run(processor: PartitionProcessor, messages: Message[], from: number, to: number, sink: Map<string, PaneMessage>): void {
  for (let i = from; i < to; i++) {
    processor.process(i + 1, messages[i].subject, messages[i].data);
    if (i % 500 === 0) flush(processor, sink);
  }
  flush(processor, sink);
}

function flush(processor: PartitionProcessor, sink: Map<string, PaneMessage>): void {
  for (const update of processor.drainDirty()) sink.set(update.subject, decodePaneMessage(update.payload));
  processor.dropClosed();
}

describe('PartitionProcessor checkpoints', () => {
  it('a restore from a checkpoint plus replay of the rest gives exactly the uninterrupted result', () => {
    const messages = stream();
    const straight = new Map<string, PaneMessage>();
    run(new PartitionProcessor(options), messages, 0, messages.length, straight);

    for (const cut of [1, 777, 2500, messages.length - 3]) {
      const sink = new Map<string, PaneMessage>();
      const first = new PartitionProcessor(options);
      run(first, messages, 0, cut, sink);
      const checkpoint = first.snapshot();
      // the crashed process kept going a little after its checkpoint: those pane states were published too
      run(first, messages, cut, Math.min(messages.length, cut + 300), sink);
      const restored = PartitionProcessor.restore(checkpoint, options);
      expect(restored.seq).toBe(cut);
      run(restored, messages, cut, messages.length, sink);
      expect(changelog(sink)).toEqual(changelog(straight));
      expect(restored.join.size).toBeGreaterThan(0);
      expect(restored.counters).toEqual(new PartitionProcessorTwin(messages).counters);
    }
  });

  it('counts late predictions instead of folding them into closed panes', () => {
    const processor = new PartitionProcessor(options);
    processor.process(1, 'drift.in.0.m.pred', encodePrediction({ id: 'now', model: 'm', version: 'v1', ts: T0 + 600_000, output: 0.2 }));
    const rejected = processor.process(2, 'drift.in.0.m.pred', encodePrediction({ id: 'old', model: 'm', version: 'v1', ts: T0, output: 0.2 }));
    expect(rejected).toBeNull();
    expect(processor.counters.late).toBe(1);
    const updates = processor.drainDirty().map((u) => decodePaneMessage(u.payload));
    expect(updates.map((u) => u.paneStart)).toEqual([T0 + 600_000]);
    expect((updates[0].state as PaneInputWire).count).toBe(1);
    expect((updates[0].state as PaneInputWire).late).toBe(1);
  });

  it('keeps a prediction with a feature of a type no feature can have, counting that value per feature in its pane', () => {
    const processor = new PartitionProcessor(options);
    const payload = encode({ id: 'b', model: 'm', version: 'v1', ts: T0, output: 0.7, features: { amount: 12, vip: true } });
    expect(processor.process(1, 'drift.in.0.m.pred', payload)).toBeNull();
    expect(processor.counters.rejected.wrong_type).toBe(0);
    const [update] = processor.drainDirty().map((u) => decodePaneMessage(u.payload));
    const state = update.state as PaneInputWire;
    expect(state.count).toBe(1);
    expect(Object.keys(state.features)).toEqual(['amount']);
    expect(state.invalidFeatures).toEqual({ vip: 1 });
  });

  it('rejects a timestamp from the future and a wrong subject with a reason', () => {
    const processor = new PartitionProcessor(options);
    const future = processor.process(1, 'drift.in.0.m.pred', encodePrediction({ id: 'f', model: 'm', version: 'v1', ts: T0 + 10 * 3_600_000, output: 1 }));
    expect(future?.reason).toBe('future_timestamp');
    const wrong = processor.process(2, 'drift.in.1.m.pred', encodePrediction({ id: 'w', model: 'm', version: 'v1', ts: T0, output: 1 }));
    expect(wrong?.reason).toBe('bad_subject');
    expect(processor.counters.rejected.future_timestamp).toBe(1);
    expect(processor.counters.rejected.bad_subject).toBe(1);
  });

  it('drops panes after lateness and horizon: memory follows configuration, not traffic', () => {
    const processor = new PartitionProcessor(options);
    const sink = new Map<string, PaneMessage>();
    for (let i = 0; i < 20_000; i++) {
      processor.process(i + 1, 'drift.in.0.m.pred', encodePrediction({ id: `x${i}`, model: 'm', version: 'v1', ts: T0 + i * 1000, output: 0.5 }));
      if (i % 100 === 0) flush(processor, sink);
    }
    flush(processor, sink);
    // inputs live paneMs + lateness (7 panes), outcomes the label horizon (13 panes) + the open ones
    expect(processor.liveRanges).toBeLessThanOrEqual(7 + 14 + 2);
    expect(processor.join.size).toBeLessThanOrEqual(121);
  });
});

/** Counters of an uninterrupted run, to compare a restored processor's counters with. */
class PartitionProcessorTwin {
  readonly counters;
  constructor(messages: Message[]) {
    const processor = new PartitionProcessor(options);
    messages.forEach((m, i) => processor.process(i + 1, m.subject, m.data));
    this.counters = processor.counters;
  }
}

describe('event time per model version', () => {
  it('a model whose clock runs ahead does not make another model in the same partition late', () => {
    const processor = new PartitionProcessor(options);
    processor.process(1, 'drift.in.0.fast.pred', encodePrediction({ id: 'f1', model: 'fast', version: 'v1', ts: T0 + 180_000, output: 0.2 }));
    processor.process(2, 'drift.in.0.slow.pred', encodePrediction({ id: 's1', model: 'slow', version: 'v1', ts: T0, output: 0.2 }));
    expect(processor.counters.late).toBe(0);
    // beyond the allowed skew (5 minutes) the slow model is moved on with the partition
    processor.process(3, 'drift.in.0.fast.pred', encodePrediction({ id: 'f2', model: 'fast', version: 'v1', ts: T0 + 600_000, output: 0.2 }));
    processor.process(4, 'drift.in.0.slow.pred', encodePrediction({ id: 's2', model: 'slow', version: 'v1', ts: T0 + 1000, output: 0.2 }));
    expect(processor.counters.late).toBe(1);
  });
});

describe('final publications', () => {
  it('a pane that closes is published once more, marked final, before it is dropped', () => {
    // a long label horizon keeps the join (and outcome panes) out of this
    const processor = new PartitionProcessor({ ...options, labelHorizonMs: 3_600_000 });
    processor.process(1, 'drift.in.0.m.pred', encodePrediction({ id: 'a', model: 'm', version: 'v1', ts: T0, output: 0.2 }));
    let updates = processor.drainDirty().map((u) => decodePaneMessage(u.payload));
    expect(updates.map((u) => [u.part, u.final])).toEqual([['in', false]]);
    processor.dropClosed();
    // event time passes the allowed lateness: the pane closes without changing
    processor.process(2, 'drift.in.0.m.pred', encodePrediction({ id: 'b', model: 'm', version: 'v1', ts: T0 + 200_000, output: 0.2 }));
    processor.drainDirty();
    expect(processor.dropClosed()).toBe(0); // not dropped yet: its last publication was not final
    updates = processor.drainDirty().map((u) => decodePaneMessage(u.payload));
    expect(updates.filter((u) => u.paneStart === T0).map((u) => [u.part, u.final, (u.state as PaneInputWire).count])).toEqual([['in', true, 1]]);
    expect(processor.dropClosed()).toBe(1);
  });
});
