/**
 * Real pane messages, as a worker publishes them: a PartitionProcessor fed binary-score,
 * regression and multiclass traffic with features, segments, errors, latency and labels.
 */
import { PartitionProcessor } from '../../src/partition/processor.ts';
import type { PaneUpdate, ProcessorOptions } from '../../src/partition/processor.ts';
import { encodeLabel, encodePrediction } from '../../src/events/encode.ts';
import { DEFAULT_PANE_LIMITS } from '../../src/window/pane.ts';

export const T0 = 1_700_000_000_000;
export const PANE_MS = 10_000;

export const processorOptions: ProcessorOptions = {
  partition: 0,
  paneMs: PANE_MS,
  allowedLatenessMs: 60_000,
  maxFutureMs: 300_000,
  labelHorizonMs: 120_000,
  maxPending: 10_000,
  maxEarlyLabels: 1_000,
  maxEventBytes: 65_536,
  maxModels: 10,
  maxVersionsPerModel: 5,
  threshold: 0.5,
  limits: DEFAULT_PANE_LIMITS,
  errorDetectors: ['adwin', 'ddm'],
  now: () => T0 + 3_600_000,
};

export interface StreamMessage {
  subject: string;
  data: Uint8Array;
}

/** Predictions every 50 ms over `n` events, of three models; labels 2 s later for most, some early. */
export function mixedStream(n = 1200): StreamMessage[] {
  const out: StreamMessage[] = [];
  for (let i = 0; i < n; i++) {
    const ts = T0 + i * 50;
    const kind = i % 3;
    const model = kind === 0 ? 'scores' : kind === 1 ? 'prices' : 'classes';
    const output = kind === 0 ? ((i * 37) % 100) / 100 : kind === 1 ? 10 + (i % 17) : ['cat', 'dog', 'fox'][i % 3];
    const label = kind === 0 ? (i % 7 < 4 ? 1 : 0) : kind === 1 ? 11 + (i % 5) : ['cat', 'dog', 'fox'][(i >> 1) % 3];
    const prediction = encodePrediction({
      id: `p${i}`,
      model,
      version: i % 4 === 0 ? 'v2' : 'v1',
      ts,
      output,
      latencyMs: i % 97,
      ...(i % 11 === 0 ? { error: 'timeout' } : {}),
      features: { a: (i % 13) - 4, c: i % 2 ? 'x' : 'y', n: i % 5 === 0 ? null : i / 7 },
      segment: { region: ['eu', 'us', 'ap'][i % 3], tier: i % 2 ? 'gold' : 'free' },
    });
    const labelEvent = encodeLabel({ id: `p${i}`, model, ts: ts + 2000, label });
    if (i % 10 === 0) out.push({ subject: `drift.in.0.${model}.label`, data: labelEvent });
    out.push({ subject: `drift.in.0.${model}.pred`, data: prediction });
    if (i % 4 !== 3 && i % 10 !== 0) out.push({ subject: `drift.in.0.${model}.label`, data: labelEvent });
  }
  return out;
}

/** A processor fed `messages[from, to)` (sequence = index + 1). */
export function feed(processor: PartitionProcessor, messages: readonly StreamMessage[], from = 0, to = messages.length): PartitionProcessor {
  for (let i = from; i < to; i++) processor.process(i + 1, messages[i].subject, messages[i].data);
  return processor;
}

/**
 * Every pane update the processor publishes while it reads the stream, drained every `every`
 * messages; on `partition` (the messages' subjects moved from partition 0 to it). Throws on an
 * event the processor rejects: the panes would silently miss it.
 */
export function paneUpdates(messages: readonly StreamMessage[] = mixedStream(), every = 200, partition = 0): PaneUpdate[] {
  const processor = new PartitionProcessor({ ...processorOptions, partition });
  const updates: PaneUpdate[] = [];
  const onPartition = partition === 0 ? messages : messages.map((m) => ({ ...m, subject: m.subject.replace('drift.in.0.', `drift.in.${partition}.`) }));
  for (let i = 0; i < onPartition.length; i++) {
    const rejected = processor.process(i + 1, onPartition[i].subject, onPartition[i].data);
    if (rejected !== null) throw new Error(`paneUpdates: event ${i} (${onPartition[i].subject}) rejected: ${rejected.reason}`);
    if (i % every === every - 1) updates.push(...processor.drainDirty());
  }
  updates.push(...processor.drainDirty());
  return updates;
}
