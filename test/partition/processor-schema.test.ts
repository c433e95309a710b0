import { describe, expect, it } from 'vitest';
import { decodePaneMessage } from '../../src/contract/pane-codec.ts';
import type { PaneInputWire, PaneMessage } from '../../src/contract/pane-wire.ts';
import { encodeJson, encodeLabel, encodePrediction } from '../../src/events/encode.ts';
import type { FeatureValue, PredictionEvent } from '../../src/events/types.ts';
import { PartitionProcessor } from '../../src/partition/processor.ts';
import type { Rejected } from '../../src/partition/processor.ts';
import { DEFAULT_PANE_LIMITS } from '../../src/window/pane.ts';
import { T0, processorOptions } from '../contract/pane-stream.ts';

/**
 * MessagePack predictions go through a model's feature schema (features decoded by index into a
 * buffer, panes updated by index); JSON ones are decoded and applied by name. The same events
 * either way must give the same panes, counters and rejections.
 */

interface Message {
  subject: string;
  event: PredictionEvent | { id: string; model: string; ts: number; label: number };
}

const WIDE = DEFAULT_PANE_LIMITS.maxFeatures + 6;

function features(i: number, model: string): Record<string, FeatureValue> {
  const out: Record<string, FeatureValue> = {};
  if (model === 'wide') {
    // more than a pane tracks, and names that keep changing: past the schema's cap (4 x maxFeatures)
    for (let f = 0; f < WIDE; f++) out[`w${f}`] = (i * 31 + f * 7) % 101;
    out[`rotating_${i % 400}`] = i;
    return out;
  }
  const names = ['f0', 'f1', 'f2', 'f3', 'f4', 'country', 'device', 'maybe'];
  // every 7th event sends its features in the reverse order; every 50th adds a new one
  if (i % 7 === 0) names.reverse();
  for (const name of names) {
    if (name === 'country') out[name] = ['US', 'FR', 'DE'][i % 3];
    else if (name === 'device') out[name] = i % 2 === 0 ? 'ios' : 'web';
    else if (name === 'maybe') out[name] = i % 5 === 0 ? null : i / 3;
    else out[name] = Math.round(Math.sin(i + name.charCodeAt(1)) * 1000) / 100 + 0; // + 0: no -0, which JSON cannot carry
  }
  if (i % 50 === 0) out[`new_${i}`] = i;
  if (i % 13 === 0) out['7'] = 1; // an array-index name: the by-name path
  if (i % 97 === 0) (out as Record<string, unknown>).f1 = true; // rejected: wrong_type
  if (i % 89 === 0) out.country = 'c'.repeat(300); // rejected: invalid_value
  return out;
}

function stream(n: number): Message[] {
  const out: Message[] = [];
  for (let i = 0; i < n; i++) {
    const model = ['m', 'other', 'wide'][i % 3];
    const ts = T0 + i * 40;
    out.push({
      subject: `drift.in.0.${model}.pred`,
      event: { id: `p${i}`, model, version: i % 4 === 0 ? 'v2' : 'v1', ts, output: ((i * 37) % 100) / 100, latencyMs: i % 53, features: features(i, model) },
    });
    if (i % 3 === 0) out.push({ subject: `drift.in.0.${model}.label`, event: { id: `p${i}`, model, ts: ts + 1000, label: i % 2 } });
  }
  return out;
}

function payload(message: Message, json: boolean): Uint8Array {
  if (json) return encodeJson(message.event as PredictionEvent);
  return 'label' in message.event ? encodeLabel(message.event) : encodePrediction(message.event);
}

interface Run {
  panes: Map<string, PaneMessage>;
  rejected: Omit<Rejected, 'data'>[];
  processor: PartitionProcessor;
}

function flush(processor: PartitionProcessor, panes: Map<string, PaneMessage>): void {
  for (const update of processor.drainDirty()) panes.set(update.subject, decodePaneMessage(update.payload));
  processor.dropClosed();
}

/** Feeds every message to a new processor; at `restoreAt` it is replaced by a restore of its checkpoint. */
function feed(messages: readonly Message[], json: boolean, restoreAt: number | null): Run {
  let processor = new PartitionProcessor(processorOptions);
  const panes = new Map<string, PaneMessage>();
  const rejected: Omit<Rejected, 'data'>[] = [];
  messages.forEach((message, i) => {
    if (i === restoreAt) {
      flush(processor, panes);
      processor = PartitionProcessor.restore(processor.snapshot(), processorOptions);
    }
    const outcome = processor.process(i + 1, message.subject, payload(message, json));
    if (outcome !== null) rejected.push({ seq: outcome.seq, subject: outcome.subject, reason: outcome.reason, detail: outcome.detail });
    if (i % 200 === 0) flush(processor, panes);
  });
  flush(processor, panes);
  return { panes, rejected, processor };
}

function states(panes: Map<string, PaneMessage>): Record<string, unknown> {
  return Object.fromEntries([...panes].map(([subject, message]) => [subject, message.state]));
}

describe('PartitionProcessor: features by schema index', () => {
  it('gives the panes, counters and rejections of the by-name path, across new, reordered, dropped and rotating features', () => {
    const messages = stream(1500);
    const byIndex = feed(messages, false, null);
    const byName = feed(messages, true, null);
    expect(byIndex.rejected.length).toBeGreaterThan(0);
    expect(byIndex.rejected).toEqual(byName.rejected);
    expect(byIndex.processor.counters).toEqual(byName.processor.counters);
    expect(states(byIndex.panes)).toEqual(states(byName.panes));
    // what the comparison covers: the wide model's panes tracked their cap of features and counted the rest
    const wide = [...byIndex.panes.values()].filter((m) => m.model === 'wide' && m.part === 'in');
    expect(wide.length).toBeGreaterThan(0);
    for (const message of wide) {
      const state = message.state as PaneInputWire;
      expect(Object.keys(state.features)).toHaveLength(DEFAULT_PANE_LIMITS.maxFeatures);
      expect(state.dropped).toBeGreaterThan(0);
    }
  });

  it('gives the same panes after a restore from a checkpoint mid-stream', () => {
    const messages = stream(900);
    const straight = feed(messages, false, null);
    for (const cut of [1, 400]) {
      const restored = feed(messages, false, cut);
      expect(states(restored.panes)).toEqual(states(straight.panes));
      expect(restored.processor.counters).toEqual(straight.processor.counters);
    }
  });
});
